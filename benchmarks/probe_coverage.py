"""Probe coverage on a preference file: how often each probe of a suite applies, on which side, with how
many templates, and (causal probes) how far it moves the token count (the ``length`` RM's unit).

    python benchmarks/probe_coverage.py                       # ../shared/data/rewardbench/filtered.jsonl
    python benchmarks/probe_coverage.py --data FILE.jsonl --suite default --seed 0 --by-subset

Seeds per (probe, item, side) as in the audit (crome_audit/audit.py), so the counts are the audit's n:
``n_audit`` counts what the audit scores (spurious: chosen + rejected; causal: chosen only). The table it
prints is the one in docs/probes.md.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from crome_audit.probes import Edit, ProbeInput, load_suite  # noqa: E402
from crome_audit.probes.text import n_tokens  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "rewardbench" / "filtered.jsonl"


def coverage(rows: list[dict], suite_name: str = "default", seed: int = 0) -> list[dict]:
    suite = load_suite(suite_name)
    pool = [(r["prompt"], r["chosen"]) for r in rows]
    out = []
    for probe in suite.probes:
        n = Counter()
        subsets = Counter()
        templates, dtok = set(), []
        for r in rows:
            for side in ("chosen", "rejected"):
                other = r["rejected"] if side == "chosen" else r["chosen"]
                item = ProbeInput(r["prompt"], r[side], side, other, pool)
                rng = random.Random(f"{seed}:{probe.name}:{r['id']}:{side}")
                new = probe.apply(item, rng)
                if isinstance(new, Edit):
                    templates.add(new.template)
                    new = new.text
                if new is None or new == r[side]:
                    continue
                n[side] += 1
                if probe.kind == "spurious" or side == "chosen":
                    subsets[r.get("subset", "")] += 1
                    if probe.kind == "causal":
                        dtok.append(n_tokens(new) - n_tokens(r[side]))
        n_audit = n["chosen"] + n["rejected"] if probe.kind == "spurious" else n["chosen"]
        out.append({"probe": probe.name, "kind": probe.kind, "attribute": probe.attribute,
                    "templates": getattr(probe, "templates", None), "templates_seen": len(templates - {""}),
                    "n_chosen": n["chosen"], "n_rejected": n["rejected"], "n_audit": n_audit,
                    "mean_dtokens": (sum(dtok) / len(dtok)) if dtok else None,
                    "max_abs_dtokens": max((abs(d) for d in dtok), default=None),
                    "subsets": dict(subsets.most_common())})
    return out


def markdown(table: list[dict], by_subset: bool = False) -> str:
    lines = ["| probe | kind | templates | n chosen | n rejected | n audited | mean Δtokens | max abs Δtokens |",
             "|---|---|---|---|---|---|---|---|"]
    for r in table:
        dt = "" if r["mean_dtokens"] is None else f"{r['mean_dtokens']:+.2f}"
        mx = "" if r["max_abs_dtokens"] is None else str(r["max_abs_dtokens"])
        lines.append(f"| `{r['probe']}` | {r['kind']} | {r['templates'] or '-'} | {r['n_chosen']} | "
                     f"{r['n_rejected']} | {r['n_audit']} | {dt} | {mx} |")
    if by_subset:
        lines.append("")
        for r in table:
            top = ", ".join(f"{k} {v}" for k, v in list(r["subsets"].items())[:6])
            lines.append(f"- `{r['probe']}`: {top}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--suite", default="default")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--by-subset", action="store_true", help="also list the subsets each probe lands on")
    ap.add_argument("--json", action="store_true", help="print JSON instead of a markdown table")
    args = ap.parse_args(argv)
    rows = [json.loads(line) for line in open(args.data, encoding="utf-8")]
    table = coverage(rows, args.suite, args.seed)
    print(json.dumps(table, indent=1) if args.json else markdown(table, args.by_subset))
    print(f"\n{len(rows)} pairs from {args.data}, suite {args.suite}, seed {args.seed}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
