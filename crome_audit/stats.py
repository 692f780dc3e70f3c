"""Statistics for the audit: invariant, null-referenced metrics with prompt- and template-clustered CIs.

    from crome_audit.stats import Units, Resampler
    rs = Resampler(cluster_ids, seed=0)          # one per audit: the prompts are the resampling unit
    point, boot = rs.ratio(Units(values, cluster_ids, t1), templates=[rs.template_weights("emoji", 8)])
    lo, hi = percentile_ci(boot)

Every statistic of the audit is a ratio of weighted sums over *units* (an edited response, a pair):
``Σ w_i x_i / Σ w_i``. A bootstrap replicate draws prompt weights (how often each prompt is resampled) and,
for template-based probes, template weights (how often each of the probe's fixed templates is resampled),
and ``w_i`` is the product of the weights of the unit's prompt and templates. All probes share the prompt
weights of a replicate, so one joint bootstrap gives every probe CI and both index CIs.

Above ``MAX_BLOCKS`` prompts, prompts are grouped at random (seeded) into that many blocks that are
resampled instead: with independent prompts this leaves the variance of a mean unchanged, and it bounds
time and memory (``n_boot × MAX_BLOCKS`` float64 weights, 66 MB) however large the data.

No torch here.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
from dataclasses import dataclass

import numpy as np

N_BOOTSTRAP = 2000
MAX_BLOCKS = 4096
MIN_CLUSTERS = 30  # fewer distinct prompts than this: a probe is shown but kept out of the indices
HACK_CHANCE = 1 / 3  # P(new rejected beats chosen | chosen > rejected) for independent continuous noise
DECISION_CHANCE = 0.5
DETECTION_CHANCE = 0.5


@dataclass
class Units:
    """The units of one statistic: value, prompt cluster and up to two template ids (-1 = none) each."""

    values: np.ndarray
    clusters: np.ndarray
    t1: np.ndarray | None = None
    t2: np.ndarray | None = None

    def __post_init__(self):
        self.values = np.asarray(self.values, dtype=float)
        self.clusters = np.asarray(self.clusters, dtype=np.int64)
        n = self.values.size
        self.t1 = np.full(n, -1, dtype=np.int64) if self.t1 is None else np.asarray(self.t1, dtype=np.int64)
        self.t2 = np.full(n, -1, dtype=np.int64) if self.t2 is None else np.asarray(self.t2, dtype=np.int64)

    @property
    def n(self) -> int:
        return int(self.values.size)

    def subset(self, mask) -> Units:
        mask = np.asarray(mask, dtype=bool)
        return Units(self.values[mask], self.clusters[mask], self.t1[mask], self.t2[mask])

    def with_values(self, values) -> Units:
        return Units(values, self.clusters, self.t1, self.t2)


def single_threaded_blas():
    """The bootstrap is many small matrix products: multi-threaded BLAS makes them 10-40x slower on a busy
    machine (measured on 2 shared cores), so they run on one thread."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency; stay correct without it
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def _stable_seed(*parts) -> int:
    return int.from_bytes(hashlib.sha256(":".join(map(str, parts)).encode()).digest()[:8], "big")


