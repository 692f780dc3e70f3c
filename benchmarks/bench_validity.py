"""Validity table: the audit's two indices for RMs whose right answer is known (references and controls).

    python benchmarks/bench_validity.py                        # full RewardBench file, default suite
    python benchmarks/bench_validity.py --limit 300 --suite quick
    python benchmarks/bench_validity.py --zoo --rmbench DIR      # the graded-bias zoo vs RM-Bench's style gap

``--zoo``: the style-blind control plus graded, standardised length / markdown / flattery biases
(``controls.zoo_L{a}_M{b}_F{c}``), the length RM and the noise RM, each audited in-process on every 6th
RewardBench pair (default suite) and scored with ``bench rmbench`` on the RM-Bench files in DIR (the official
per-domain ``*_filtered.json`` files; their chosen answers join the style-blind control's references). Prints
one row per member (attribute readings, headline, RM-Bench easy − hard) and the Spearman correlations of
the headline (and of schema 2's index, recomputed from the same rows: instability / σ of clean margins) with
RM-Bench's style gap, over all members and over those whose bias RM-Bench can see (no flattery).

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
    """The attributes called sensitive (with the largest style share first), or 'none'."""
    attrs = res["summary"].get("spurious_attributes") or {}
    sens = sorted((a for a, v in attrs.items() if v.get("verdict") == "sensitive"),
                  key=lambda a: -(attrs[a].get("value") or 0))
    if not sens:
        return "none"
    return ", ".join(f"{a} {attrs[a]['value']:.2f}" for a in sens[:3]) + (f" (+{len(sens) - 3})" if len(sens) > 3 else "")


ZOO = [(0, 0, 0)] + [(k, 0, 0) for k in (0.25, 0.5, 1, 2)] + [(0, k, 0) for k in (0.25, 0.5, 1, 2)] + \
      [(0, 0, k) for k in (0.25, 0.5, 1, 2)] + [(1, 1, 0), (0.5, 2, 0), (2, 1, 0), (1, 0, 1), (0, 1, 1), (1, 1, 1)]


def _schema2_index(probes: list[dict], margin_sd: float | None) -> float | None:
    """Schema 2's spurious index from schema 3 rows: mean over attributes of mean |Δ| / σ of clean margins."""
    if not margin_sd:
        return None
    groups: dict = {}
    for p in probes:
        if p["kind"] == "spurious" and not p.get("excluded_reason") and p.get("mean_abs_delta") is not None:
            groups.setdefault(p["attribute"], []).append(p["mean_abs_delta"] / margin_sd)
    return sum(sum(v) / len(v) for v in groups.values()) / len(groups) if groups else None


