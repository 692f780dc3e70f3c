"""Table models for the report: the verdict table, the probe table and the benchmark tables.

Each table is plain data (header + rows of cells) that the jinja2 template prints; a cell is
``{"text", "best", "title", "cls"}``. "Best" marks the best value per column when two or more runs have one
(ties are all marked). Nothing here escapes HTML: the template does (autoescape is on).

    from crome_audit.report.tables import verdict_table
    table = verdict_table(align([r1, r2]))
"""

from __future__ import annotations

from .compare import RB_SECTIONS, Comparison, Run, accuracy, dig, largest_n, num, shared_keys, wild_value


def fmt(value, kind: str) -> str:
    v = num(value)
    if v is None:
        return "—"
    if kind == "pct":
        return f"{100 * v:.1f}%".replace("-0.0%", "0.0%")
    if kind == "signed":
        return f"{v:+.3f}".replace("-0.000", "+0.000")
    if kind == "p":
        return "<0.001" if v < 0.001 else f"{v:.3f}"
    if kind == "int":
        return f"{int(round(v)):,}"
    return f"{v:.3f}".replace("-0.000", "0.000")


def _cell(value, kind, title=None, cls=""):
    return {"text": fmt(value, kind), "value": num(value), "best": False, "title": title, "cls": cls}


def mark_best(rows: list[list[dict]], col: int, better: str) -> None:
    vals = [r[col]["value"] for r in rows if r[col].get("value") is not None]
    if len(vals) < 2 or better not in ("low", "high"):
        return
    best = min(vals) if better == "low" else max(vals)
    for r in rows:
        v = r[col].get("value")
        if v is not None and abs(v - best) <= 1e-12:
            r[col]["best"] = True


def _rb(run: Run, *keys):
    return dig(run.benchmarks, "rewardbench", *keys)


def verdict_columns(cmp: Comparison) -> list[dict]:
    """(group, label, better, format, getter(run), help) for every column some run can fill."""
    cols = [
        ("Probes", "Spurious index", "low", "num", lambda r: r.indices.get("spurious"),
         "Mean |effect size| over spurious probes: how much style moves the reward. Lower is better."),
        ("Probes", "Causal index", "high", "num", lambda r: r.indices.get("causal"),
         "Mean drop (in reward SDs) under causal degradations: how much content matters. Higher is better."),
        ("Probes", "Clean pair accuracy", "high", "pct", lambda r: dig(r.results, "clean", "pairwise_accuracy"),
         "Share of the audit's clean preference pairs the RM orders correctly (chosen > rejected)."),
        ("Probes", "Spurious (held-out)", "low", "num", lambda r: r.indices.get("spurious_heldout"),
         "Spurious index over probes the RM did not see in training."),
        ("Probes", "Causal (held-out)", "high", "num", lambda r: r.indices.get("causal_heldout"),
         "Causal index over probes the RM did not see in training."),
        ("RewardBench", "Overall", "high", "pct", lambda r: _rb(r, "score"),
         "Mean of the four section accuracies (official scoring)."),
    ]
    for sec in RB_SECTIONS:
        cols.append(("RewardBench", sec, "high", "pct", lambda r, s=sec: _rb(r, "sections", s),
                     f"RewardBench {sec} section accuracy."))
    cols.append(("reWordBench", "Mean drop", "low", "pct",
                 lambda r: dig(r.benchmarks, "rewordbench", "mean_drop"),
                 "Mean accuracy drop under meaning-preserving rewrites. Lower is better."))

    def wild(metric):
        def get(r):
            w = r.benchmarks.get("wildguard")
            return wild_value(w, metric, largest_n(w)) if isinstance(w, dict) else None
        return get

    ns = {largest_n(r.benchmarks["wildguard"]) for r in cmp.runs if isinstance(r.benchmarks.get("wildguard"), dict)}
    ns.discard(None)
    n_txt = f"N={next(iter(ns))}" if len(ns) == 1 else "largest N"
    cols.append(("WildGuard", f"ASR @ {n_txt}", "low", "pct", wild("asr"),
                 "Best-of-N attack success rate on harmful prompts at the largest N. Lower is better."))
    cols.append(("WildGuard", f"Refusal @ {n_txt}", "low", "pct", wild("refusal_rate"),
                 "Best-of-N refusal rate on benign prompts at the largest N. Lower is better."))
    for key, label in (("hard", "Hard"), ("normal", "Normal"), ("easy", "Easy")):
        cols.append(("RM-Bench", label, "high", "pct", lambda r, k=key: dig(r.benchmarks, "rmbench", k),
                     f"RM-Bench {label.lower()} accuracy (style-substance matrix)."))
    out = []
    for group, label, better, kind, get, help_ in cols:
        if any(num(get(r)) is not None for r in cmp.runs):
            out.append({"group": group, "label": label, "better": better, "kind": kind, "get": get,
                        "help": help_})
    return out


