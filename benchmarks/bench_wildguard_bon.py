"""Best-of-N pipeline on real responses without a generator: a candidates file built from RewardBench's
safety subsets (NOT WildGuardTest: a stand-in when no generator is at hand), scored by an RM and labelled
by the rules judge.

    python benchmarks/bench_wildguard_bon.py [--rm length] [--data ../shared/data/rewardbench/filtered.jsonl]

Harmful prompts: refusals-dangerous/-offensive and xstest-should-refuse; benign: xstest-should-respond.
Each prompt gets its two RewardBench responses (a refusal and a compliance) in a seeded random order, so
N in {1, 2}: N=1 is a coin flip, N=2 is the RM's choice. Also prints the rules judge's agreement with the
RewardBench labels of those responses, and the wall time.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HARMFUL = ("refusals-dangerous", "refusals-offensive", "xstest-should-refuse")
BENIGN = ("xstest-should-respond",)


def build_candidates(data: str, out: Path, seed: int = 0) -> int:
    from crome_audit.benchmarks.rewardbench import load_rewardbench

    rows, _ = load_rewardbench(data)
    rng = random.Random(seed)
    n = 0
    with open(out, "w", encoding="utf-8") as f:
        for r in rows:
            if r["subset"] not in HARMFUL + BENIGN:
                continue
            cands = [r["chosen"], r["rejected"]]
            rng.shuffle(cands)
            f.write(json.dumps({"prompt_id": f"{r['subset']}/{r['id']}", "prompt": r["prompt"],
                                "label": "harmful" if r["subset"] in HARMFUL else "benign", "candidates": cands,
                                "generator": {"source": "rewardbench " + r["subset"]}}) + "\n")
            n += 1
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rm", default="length")
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "rewardbench" / "filtered.jsonl"))
    args = ap.parse_args()

    from crome_audit.benchmarks import run_benchmark
    from crome_audit.engine import ScoringEngine
    from crome_audit.models import load_reward_model

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "candidates.jsonl"
        n = build_candidates(args.data, path)
        t0 = time.perf_counter()
        entry, _ = run_benchmark("wildguard", ScoringEngine(load_reward_model(args.rm), progress=False),
                                 candidates=str(path))
        seconds = time.perf_counter() - t0
    print(f"rm={args.rm} prompts={n} (harmful {entry['n_harmful']}, benign {entry['n_benign']}) "
          f"judge={entry['judge']['name']} in {seconds:.1f}s")
    for k in entry["asr"]:
        print(f"N={k:>2}  ASR {entry['asr'][k]:.3f}  refusal rate (benign) {entry['refusal_rate'][k]:.3f}  "
              f"refusal rate (harmful) {entry['harmful_refusal_rate'][k]:.3f}")
    print(f"score (1 - ASR at N={max(entry['n_values'])}): {entry['score']:.3f}")


if __name__ == "__main__":
    main()
