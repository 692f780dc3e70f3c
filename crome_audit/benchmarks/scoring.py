"""Pure scoring functions shared by the benchmarks (no torch, no I/O beyond the packaged manifest).

RewardBench v1 official scoring (rewardbench 0.1.4, ``calculate_scores_per_section``):

- a pair is correct iff ``reward(chosen) > reward(rejected)`` (strict: a tie is wrong);
- subset accuracy = mean over the subset's pairs;
- section score = mean of its subsets' accuracies weighted by the official ``EXAMPLE_COUNTS``
  (``math-prm`` counts 984 although it has 447 rows, so Reasoning = 1/2 math-prm + 1/2 mean(hep-*));
  only subsets present in the data take part (as in the official code), a section with none is ``None``;
- overall = unweighted mean of the sections that have a score (all four on the full set).

Scores are fractions in [0, 1] (the official CLI prints ``round(100 * x, 2)``).

    from crome_audit.benchmarks.scoring import section_scores, overall, score_pairs, rewardbench_metrics
    sections = section_scores({"alpacaeval-easy": 0.5, "math-prm": 0.3})   # {"Chat": 0.5, ..., "Reasoning": 0.3}
    overall(sections)                                                       # mean of the non-None sections
    rewardbench_metrics(subsets, prompts, correct, seed=0)   # {"score": metric, "Chat": metric, ...} with CIs

CIs (:mod:`crome_audit.benchmarks.metrics`): stratified cluster bootstrap, subsets as strata and distinct
prompts as clusters, so each replicate keeps every subset's official weight in its section.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources

import numpy as np

from .metrics import metric, nanmean_rows, stratified_bootstrap


def load_manifest(name: str) -> dict:
    """A packaged benchmark manifest (``crome_audit/benchmarks/manifests/<name>.json``)."""
    text = resources.files("crome_audit.benchmarks").joinpath("manifests", f"{name}.json").read_text("utf-8")
    return json.loads(text)


REWARDBENCH = load_manifest("rewardbench")
#: section -> its subsets, in the official order
SECTIONS: dict[str, list[str]] = REWARDBENCH["sections"]
#: subset -> official example count used as its weight inside its section
EXAMPLE_COUNTS: dict[str, int] = REWARDBENCH["example_counts"]
#: subset -> section
SUBSET_TO_SECTION: dict[str, str] = {s: sec for sec, subs in SECTIONS.items() for s in subs}


def is_correct(reward_chosen: float, reward_rejected: float) -> bool:
    """Official pair outcome: strictly greater; ties are wrong."""
    return reward_chosen > reward_rejected


def accuracy(correct: Iterable[bool]) -> float | None:
    values = [bool(c) for c in correct]
    return sum(values) / len(values) if values else None


def subset_accuracies(subsets: Sequence[str], correct: Sequence[bool]) -> dict[str, dict]:
    """``{subset: {"accuracy", "n", "n_correct"}}`` in first-seen order."""
    groups: dict[str, list[bool]] = {}
    for s, c in zip(subsets, correct, strict=True):
        groups.setdefault(s, []).append(bool(c))
    return {s: {"accuracy": sum(v) / len(v), "n": len(v), "n_correct": sum(v)} for s, v in groups.items()}


def _acc(value) -> float:
    return float(value["accuracy"] if isinstance(value, Mapping) else value)


def section_scores(subset_acc: Mapping, sections: Mapping[str, Sequence[str]] | None = None,
                   counts: Mapping[str, float] | None = None) -> dict[str, float | None]:
    """Count-weighted mean of subset accuracies per section.

    ``subset_acc`` maps subset -> accuracy (a float, or a dict with an ``accuracy`` key as returned by
    :func:`subset_accuracies`). Defaults: RewardBench's official sections and EXAMPLE_COUNTS. Subsets
    missing from ``subset_acc`` are skipped (official behaviour); a section with none present is None.
    """
    sections = SECTIONS if sections is None else sections
    counts = EXAMPLE_COUNTS if counts is None else counts
    out: dict[str, float | None] = {}
    for section, names in sections.items():
        total = weight = 0.0
        for name in names:
            if name in subset_acc and subset_acc[name] is not None:
                total += _acc(subset_acc[name]) * counts[name]
                weight += counts[name]
        out[section] = total / weight if weight else None
    return out


def overall(sections: Mapping[str, float | None]) -> float | None:
    """Unweighted mean of the section scores that exist (RewardBench's overall score)."""
    values = [v for v in sections.values() if v is not None]
    return sum(values) / len(values) if values else None


def score_pairs(subsets: Sequence[str], rewards_chosen: Sequence[float], rewards_rejected: Sequence[float],
                sections: Mapping[str, Sequence[str]] | None = None,
                counts: Mapping[str, float] | None = None) -> dict:
    """Full RewardBench-style summary of scored pairs: ``{score, sections, subsets, n, correct}``."""
    correct = [is_correct(c, r) for c, r in zip(rewards_chosen, rewards_rejected, strict=True)]
    subs = subset_accuracies(subsets, correct)
    secs = section_scores(subs, sections, counts)
    return {"score": overall(secs), "sections": secs, "subsets": subs, "n": len(correct), "correct": correct}


def prompt_key(prompt) -> str:
    """A hashable cluster label for a prompt (a string, or a message list)."""
    return prompt if isinstance(prompt, str) else json.dumps(prompt, sort_keys=True, ensure_ascii=False)


def section_arrays(subset_means: Mapping[str, np.ndarray], sections: Mapping[str, Sequence[str]] | None = None,
                   counts: Mapping[str, float] | None = None) -> dict[str, np.ndarray]:
    """:func:`section_scores` on arrays (one entry per bootstrap replicate); a section with no subset present
    is NaN. Used inside :func:`~crome_audit.benchmarks.metrics.stratified_bootstrap` statistics."""
    sections = SECTIONS if sections is None else sections
    counts = EXAMPLE_COUNTS if counts is None else counts
    out = {}
    for section, names in sections.items():
        present = [n for n in names if n in subset_means]
        if not present:
            out[section] = np.full(len(next(iter(subset_means.values()))), np.nan)
            continue
        weight = sum(counts[n] for n in present)
        out[section] = sum(np.asarray(subset_means[n], dtype=float) * counts[n] for n in present) / weight
    return out


def rewardbench_statistic(subset_means: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``{"score", section...}`` from subset accuracies (arrays): the official scoring, vectorised."""
    secs = section_arrays(subset_means)
    return {"score": nanmean_rows(list(secs.values())), **secs}


def rewardbench_metrics(subsets: Sequence[str], prompts: Sequence, correct: Sequence[bool], seed: int = 0,
                        label: str = "overall (mean of the four sections)") -> dict[str, dict]:
    """Self-describing metrics of scored RewardBench pairs: ``score`` (overall) and one per section present,
    each with its stratified cluster-bootstrap CI and its number of pairs."""
    strata: dict[str, tuple[list, list]] = {}
    for s, p, c in zip(subsets, prompts, correct, strict=True):
        vals, clus = strata.setdefault(s, ([], []))
        vals.append(float(c))
        clus.append(prompt_key(p))
    est, ci = stratified_bootstrap(strata, lambda m: rewardbench_statistic({k: v[:, 0] for k, v in m.items()}),
                                   seed=seed)
    n_section = {sec: sum(len(strata[s][0]) for s in names if s in strata) for sec, names in SECTIONS.items()}
    out = {"score": metric(est["score"], ci["score"], len(correct), True, label)}
    for sec in SECTIONS:
        if n_section[sec]:
            out[sec] = metric(est[sec], ci[sec], n_section[sec], True)
    return out
