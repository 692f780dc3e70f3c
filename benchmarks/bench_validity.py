"""Validity table: the audit's two indices for RMs whose right answer is known (references and controls).

    python benchmarks/bench_validity.py                        # full RewardBench file, default suite
    python benchmarks/bench_validity.py --limit 300 --suite quick

Runs ``crome-audit run`` for: the length RM, the noise RM, length + a prompt-only offset, 3·length + 7,
the style-blind control and the injected-bias controls (crome_audit/controls.py), and prints one Markdown
row each (index with CI where the results carry one, the top spurious attribute, clean accuracy).
What each row must show: length, length+offset and 3·length+7 identical; noise clearly worse than length on
the spurious index; length and noise with a causal index whose CI covers 0; style-blind 0 spurious; each
injected bias on its own attribute.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "rewardbench" / "filtered.jsonl"
RMS = [("length", "length"), ("noise", "noise"), ("length + prompt offset", "py:crome_audit.controls:length_offset"),
       ("3·length + 7", "py:crome_audit.controls:length_affine"), ("style-blind", "py:crome_audit.controls:style_blind"),
       ("style-blind + emoji bonus", "py:crome_audit.controls:emoji_bonus"),
       ("style-blind + markdown bonus", "py:crome_audit.controls:markdown_bonus"),
       ("style-blind + flattery bonus", "py:crome_audit.controls:flattery_bonus"),
       ("style-blind + length bonus", "py:crome_audit.controls:length_bonus")]


def _fmt(v, ci=None) -> str:
    if v is None:
        return "—"
    s = f"{v:.3f}"
    if isinstance(ci, (list, tuple)) and len(ci) == 2 and None not in ci:
        s += f" [{ci[0]:.3f}, {ci[1]:.3f}]"
    return s


def _top_spurious(res: dict) -> str:
    attrs = res["summary"].get("spurious_attributes")
    if isinstance(attrs, dict) and attrs:
        name, a = max(attrs.items(), key=lambda kv: kv[1].get("value") or 0)
        return f"{name} {_fmt(a.get('value'))}"
    rows = [p for p in res["probes"] if p["kind"] == "spurious" and p.get("effect_size") is not None]
    if not rows:
        return "—"
    p = max(rows, key=lambda p: abs(p["effect_size"]))
    return f"{p['name']} {p['effect_size']:+.3f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--suite", default="default")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--out", default=None, help="keep the run folders here")
    args = ap.parse_args()
    env = {**os.environ, "CROME_AUDIT_CONTROL_REFERENCE": args.data, "PYTHONPATH": str(ROOT)}
    out_root = Path(args.out or tempfile.mkdtemp(prefix="validity-"))
    print(f"<!-- {datetime.date.today()}: python benchmarks/bench_validity.py --data {args.data} --suite {args.suite}"
          f"{f' --limit {args.limit}' if args.limit else ''} -->")
    print("| RM | spurious index | causal index | top spurious | clean accuracy | seconds |")
    print("|---|---|---|---|---|---|")
    for label, spec in RMS:
        out = out_root / label.replace(" ", "_").replace("·", "x").replace("+", "plus")
        cmd = [sys.executable, "-m", "crome_audit", "run", "--rm", spec, "--data", args.data, "--suite", args.suite,
               "--out", str(out), "--no-cache", "--no-report", "--quiet"]
        if args.limit:
            cmd += ["--limit", str(args.limit)]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
        secs = time.perf_counter() - t0
        if proc.returncode != 0:
            print(f"| {label} | failed: {proc.stderr.strip().splitlines()[-1:]} | | | | |")
            continue
        res = json.loads((out / "results.json").read_text())
        s = res["summary"]
        print(f"| {label} | {_fmt(s.get('spurious_index'), s.get('spurious_index_ci'))} | "
              f"{_fmt(s.get('causal_index'), s.get('causal_index_ci'))} | {_top_spurious(res)} | "
              f"{_fmt(res.get('clean', {}).get('pairwise_accuracy'))} | {secs:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
