"""Self-describing benchmark metrics: one record shape and one bootstrap shared by every benchmark.

Every benchmark entry carries ``metrics: {name: metric(...)}`` (docs/results.md, BENCHMARK); the gate and
the report read only that. A metric is ``{"value", "ci": [lo, hi] | None, "n", "higher_is_better"}`` plus an
optional ``label``.

    from crome_audit.benchmarks.metrics import metric, stratified_bootstrap
    est, ci = stratified_bootstrap({"a": (values_a, clusters_a), "b": (values_b, clusters_b)},
                                   lambda means: {"score": (means["a"][:, 0] + means["b"][:, 0]) / 2}, seed=0)
    metrics = {"score": metric(est["score"], ci["score"], n=len(values_a) + len(values_b), higher_is_better=True)}

CI method (all benchmarks): a percentile bootstrap, stratified and clustered. Items are grouped into strata
(RewardBench/reWordBench: subsets, because section scores are fixed-weight means of subset accuracies;
RM-Bench: domains; WildGuard: harmful vs benign prompts). Each replicate resamples, within every stratum
and with replacement, as many clusters (distinct prompts) as the stratum has, so all pairs of one prompt
move together and every stratum keeps its official weight; the statistic is then recomputed from the
strata's item means. Columns of one stratum share the draw, so paired quantities (original vs transformed
accuracy, hard vs easy) are resampled together and their differences get paired CIs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping, Sequence

import numpy as np

N_BOOTSTRAP = 2000
LEVEL = 0.95
CI_METHOD = ("percentile bootstrap, 2000 replicates, resampling prompts (clusters) with replacement within "
             "each stratum; 95% level")

#: {stratum: means} -> {metric name: values}; every array has one row per replicate
Statistic = Callable[[dict[str, np.ndarray]], Mapping[str, np.ndarray]]


def metric(value, ci, n, higher_is_better: bool, label: str | None = None) -> dict:
    """One metric record. ``value``/``ci`` may be None (undefined on this data); NaN becomes None."""
    def num(x):
        return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)

    value = num(value)
    lo_hi = None if ci is None or value is None else [num(ci[0]), num(ci[1])]
    if lo_hi is not None and None in lo_hi:
        lo_hi = None
    out = {"value": value, "ci": lo_hi, "n": int(n), "higher_is_better": bool(higher_is_better)}
    if label:
        out["label"] = label
    return out


def _cluster_table(values: np.ndarray, clusters: Sequence[Hashable]) -> tuple[np.ndarray, np.ndarray]:
    """Per-cluster column sums (C x k) and item counts (C,)."""
    index: dict[Hashable, int] = {}
    ids = np.fromiter((index.setdefault(c, len(index)) for c in clusters), dtype=np.int64, count=len(clusters))
    sums = np.zeros((len(index), values.shape[1]))
    np.add.at(sums, ids, values)
    return sums, np.bincount(ids, minlength=len(index)).astype(float)


def stratified_bootstrap(strata: Mapping[str, tuple[Sequence, Sequence[Hashable]]], statistic: Statistic, *,
                         seed: int = 0, n_boot: int = N_BOOTSTRAP, level: float = LEVEL
                         ) -> tuple[dict[str, float | None], dict[str, list[float] | None]]:
    """Point estimates and percentile CIs of ``statistic`` (see the module docstring).

    ``strata[name] = (values, clusters)``: ``values`` is one row per item (a number or a row of numbers),
    ``clusters`` one hashable label per item (items with the same label are resampled together).
    ``statistic`` gets ``{stratum: item means}`` with one row per replicate (shape (R, k)) and returns
    ``{metric: array of shape (R,)}``; it is called once on the data (R = 1) and once on all replicates.
    NaN marks an undefined value (estimate None); a CI is None when the estimate is undefined.
    """
    tables, point = {}, {}
    for name, (values, clusters) in strata.items():
        v = np.asarray(values, dtype=float)
        v = v.reshape(len(v), -1)
        if len(v) != len(clusters) or not len(v):
            raise ValueError(f"stratum {name!r}: {len(v)} values for {len(clusters)} cluster labels")
        tables[name] = _cluster_table(v, clusters)
        point[name] = v.mean(axis=0, keepdims=True)
    est = {k: _scalar(np.asarray(x)[0]) for k, x in statistic(point).items()}
    rng = np.random.default_rng(seed)
    reps = {}
    for name, (sums, counts) in tables.items():  # fixed stratum order: results do not depend on dict order
        c = len(counts)
        w = rng.multinomial(c, np.full(c, 1.0 / c), size=n_boot).astype(float)
        reps[name] = (w @ sums) / (w @ counts)[:, None]
    tail = (1 - level) / 2
    cis = {}
    for k, x in statistic(reps).items():
        x = np.asarray(x, dtype=float)
        x = x[~np.isnan(x)]
        cis[k] = None if est.get(k) is None or not x.size else [float(np.quantile(x, tail)),
                                                                 float(np.quantile(x, 1 - tail))]
    return est, cis


def _scalar(x) -> float | None:
    x = float(x)
    return None if math.isnan(x) else x


def nanmean_rows(columns: Sequence[np.ndarray]) -> np.ndarray:
    """Row-wise mean of the given (R,) arrays, ignoring NaN (a missing section); NaN when all are."""
    stack = np.vstack([np.asarray(c, dtype=float) for c in columns])
    ok = ~np.isnan(stack)
    total = np.where(ok, stack, 0.0).sum(axis=0)
    count = ok.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)
