"""The leak of the offline Crome recipe's causal pairs, measured by the data audit on the real HH-RLHF harmless and
UltraFeedback files (issue 18, part 2): without neutral edits "was edited" decides every pair (edit-span AUC 1);
``augment.neutral_edits`` brings the edit-span feature to chance. The issue's target (shallow AUC <= 0.55 for each
family and the whole set) is not met yet on HH-RLHF (xfail, strict: it fails loudly once met).

    python -m pytest -q tests/test_data_audit_synthetic.py
"""

import pytest

from crome_audit.data import load_pairs
from crome_audit.data_audit import audit_pairs
from crome_audit.train.augment import augment_pairs
from crome_audit.train.config import AugmentConfig
from crome_audit.train.rubrics import build_rubrics

FILES = {"hh": "hh-rlhf/harmless-base-test.jsonl.gz", "uf": "ultrafeedback/train_1000.jsonl"}


def _synthetic(shared_data, name, neutral_edits, limit=800):
    pairs, _ = load_pairs(str(shared_data / FILES[name]), skip_invalid=True, limit=limit)
    cfg = AugmentConfig(max_causal_per_pair=2, neutral_ratio=0.5, style_tie_ratio=0.5, neutral_edits=neutral_edits)
    rubrics, _ = build_rubrics(pairs, cfg)
    return augment_pairs("crome", pairs, rubrics, cfg)[0]


@pytest.mark.parametrize("name", ["hh", "uf"])
def test_neutral_edits_take_the_edit_span_leak_to_chance(shared_data, name):
    before = audit_pairs(_synthetic(shared_data, name, False), n_boot=300, by_family=False)
    after = audit_pairs(_synthetic(shared_data, name, True), n_boot=300, by_family=False)
    print(name, "before", before["shallow"]["auc"], "after", after["shallow"]["auc"],
          after["shallow"]["top_features"])
    assert before["features"]["edit_span"]["auc"] == 1.0 and before["shallow"]["auc"] > 0.99
    assert after["features"]["edit_span"]["auc_ci"][0] <= 0.55  # chance is inside (or at the edge of) the CI
    assert after["shallow"]["auc"] < 0.7


@pytest.mark.xfail(strict=True, reason="issue 18 target not met on HH-RLHF: length (contraction expansion shortens "
                                       "the preferred side) and the safety family's refusal feature still leak")
@pytest.mark.parametrize("name", ["hh", "uf"])
def test_issue_18_target_shallow_auc_at_most_055_per_family_and_overall(shared_data, name):
    result = audit_pairs(_synthetic(shared_data, name, True), n_boot=300)
    assert result["shallow"]["auc"] <= 0.55
    for fam, block in result["families"].items():
        if "shallow" in block:
            assert block["shallow"]["auc"] <= 0.55, fam
