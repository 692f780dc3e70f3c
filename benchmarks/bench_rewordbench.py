"""reWordBench on the full RewardBench file: wall time split into transformation and scoring, and the
per-transformation table for an RM (default: the model-free length baseline, the reference every RM is
read against).

    python benchmarks/bench_rewordbench.py [--rm length] [--data ../shared/data/rewardbench/filtered.jsonl]
        [--limit-per-subset K] [--transformations all]

Every number is on the 4-section basis of the RewardBench score (pairs a transformation does not change keep
their original outcome), so ``original - score == mean_drop``; drops carry their bootstrap CIs.

Peer for the transformation cost: scoring the untransformed set once (what RewardBench itself costs);
the printed ratio says how many RewardBench-equivalents of scoring a reWordBench run is.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rm", default="length")
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "rewardbench" / "filtered.jsonl"))
    ap.add_argument("--limit-per-subset", type=int, default=None)
    ap.add_argument("--transformations", default="all")
    args = ap.parse_args()

    from crome_audit.benchmarks import run_benchmark
    from crome_audit.benchmarks.rewardbench import load_rewardbench
    from crome_audit.benchmarks.transforms import TRANSFORMATIONS, parse_names, transform_pair
    from crome_audit.engine import ScoringEngine
    from crome_audit.models import load_reward_model

    rows, _ = load_rewardbench(args.data)
    t0 = time.perf_counter()
    n_new = 0
    for name in parse_names(args.transformations):
        t = TRANSFORMATIONS.get(name)
        if not t.llm:
            n_new += sum(transform_pair(t, r, 0) is not None for r in rows)
    t_transform = time.perf_counter() - t0

    rm = load_reward_model(args.rm)
    t0 = time.perf_counter()
    run_benchmark("rewardbench", ScoringEngine(rm, progress=False), data=args.data)
    t_rb = time.perf_counter() - t0
    t0 = time.perf_counter()
    entry, samples = run_benchmark("rewordbench", ScoringEngine(rm, progress=False), data=args.data,
                                   transformations=args.transformations, limit_per_subset=args.limit_per_subset)
    t_rwb = time.perf_counter() - t0
    changed = sum(s["transformation"] is not None for s in samples)
    print(f"rm={args.rm} pairs={entry['n']} transformed pairs={changed} "
          f"(all transformations over all pairs: {n_new})")
    print(f"transformations alone: {t_transform:.1f}s ({n_new / t_transform:.0f} pairs/s); rewardbench run "
          f"{t_rb:.1f}s; rewordbench run {t_rwb:.1f}s; ratio rewordbench/rewardbench {t_rwb / t_rb:.1f}x")
    m = entry["metrics"]

    def ci(name):
        lo, hi = m[name]["ci"] or (float("nan"), float("nan"))
        return f"[{lo:+.5f}, {hi:+.5f}]"

    print(f"original score {entry['original_score']:.4f}  score (mean transformed) {entry['score']:.4f}  "
          f"mean drop {entry['mean_drop']:+.6f} {ci('mean_drop')}  original - score "
          f"{entry['original_score'] - entry['score']:+.6f}")
    print("all numbers on the 4-section basis (unchanged pairs keep their original outcome); flip = share of the "
          "changed pairs whose outcome flipped")
    print(f"{'transformation':<32}{'changed':>8}{'orig':>8}{'trans':>8}{'drop':>9}  {'95% CI':<22}{'flip':>7}")
    for name, res in entry["transformations"].items():
        o = res["overall"]
        print(f"{name:<32}{o['n_transformed']:>8}{o['original']:>8.3f}{o['transformed']:>8.3f}{o['drop']:>+9.5f}  "
              f"{ci('drop.' + name):<22}{o['flip_rate']:>7.3f}")
    for r in entry["not_run"]:
        print(f"not run: {r['name']}: {r['reason']}")


if __name__ == "__main__":
    main()
