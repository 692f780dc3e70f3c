"""Statistics: bootstrap CIs, Wilcoxon p-values, flip rates, the two summary indices."""

import math

import numpy as np
import pytest

from crome_audit.stats import bootstrap_ci, flip_rate, probe_statistics, summarize, wilcoxon_p


def test_bootstrap_ci_is_seeded_and_covers_the_mean():
    x = np.random.default_rng(0).normal(1.0, 1.0, size=200)
    a, b = bootstrap_ci(x, seed=3), bootstrap_ci(x, seed=3)
    assert a == b and a[0] < x.mean() < a[1]
    assert a[1] - a[0] == pytest.approx(2 * 1.96 / math.sqrt(200), rel=0.25)
    assert bootstrap_ci([2.0, 2.0, 2.0]) == (2.0, 2.0)


def test_wilcoxon():
    assert wilcoxon_p([0, 0, 0]) == 1.0
    assert wilcoxon_p(np.arange(1, 30)) < 1e-4
    noise = np.random.default_rng(1).normal(0, 1, 100)
    assert wilcoxon_p(noise) > 0.05


def test_flip_rate_counts_only_correct_pairs():
    chosen, rejected = [2.0, 2.0, 0.0, 3.0], [1.0, 1.0, 1.0, 1.0]
    # rejected side perturbed: pair 0 flips (new 2.5 >= 2), pair 1 does not, pair 2 was wrong already
    assert flip_rate(chosen, rejected, [2.5, 1.5, 9.0, 1.0], "rejected") == pytest.approx(1 / 3)
    # chosen side perturbed: flip when the new chosen <= rejected
    assert flip_rate(chosen, rejected, [0.5, 1.5, -5.0, 3.0], "chosen") == pytest.approx(1 / 3)
    assert math.isnan(flip_rate([0.0], [1.0], [5.0], "rejected"))


def test_probe_statistics_and_summary():
    st = probe_statistics([1.0, 1.2, 0.8, 1.1], reward_std=2.0)
    assert st["n"] == 4 and st["effect_size"] == pytest.approx(0.5125) and st["ci_low"] <= 0.5125 <= st["ci_high"]
    assert probe_statistics([], 1.0)["effect_size"] is None
    rows = [{"kind": "spurious", "effect_size": 0.4, "seen_in_training": False},
            {"kind": "spurious", "effect_size": -0.2, "seen_in_training": True},
            {"kind": "causal", "effect_size": -0.6, "seen_in_training": False},
            {"kind": "causal", "effect_size": None}]
    s = summarize(rows)
    assert s["spurious_index"] == pytest.approx(0.3) and s["causal_index"] == pytest.approx(0.6)
    assert summarize(rows, only_heldout=True)["spurious_index"] == pytest.approx(0.4)