class Resampler:
    """Prompt-cluster bootstrap weights, shared by every statistic of one audit."""

    def __init__(self, n_clusters: int, seed: int = 0, n_boot: int = N_BOOTSTRAP, max_blocks: int = MAX_BLOCKS):
        self.n_clusters = int(n_clusters)
        self.seed = seed
        self.n_boot = n_boot
        rng = np.random.default_rng(_stable_seed("clusters", seed))
        if self.n_clusters > max_blocks:
            self.block_of = rng.permutation(self.n_clusters) % max_blocks
            self.n_blocks = max_blocks
        else:
            self.block_of = np.arange(self.n_clusters)
            self.n_blocks = max(self.n_clusters, 1)
        # multinomial resampling of blocks: each replicate draws n_blocks blocks with replacement
        self.weights = rng.multinomial(self.n_blocks, np.full(self.n_blocks, 1 / self.n_blocks),
                                       size=n_boot).astype(np.float64)

    def template_weights(self, key: str, n_templates: int) -> np.ndarray | None:
        """(n_boot, T) multinomial weights for one probe's T templates (seeded by the probe's name)."""
        if n_templates <= 1:
            return None
        rng = np.random.default_rng(_stable_seed("templates", self.seed, key))
        return rng.multinomial(n_templates, np.full(n_templates, 1 / n_templates), size=self.n_boot).astype(np.float64)

    def ratio(self, units: Units, templates: np.ndarray | None = None) -> tuple[float | None, np.ndarray]:
        """Point estimate and bootstrap replicates of the (weighted) mean of ``units.values``."""
        if units.n == 0:
            return None, np.full(self.n_boot, np.nan)
        point = float(units.values.mean())
        n_t = 0 if templates is None else templates.shape[1]
        t1 = np.where(units.t1 < 0, 0, units.t1 + 1) if n_t else np.zeros(units.n, dtype=np.int64)
        t2 = np.where(units.t2 < 0, 0, units.t2 + 1) if n_t else np.zeros(units.n, dtype=np.int64)
        width = n_t + 1
        blocks = self.block_of[units.clusters]
        # only the template combinations that occur get a column (a probe with 100 templates has 10,201
        # possible ones: 4096 x 10,201 cells were 330 MB a statistic); np.bincount adds each unit in order
        # into its (block, combination) cell, the same sums as np.add.at, 10-50x faster on millions of units
        used, col = np.unique(t1 * width + t2, return_inverse=True)
        k = used.size
        cell = blocks * k + col.reshape(-1)
        sums = np.bincount(cell, weights=units.values, minlength=self.n_blocks * k).reshape(self.n_blocks, k)
        counts = np.bincount(cell, minlength=self.n_blocks * k).astype(np.float64).reshape(self.n_blocks, k)
        ws = self.weights @ sums
        wn = self.weights @ counts
        if n_t:
            full = np.concatenate([np.ones((self.n_boot, 1)), templates], axis=1)
            tw = full[:, used // width] * full[:, used % width]
            ws, wn = ws * tw, wn * tw
        num, den = ws.sum(axis=1), wn.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            boot = np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)
        return point, boot


def percentile_ci(boot: np.ndarray, level: float = 0.95) -> list[float] | None:
    b = np.asarray(boot, dtype=float)
    b = b[np.isfinite(b)]
    if b.size == 0:
        return None
    alpha = (1 - level) / 2
    return [float(np.quantile(b, alpha)), float(np.quantile(b, 1 - alpha))]


def tie_credit(a, b) -> np.ndarray:
    """1 where a > b, 1/2 where a == b, 0 where a < b (ties count half: a blind RM scores 1/2)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return np.where(a > b, 1.0, np.where(a == b, 0.5, 0.0))


def decision_change(m_old, m_new) -> np.ndarray:
    """1 where a pair's order reverses, 1/2 where exactly one of the two orders is a tie, else 0."""
    s_old, s_new = np.sign(np.asarray(m_old, dtype=float)), np.sign(np.asarray(m_new, dtype=float))
    return np.where(s_old * s_new < 0, 1.0, np.where((s_old == 0) ^ (s_new == 0), 0.5, 0.0))


def weighted_sd(rs: Resampler, units: Units) -> tuple[float | None, np.ndarray]:
    """SD of ``units.values`` and its bootstrap replicates (same prompt weights)."""
    if units.n < 2:
        return None, np.full(rs.n_boot, np.nan)
    m1, b1 = rs.ratio(units)
    m2, b2 = rs.ratio(units.with_values(units.values ** 2))
    point = float(units.values.std(ddof=1))
    with np.errstate(invalid="ignore"):
        boot = np.sqrt(np.maximum(b2 - b1 ** 2, 0.0) * units.n / max(units.n - 1, 1))
    return point, boot


def cluster_wilcoxon_p(deltas, clusters) -> float | None:
    """Two-sided Wilcoxon signed-rank p of 'no change' on per-prompt mean deltas; zeros are kept (split), so
    a probe whose changes are mostly exact zeros is not called significant on its few non-zero ones."""
    from scipy.stats import wilcoxon

    d = np.asarray(deltas, dtype=float)
    if d.size == 0:
        return None
    c = np.unique(np.asarray(clusters), return_inverse=True)[1]
    means = np.bincount(c, weights=d) / np.bincount(c)
    if np.all(means == 0):
        return 1.0
    if means.size < 2:
        return None
    return float(wilcoxon(means, zero_method="zsplit", alternative="two-sided", method="asymptotic").pvalue)


def holm(pvalues: list[float | None]) -> list[float | None]:
    """Holm step-down adjustment (family-wise error) of the non-None p-values, in their original order."""
    idx = [i for i, p in enumerate(pvalues) if p is not None and math.isfinite(p)]
    order = sorted(idx, key=lambda i: pvalues[i])
    out: list[float | None] = list(pvalues)
    running = 0.0
    m = len(order)
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        out[i] = running
    return out


def mean_of(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(vals)) if vals else None
