"""Statistics: the prompt/template bootstrap resamples the right unit, rates credit ties ½, Holm, Wilcoxon."""

import math

import numpy as np
import pytest

from crome_audit.stats import (
    Resampler,
    Units,
    cluster_wilcoxon_p,
    decision_change,
    holm,
    percentile_ci,
    tie_credit,
)


def test_ratio_is_the_mean_and_seeded():
    x = np.random.default_rng(0).normal(1.0, 1.0, size=200)
    rs = Resampler(200, seed=3)
    point, boot = rs.ratio(Units(x, np.arange(200)))
    assert point == pytest.approx(x.mean())
    _, boot2 = Resampler(200, seed=3).ratio(Units(x, np.arange(200)))
    assert np.array_equal(boot, boot2)
    lo, hi = percentile_ci(boot)
    assert lo < x.mean() < hi
    assert hi - lo == pytest.approx(2 * 1.96 * x.std() / math.sqrt(200), rel=0.2)


def test_clusters_not_texts_are_the_unit():
    # 40 prompts with 10 identical edits each: the information is 40 values, not 400
    rng = np.random.default_rng(1)
    per_prompt = rng.normal(0, 1, 40)
    x, c = np.repeat(per_prompt, 10), np.repeat(np.arange(40), 10)
    _, boot = Resampler(40, seed=0).ratio(Units(x, c))
    lo, hi = percentile_ci(boot)
    expected = 2 * 1.96 * per_prompt.std() / math.sqrt(40)
    assert hi - lo == pytest.approx(expected, rel=0.25)
    # treating the 400 texts as independent would give a CI about sqrt(10) times narrower
    _, naive = Resampler(400, seed=0).ratio(Units(x, np.arange(400)))
    assert (hi - lo) > 2.5 * (percentile_ci(naive)[1] - percentile_ci(naive)[0])


def test_templates_are_resampled_too():
    # 4 templates with clearly different effects and almost no prompt noise: a CI that resampled prompts only
    # would be tiny; resampling the templates shows that 4 openers are a sample, not the population
    rng = np.random.default_rng(2)
    n = 800
    t = rng.integers(0, 4, n)
    x = np.array([0.011, 0.017, 0.023, 0.029])[t] + rng.normal(0, 1e-4, n)
    rs = Resampler(n, seed=0)
    _, prompts_only = rs.ratio(Units(x, np.arange(n), t))
    _, both = rs.ratio(Units(x, np.arange(n), t), rs.template_weights("probe", 4))
    w_prompts = np.subtract(*percentile_ci(prompts_only)[::-1])
    w_both = np.subtract(*percentile_ci(both)[::-1])
    assert w_both > 5 * w_prompts
    assert w_both > 0.006  # of the order of the templates' spread


def test_large_data_is_blocked_with_bounded_memory():
    rs = Resampler(100_000, seed=0, n_boot=200)
    assert rs.n_blocks == 4096 and rs.weights.shape == (200, 4096)
    x = np.random.default_rng(0).normal(0, 1, 100_000)
    point, boot = rs.ratio(Units(x, np.arange(100_000)))
    lo, hi = percentile_ci(boot)
    assert hi - lo == pytest.approx(2 * 1.96 / math.sqrt(100_000), rel=0.25)


def test_tie_credit_and_decision_change():
    assert tie_credit([2, 1, 1], [1, 1, 2]).tolist() == [1.0, 0.5, 0.0]
    assert decision_change([1, 1, -1, 0, 0], [-2, 3, -1, 1, 0]).tolist() == [1.0, 0.0, 0.0, 0.5, 0.0]


def test_holm():
    assert holm([0.01, 0.04, None, 0.03]) == pytest.approx([0.03, 0.06, None, 0.06])
    assert holm([]) == []


def test_wilcoxon_on_prompt_means_keeps_zeros():
    # 95% exact zeros and a few positive changes: not "significant" once zeros count
    d = np.r_[np.zeros(190), np.full(10, 0.5)]
    assert cluster_wilcoxon_p(d, np.arange(200)) > 0.001
    assert cluster_wilcoxon_p(np.zeros(10), np.arange(10)) == 1.0
    assert cluster_wilcoxon_p(np.arange(1, 60), np.arange(59)) < 1e-6
