"""How an audit grows with the data: wall time, CPU time and peak RSS of `crome-audit run --rm length`
(default suite, `--no-cache`) on generated pairs, so linear vs super-linear growth is visible.

    python benchmarks/bench_scaling.py                      # 10k and 100k pairs
    python benchmarks/bench_scaling.py --sizes 10000,100000,1000000

Pairs are the bundled real sample repeated with a distinct prompt suffix per copy (so every pair is its own
prompt and nothing is deduplicated away; ~970 bytes of text a pair). Each size runs in a fresh process; peak
RSS is that process's (load-independent), CPU seconds are its user + system time (less inflated than wall
time on a shared machine), and the 1-minute load average before and after each run is printed beside it.
`samples.jsonl` is ~10 KB a pair (10 GB at 1M): the output goes to a temporary folder, removed after each size.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def write_pairs(path: Path, n: int) -> None:
    sample = [json.loads(x) for x in (ROOT / "crome_audit" / "assets" / "sample_pairs.jsonl").read_text().splitlines()
              if x.strip()]
    with open(path, "w", encoding="utf-8") as f:
        for i in range(n):
            r = sample[i % len(sample)]
            prompt = r["prompt"] if isinstance(r["prompt"], str) else json.dumps(r["prompt"])
            f.write(json.dumps({"id": f"g{i}", "prompt": f"{prompt} (#{i})", "chosen": r["chosen"],
                                "rejected": r["rejected"]}) + "\n")


def run_one(data: Path, out: Path, suite: str) -> tuple[float, float, float, int]:
    cmd = [sys.executable, "-c",
           "import resource, sys; sys.argv = ['crome-audit'] + sys.argv[1:]; "
           "from crome_audit.cli import main\n"
           "try:\n    main()\nexcept SystemExit as e:\n    code = e.code\nelse:\n    code = 0\n"
           "u = resource.getrusage(resource.RUSAGE_SELF)\n"
           "print('PEAK_KB', u.ru_maxrss, u.ru_utime + u.ru_stime, file=sys.stderr); sys.exit(code)",
           "run", "--rm", "length", "--data", str(data), "--suite", suite, "--out", str(out), "--no-cache",
           "--no-report", "--quiet"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    secs = time.perf_counter() - t0
    peak, cpu = next(((int(line.split()[1]), float(line.split()[2])) for line in proc.stderr.splitlines()
                      if line.startswith("PEAK_KB")), (0, 0.0))
    if proc.returncode:
        print(proc.stderr[-2000:], file=sys.stderr)
    return secs, cpu, peak / 1024, proc.returncode


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--suite", default="default")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"<!-- {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC: python benchmarks/bench_scaling.py "
          f"--sizes {args.sizes} --suite {args.suite}; {os.cpu_count()} CPUs -->")
    print("| pairs | wall s | wall s per 1k pairs | CPU s | CPU s per 1k pairs | peak RSS (MB) | load before/after | exit |")
    print("|---:|---:|---:|---:|---:|---:|---|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            data = Path(tmp) / f"pairs-{n}.jsonl"
            write_pairs(data, n)
            load0 = os.getloadavg()[0]
            secs, cpu, peak_mb, rc = run_one(data, Path(tmp) / f"out-{n}", args.suite)
            load1 = os.getloadavg()[0]
            print(f"| {n:,} | {secs:.0f} | {1000 * secs / n:.2f} | {cpu:.0f} | {1000 * cpu / n:.2f} | {peak_mb:.0f} "
                  f"| {load0:.1f} / {load1:.1f} | {rc} |", flush=True)
            data.unlink()
            shutil.rmtree(Path(tmp) / f"out-{n}", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
