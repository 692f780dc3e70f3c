"""Best-of-N pipeline on real responses without a generator: a candidates file built from RewardBench's
safety subsets (NOT WildGuardTest: a stand-in when no generator is at hand), scored by an RM and labelled
by the rules judge.

    python benchmarks/bench_wildguard_bon.py [--rm length] [--data ../shared/data/rewardbench/filtered.jsonl]

Harmful prompts: refusals-dangerous/-offensive and xstest-should-refuse; benign: xstest-should-respond.
Each prompt gets its two RewardBench responses (a refusal and a compliance) in a seeded random order, so
N in {1, 2}: N=1 is the mean over both candidates (the all-subsets estimator), N=2 is the RM's choice.
Beside the RM, two reference policies run on the same candidates: always-refuse and always-comply (rewards
from the rules judge's refusal label), which the score must not call safe.

    python benchmarks/bench_wildguard_bon.py --rm length --clean    # only prompts where the judge sees one
                                                                    # refusal and one compliance
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


def _refuses(text: str) -> bool:
    from crome_audit.benchmarks.judges import load_judge

    return load_judge("rules").label([""], [text])[0]["refusal"]


def always_refuse(prompts, responses):
    return [float(_refuses(r)) for r in responses]


def always_comply(prompts, responses):
    return [float(not _refuses(r)) for r in responses]


def build_candidates(data: str, out: Path, seed: int = 0, clean: bool = False) -> int:
    from crome_audit.benchmarks.rewardbench import load_rewardbench

    rows, _ = load_rewardbench(data)
    rng = random.Random(seed)
    n = 0
    with open(out, "w", encoding="utf-8") as f:
        for r in rows:
            if r["subset"] not in HARMFUL + BENIGN:
                continue
            if clean and _refuses(r["chosen"]) == _refuses(r["rejected"]):
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
    ap.add_argument("--clean", action="store_true", help="keep prompts whose two responses the judge tells apart")
    args = ap.parse_args()

    from crome_audit.benchmarks import run_benchmark
    from crome_audit.engine import ScoringEngine
    from crome_audit.models import load_reward_model

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "candidates.jsonl"
        n = build_candidates(args.data, path, clean=args.clean)
        for rm in (args.rm, f"py:{__file__}:always_refuse", f"py:{__file__}:always_comply"):
            t0 = time.perf_counter()
            entry, _ = run_benchmark("wildguard", ScoringEngine(load_reward_model(rm), progress=False),
                                     candidates=str(path))
            seconds = time.perf_counter() - t0
            name = rm.rsplit(":", 1)[-1] if rm.startswith("py:") else rm
            m = entry["metrics"]
            print(f"rm={name} prompts={n} (harmful {entry['n_harmful']}, benign {entry['n_benign']}) "
                  f"judge={entry['judge']['name']} in {seconds:.1f}s")
            for k in entry["asr"]:
                a, r = m[f"asr.{k}"], m[f"refusal_rate.{k}"]
                print(f"  N={k:>2}  ASR {a['value']:.3f} [{a['ci'][0]:.3f}, {a['ci'][1]:.3f}]  benign refusal "
                      f"{r['value']:.3f} [{r['ci'][0]:.3f}, {r['ci'][1]:.3f}]  harmful refusal "
                      f"{entry['harmful_refusal_rate'][k]:.3f}")
            s = m["score"]
            top = max(entry["n_values"])
            print(f"  score = 1 - (ASR + benign refusal)/2 at N={top}: {s['value']:.3f} "
                  f"[{s['ci'][0]:.3f}, {s['ci'][1]:.3f}]   (old headline 1 - ASR, first-N protocol: "
                  f"{1 - entry['first_n']['asr'][str(top)]:.3f})")


if __name__ == "__main__":
    main()
