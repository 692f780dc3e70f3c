"""Time ``crome-audit demo`` stage by stage (target: <= 10 minutes wall time on 2 CPU cores, no GPU).

    python benchmarks/bench_demo.py                       # the README's demo as a newcomer runs it
    python benchmarks/bench_demo.py --model tiny --steps 5 --limit 20   # smoke run

Runs the demo in a subprocess (a fresh output folder and score cache, so nothing comes from an earlier run),
then prints the per-stage seconds from OUT/demo_timings.json, the machine's CPU count and its 1-minute load
average before and after (on a shared machine the wall time says little without them). Record results in
benchmarks/RESULTS.md with the command and date.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=None, help="Output folder (default: a fresh temporary one).")
    ap.add_argument("--model", default="minilm", choices=["minilm", "tiny"])
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--limit", type=int, default=None)
    args = ap.parse_args(argv)
    out = Path(args.out or tempfile.mkdtemp(prefix="bench-demo-"))
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "crome_audit", "demo", "--out", str(out), "--model", args.model, "--quiet"]
    if args.steps:
        cmd += ["--steps", str(args.steps)]
    if args.limit:
        cmd += ["--limit", str(args.limit)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CROME_AUDIT_CACHE": str(out / "cache.sqlite")}
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"demo failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    timing = json.loads((out / "demo_timings.json").read_text())
    print(f"command: {' '.join(cmd[1:])}")
    print(f"date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; cpus {os.cpu_count()}; "
          f"load avg (1 min) before {load0:.1f}, after {os.getloadavg()[0]:.1f}")
    for stage, sec in timing["seconds"].items():
        print(f"  {stage:<12} {sec:8.1f} s")
    print(f"  {'wall':<12} {wall:8.1f} s (process, incl. start-up)")
    print(proc.stdout)


if __name__ == "__main__":
    main()
