"""Generator throughput: the local backend's left-padded batches vs one sequence at a time, and the HTTP
backend's thread pool vs sequential requests against llama-cpp-python's server (same GGUF), on CPU.

    python benchmarks/bench_generate.py [--prompts 16] [--new-tokens 24] [--skip-http]

Both sides of each ratio generate the same greedy outputs (checked), with the cache off. Prints samples/s
and the ratio; record numbers in benchmarks/RESULTS.md under "Generators".
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crome_audit.generate import load_generator  # noqa: E402
from tests.generate_servers import ScriptedChatServer, start_llama_server  # noqa: E402
from tests.test_generate_local import smollm2_gguf  # noqa: E402


def prompts(n: int) -> list[str]:
    path = ROOT.parent / "shared" / "data" / "wildguardtest" / "wildguardtest_prompts_partial.json"
    rows = json.loads(path.read_text()) if path.is_file() else []
    texts = [r["text"] for r in rows[::max(1, len(rows) // n)]][:n]
    return texts or [f"Tell me a fact about the number {i}." for i in range(n)]


def timed(gen, convs, new_tokens):
    t = time.perf_counter()
    out = gen.generate(convs, max_new_tokens=new_tokens)
    return out, time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", type=int, default=16)
    ap.add_argument("--new-tokens", type=int, default=24)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--skip-http", action="store_true")
    ap.add_argument("--skip-local", action="store_true")
    ap.add_argument("--threads", type=int, default=None, help="torch threads for the local backend")
    args = ap.parse_args()
    gguf = smollm2_gguf()
    convs = prompts(args.prompts)

    if not args.skip_local:
        bench_local(gguf, convs, args)
    if not args.skip_http:
        bench_http(gguf, convs, args)
    bench_latency(args)


def bench_latency(args, latency=0.25, n=32):
    """A hosted API is latency-bound: a stdlib server answering every request after `latency` seconds."""
    with ScriptedChatServer(lambda body, i: (200, "ok", {}, latency)) as server:
        res = {}
        for c in (1, 8):
            gen = load_generator(f"openai:{server.base_url}#m", cache=False, progress=False, concurrency=c)
            _, res[c] = timed(gen, [f"q{i}" for i in range(n)], 8)
    print(f"latency-bound server ({latency}s per request, {n} requests): sequential {n / res[1]:.1f} req/s, "
          f"concurrency 8 {n / res[8]:.1f} req/s, ratio {res[1] / res[8]:.2f}x")


def bench_local(gguf, convs, args):
    n = len(convs)
    gen = load_generator(f"local:{gguf}", device="cpu", cache=False, progress=False, batch_size=1,
                         num_threads=args.threads)
    timed(gen, convs[:1], 4)  # warm-up
    one, t_one = timed(gen, convs, args.new_tokens)
    gen.config.batch_size = args.batch_size
    batched, t_batch = timed(gen, convs, args.new_tokens)
    print(f"local SmolLM2-135M (CPU, {args.threads or 'default'} threads, {n} prompts, {args.new_tokens} new tokens): one-by-one {n / t_one:.2f} "
          f"samples/s, batch {args.batch_size} {n / t_batch:.2f} samples/s, ratio {t_one / t_batch:.2f}x, "
          f"same outputs: {one == batched}")


def bench_http(gguf, convs, args):
    n = len(convs)
    proc, base = start_llama_server(gguf, os.devnull, n_threads=args.threads or 2)
    try:
        seq = load_generator(f"openai:{base}#smollm2", cache=False, progress=False, concurrency=1)
        timed(seq, convs[:1], 4)
        par = load_generator(f"openai:{base}#smollm2", cache=False, progress=False, concurrency=4)
        out_par, t_par = timed(par, convs, args.new_tokens)  # alternate the order to spread load noise
        out_seq, t_seq = timed(seq, convs, args.new_tokens)
        print(f"llama_cpp.server (CPU, same prompts): sequential {n / t_seq:.2f} samples/s, concurrency 4 "
              f"{n / t_par:.2f} samples/s, ratio {t_seq / t_par:.2f}x, same outputs: {out_seq == out_par}")
    finally:
        proc.terminate()
        proc.wait(timeout=15)


if __name__ == "__main__":
    main()
