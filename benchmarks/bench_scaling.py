"""How an audit grows with the data: wall time and peak RSS of `crome-audit run --rm length` (default suite)
on generated pairs, so linear vs super-linear growth is visible.

    python benchmarks/bench_scaling.py                      # 10k and 100k pairs
    python benchmarks/bench_scaling.py --sizes 10000,100000,1000000

Pairs are the bundled real sample repeated with a distinct prompt suffix per copy (so every pair is its own
prompt and nothing is deduplicated away). Each size runs in a fresh process; peak RSS is that process's.
"""

from __future__ import annotations

import argparse
import datetime
import json
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


def run_one(data: Path, out: Path, suite: str) -> tuple[float, float, int]:
    cmd = [sys.executable, "-c",
           "import resource, sys; sys.argv = ['crome-audit'] + sys.argv[1:]; "
           "from crome_audit.cli import main\n"
           "try:\n    main()\nexcept SystemExit as e:\n    code = e.code\nelse:\n    code = 0\n"
           "print('PEAK_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); sys.exit(code)",
           "run", "--rm", "length", "--data", str(data), "--suite", suite, "--out", str(out), "--no-cache",
           "--no-report", "--quiet"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    secs = time.perf_counter() - t0
    peak = next((int(line.split()[1]) for line in proc.stderr.splitlines() if line.startswith("PEAK_KB")), 0)
    return secs, peak / 1024, proc.returncode


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--suite", default="default")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"<!-- {datetime.date.today()}: python benchmarks/bench_scaling.py --sizes {args.sizes} --suite {args.suite} -->")
    print("| pairs | seconds | seconds per 1k pairs | peak RSS (MB) | exit |")
    print("|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            data = Path(tmp) / f"pairs-{n}.jsonl"
            write_pairs(data, n)
            secs, peak_mb, rc = run_one(data, Path(tmp) / f"out-{n}", args.suite)
            print(f"| {n:,} | {secs:.1f} | {1000 * secs / n:.2f} | {peak_mb:.0f} | {rc} |", flush=True)
            data.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
