"""Statistics for the audit: effect sizes, bootstrap confidence intervals, Wilcoxon tests, flip rates.

All functions are deterministic given a seed and take plain lists / numpy arrays.
"""

from __future__ import annotations

import math

import numpy as np

N_BOOTSTRAP = 2000


def bootstrap_ci(values, seed: int = 0, n_boot: int = N_BOOTSTRAP, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return (math.nan, math.nan)
    if x.size == 1 or np.all(x == x[0]):
        return (float(x.mean()), float(x.mean()))
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(n_boot, x.size))].mean(axis=1)
    alpha = (1 - level) / 2
    return (float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha)))


def wilcoxon_p(deltas) -> float:
    """Two-sided Wilcoxon signed-rank p-value for 'median change is 0' (1.0 when every change is 0)."""
    from scipy.stats import wilcoxon

    x = np.asarray(deltas, dtype=float)
    x = x[x != 0]
    if x.size == 0:
        return 1.0
    if x.size < 2:
        return math.nan
    # exact null distribution for small samples without ties; the normal approximation otherwise
    # (scipy would fall back to a slow permutation test for small samples with ties)
    exact = x.size <= 25 and np.unique(np.abs(x)).size == x.size
    method = "exact" if exact else "asymptotic"
    return float(wilcoxon(x, zero_method="wilcox", alternative="two-sided", method=method).pvalue)


def flip_rate(orig_better, orig_worse, new_better_or_worse, perturbed: str) -> float:
    """Share of correctly ordered pairs whose order flips after the perturbation.

    ``perturbed='rejected'``: the rejected side was perturbed; flip = new rejected >= chosen.
    ``perturbed='chosen'``:   the chosen side was perturbed;   flip = new chosen <= rejected.
    Only pairs the RM ordered correctly before (chosen > rejected) count.
    """
    b, w, n = (np.asarray(v, dtype=float) for v in (orig_better, orig_worse, new_better_or_worse))
    correct = b > w
    if not correct.any():
        return math.nan
    flipped = (n >= b) if perturbed == "rejected" else (n <= w)
    return float(flipped[correct].mean())


def probe_statistics(deltas, reward_std: float, seed: int = 0) -> dict:
    """n, mean_delta, effect_size (= mean delta / clean reward std), 95% bootstrap CI of effect size, p-value."""
    x = np.asarray(deltas, dtype=float)
    if x.size == 0:
        return {"n": 0, "mean_delta": None, "effect_size": None, "ci_low": None, "ci_high": None, "p_value": None}
    scale = reward_std if reward_std > 0 else 1.0
    lo, hi = bootstrap_ci(x, seed=seed)
    return {"n": int(x.size), "mean_delta": float(x.mean()), "effect_size": float(x.mean() / scale),
            "ci_low": lo / scale, "ci_high": hi / scale, "p_value": wilcoxon_p(x)}


def summarize(probes: list[dict], only_heldout: bool = False) -> dict:
    """spurious_index = mean |effect| over spurious probes; causal_index = mean(-effect) over causal probes
    (degradations: a drop is the right direction, so higher is better)."""
    rows = [p for p in probes if p.get("effect_size") is not None and not (only_heldout and p.get("seen_in_training"))]
    spur = [abs(p["effect_size"]) for p in rows if p["kind"] == "spurious"]
    caus = [-p["effect_size"] for p in rows if p["kind"] == "causal"]
    return {"spurious_index": float(np.mean(spur)) if spur else None,
            "causal_index": float(np.mean(caus)) if caus else None,
            "n_spurious": len(spur), "n_causal": len(caus)}
