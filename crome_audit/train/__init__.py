"""Crome trainer: causal rubrics -> causal + neutral augmentations -> baseline filter -> BT + tie loss.

    crome-audit train --config train/tiny-crome.yaml --out runs/tiny-crome
    python -m crome_audit.train --config ...            # the same, for `accelerate launch -m`

Modules: ``config`` (recipes), ``interventions`` (offline rule-based edits, families ``train.*``),
``rubrics``, ``augment``, ``filter`` (via ``pipeline``), ``losses``, ``trainer``, ``pipeline``,
``evaluation``, ``base_models``.
"""