def verdict_table(cmp: Comparison) -> dict:
    cols = verdict_columns(cmp)
    rows = []
    for run in cmp.runs:
        rows.append([_cell(c["get"](run), c["kind"]) for c in cols])
    for i, c in enumerate(cols):
        mark_best(rows, i, c["better"])
    out_rows = [{"run": r, "cells": cells, "reference": False} for r, cells in zip(cmp.runs, rows)]
    if cmp.reference is not None:  # shown for orientation, never "best"
        out_rows.append({"run": cmp.reference, "cells": [_cell(c["get"](cmp.reference), c["kind"]) for c in cols],
                         "reference": True})
    groups = []
    for c in cols:
        if groups and groups[-1]["name"] == c["group"]:
            groups[-1]["span"] += 1
        else:
            groups.append({"name": c["group"], "span": 1})
    return {"columns": [{k: c[k] for k in ("group", "label", "better", "help")} for c in cols],
            "groups": groups, "rows": out_rows}


def probe_table(cmp: Comparison) -> dict:
    """Shared probes x runs: effect [CI], flip rate, n, p; best |effect| (spurious) / most negative (causal)."""
    runs = cmp.probe_runs
    rows = []
    for name in cmp.shared_probes:
        meta = cmp.probe_meta[name]
        eff, flips = [], []
        for r in runs:
            p = r.probes[name]
            lo, hi = num(p.get("ci_low")), num(p.get("ci_high"))
            ci = f"[{fmt(lo, 'signed')}, {fmt(hi, 'signed')}]" if lo is not None and hi is not None else ""
            title = (f"n={fmt(p.get('n'), 'int')}, mean Δ={fmt(p.get('mean_delta'), 'signed')}, "
                     f"p={fmt(p.get('p_value'), 'p')}")
            cell = _cell(p.get("effect_size"), "signed", title=title)
            cell["ci"] = ci
            cell["seen"] = bool(p.get("seen_in_training"))
            if meta["kind"] == "spurious" and cell["value"] is not None:
                cell["value"] = abs(cell["value"])
            eff.append(cell)
            flips.append(_cell(p.get("flip_rate"), "pct"))
        row = {"name": name, **meta, "effects": eff, "flips": flips}
        # best spurious = smallest |effect|; best causal = most negative effect (the reward drops most)
        mark_best([[c] for c in eff], 0, "low")
        mark_best([[c] for c in flips], 0, "low" if meta["kind"] == "spurious" else "high")
        rows.append(row)
    return {"runs": runs, "rows": rows}


def rewardbench_table(cmp: Comparison) -> dict | None:
    runs = cmp.bench_runs("rewardbench")
    if not runs:
        return None
    rbs = [r.benchmarks["rewardbench"] for r in runs]
    subsets = shared_keys([rb.get("subsets") for rb in rbs])
    base = next((rb["length_baseline"] for rb in rbs if isinstance(rb.get("length_baseline"), dict)), None)
    rows = []
    for name in subsets:
        cells = [_cell(accuracy(rb["subsets"][name]), "pct") for rb in rbs]
        mark_best([[c] for c in cells], 0, "high")
        n = dig(rbs[0], "subsets", name, "n")
        lb = accuracy(dig(base, "subsets", name)) if base else None
        section = dig(rbs[0], "subsets", name, "section")
        rows.append({"name": name, "n": fmt(n, "int") if n is not None else "", "cells": cells,
                     "baseline": _cell(lb, "pct"), "section": str(section) if section else ""})
    return {"runs": runs, "rows": rows, "has_baseline": base is not None,
            "has_sections": any(r["section"] for r in rows)}


def rmbench_table(cmp: Comparison) -> dict | None:
    runs = cmp.bench_runs("rmbench")
    if not runs:
        return None
    rms = [r.benchmarks["rmbench"] for r in runs]
    domains = shared_keys([rm.get("domains") for rm in rms])
    rows = []
    for d in domains:
        cells = [_cell(accuracy(rm["domains"][d]), "pct") for rm in rms]
        mark_best([[c] for c in cells], 0, "high")
        rows.append({"name": d, "cells": cells, "total": False})
    for key in ("hard", "normal", "easy", "score"):
        cells = [_cell(rm.get(key), "pct") for rm in rms]
        if any(c["value"] is not None for c in cells):
            mark_best([[c] for c in cells], 0, "high")
            rows.append({"name": "overall" if key == "score" else key, "cells": cells, "total": True})
    return {"runs": runs, "rows": rows}