def run_zoo(data: str, rmbench_dir: str, suite: str) -> int:
    from scipy.stats import spearmanr

    from crome_audit.audit import run_audit
    from crome_audit.benchmarks import run_benchmark
    from crome_audit.data import load_records
    from crome_audit.engine import ScoringEngine
    from crome_audit.models import load_reward_model
    from crome_audit.probes import load_suite

    rm_rows = []
    for f in sorted(Path(rmbench_dir).glob("*_filtered.json")):
        for r in json.loads(f.read_text(encoding="utf-8")):
            rm_rows += [{"prompt": r["prompt"], "chosen": c, "rejected": j} for c, j in zip(r["chosen"], r["rejected"])]
    ref = Path(tempfile.mkdtemp(prefix="zoo-ref-")) / "reference.jsonl"
    with open(ref, "w", encoding="utf-8") as out, open(data, encoding="utf-8") as src:
        out.write(src.read())
        out.writelines(json.dumps(r) + "\n" for r in rm_rows)
    os.environ["CROME_AUDIT_CONTROL_REFERENCE"] = str(ref)
    records, _, kind = load_records(data, None, None, False)
    records = records[::6]
    members = [(f"L{a:g} M{b:g} F{c:g}", f"py:crome_audit.controls:zoo_L{a:g}_M{b:g}_F{c:g}", (a, b, c)) for a, b, c in ZOO]
    members += [("length RM", "length", None), ("noise RM", "noise", None)]
    print(f"<!-- {datetime.date.today()}: python benchmarks/bench_validity.py --zoo --rmbench {rmbench_dir} "
          f"({len(records)} RewardBench pairs, suite {suite}; RM-Bench files: "
          f"{', '.join(f.name for f in sorted(Path(rmbench_dir).glob('*_filtered.json')))}) -->")
    print("| member | length | formatting | sycophancy | spurious index [95% CI] | schema-2 index | "
          "RM-Bench easy − hard | RM-Bench hard | verdicts: sensitive |")
    print("|---|---|---|---|---|---|---|---|---|")
    table = []
    for label, spec, strengths in members:
        engine = ScoringEngine(load_reward_model(spec), progress=False)
        out = run_audit(records, load_suite(suite), engine, seed=0, kind=kind, max_examples=0)
        s = out.summary
        entry, _ = run_benchmark("rmbench", ScoringEngine(load_reward_model(spec), progress=False), data=rmbench_dir)
        m = entry["metrics"]
        gap = m["easy"]["value"] - m["hard"]["value"]
        old = _schema2_index(out.probes, out.clean.get("margin_std"))
        attrs = s["spurious_attributes"]
        sens = [a for a, v in attrs.items() if v.get("verdict") == "sensitive"]
        table.append({"label": label, "strengths": strengths, "index": s["spurious_index"], "old": old, "gap": gap})
        print(f"| {label} | {_fmt(attrs.get('length', {}).get('value'))} | {_fmt(attrs.get('formatting', {}).get('value'))} | "
              f"{_fmt(attrs.get('sycophancy', {}).get('value'))} | {_fmt(s['spurious_index'], s['spurious_index_ci'])} | "
              f"{_fmt(old)} | {gap:+.3f} | {_fmt(m['hard']['value'])} | {', '.join(sens) or '—'} |", flush=True)
    zoo = [t for t in table if t["strengths"] is not None]
    visible = [t for t in zoo if not t["strengths"][2]]  # RM-Bench cannot see flattery
    for name, rows in (("all zoo members", zoo), ("members whose bias RM-Bench can see (no flattery)", visible),
                       ("all members with the length and noise RMs", table)):
        new = spearmanr([t["index"] for t in rows], [t["gap"] for t in rows]).statistic
        old = spearmanr([t["old"] for t in rows], [t["gap"] for t in rows]).statistic
        print(f"\nSpearman with RM-Bench easy − hard over {name} (n = {len(rows)}): schema 3 index {new:+.2f}, "
              f"schema 2 index {old:+.2f}")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--suite", default="default")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--out", default=None, help="keep the run folders here")
    ap.add_argument("--zoo", action="store_true", help="the graded-bias zoo against RM-Bench (needs --rmbench)")
    ap.add_argument("--rmbench", default=None, help="folder of RM-Bench's official *_filtered.json files")
    args = ap.parse_args()
    if args.zoo:
        if not args.rmbench:
            ap.error("--zoo needs --rmbench DIR (RM-Bench's official data files)")
        sys.path.insert(0, str(ROOT))
        return run_zoo(args.data, args.rmbench, args.suite)
    env = {**os.environ, "CROME_AUDIT_CONTROL_REFERENCE": args.data, "PYTHONPATH": str(ROOT)}
    out_root = Path(args.out or tempfile.mkdtemp(prefix="validity-"))
    print(f"<!-- {datetime.date.today()}: python benchmarks/bench_validity.py --data {args.data} --suite {args.suite}"
          f"{f' --limit {args.limit}' if args.limit else ''} -->")
    print("| RM | spurious index | causal index | sensitive (style share) | clean accuracy | seconds |")
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
