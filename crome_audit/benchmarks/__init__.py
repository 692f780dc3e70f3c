"""Public benchmarks run through the scoring engine: RewardBench, reWordBench, WildGuardTest Best-of-N,
RM-Bench. Each registers a function in ``BENCHMARKS``:

    @BENCHMARKS.register("rewardbench")
    def run_rewardbench(engine, *, data=None, split=None, limit=None, seed=0, **options) -> tuple[dict, list[dict]]

returning ``(entry, samples)``: ``entry`` goes to ``results["benchmarks"][name]`` and must describe itself:
``metrics: {name: {value, ci, n, higher_is_better, label?}}`` with a headline ``metrics["score"]``
(:mod:`crome_audit.benchmarks.metrics`; the gate and the report read only that), plus ``score`` and any
benchmark-specific detail; ``samples`` are per-item rows for ``samples.jsonl`` (each with
``"benchmark": name``).

    from crome_audit.benchmarks import run_benchmark
    entry, samples = run_benchmark("rewardbench", engine, data="filtered.jsonl")
"""

from __future__ import annotations

import importlib

from ..registry import Registry

BENCHMARKS = Registry("benchmark")
MODULES = ("rewardbench", "rewordbench", "wildguard", "rmbench")


def _load_all() -> None:
    for name in MODULES:
        try:
            importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"{__name__}.{name}":
                raise


def get_benchmark(name: str):
    _load_all()
    return BENCHMARKS.get(name)


def benchmark_names() -> list[str]:
    _load_all()
    return BENCHMARKS.names()


def run_benchmark(name: str, engine, **options) -> tuple[dict, list[dict]]:
    entry, samples = get_benchmark(name)(engine, **options)
    if "score" not in entry:
        raise AssertionError(f"benchmark {name} returned no overall 'score'")
    metrics = entry.get("metrics")
    head = metrics.get("score") if isinstance(metrics, dict) else None
    same = head is not None and (head["value"] == entry["score"] or (
        None not in (head["value"], entry["score"]) and abs(head["value"] - entry["score"]) < 1e-9))
    if not same:  # a programming error in the benchmark, not bad input
        raise AssertionError(f"benchmark {name}: 'metrics' must hold the headline 'score' (equal to entry score)")
    return entry, samples
