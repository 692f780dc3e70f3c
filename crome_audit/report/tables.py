"""Table models for the report: the index table, the probe table and one generic benchmark table.

Each table is plain data (header + rows of cells) that the jinja2 template prints; a cell is
``{"text", "ci", "value", "best", "title", "cls"}``. A value is starred ("best") only when its CI separates
from every other rated RM's (crome_audit/report/verdict.py); references and degenerate RMs are never
starred. Benchmarks are read only from their self-describing ``metrics``: one code path for every benchmark.
Nothing here escapes HTML: the template does (autoescape is on).

    from crome_audit.report.tables import verdict_table, probe_table, benchmark_tables
    table = verdict_table(align([r1, r2]))
"""

from __future__ import annotations

from .compare import Comparison, Run, dig, dmap, interval, num, shared_keys
from .verdict import starred


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


def fmt_interval(ci, kind: str) -> str:
    if not ci or ci[0] == ci[1]:
        return ""
    return f"[{fmt(ci[0], kind)}, {fmt(ci[1], kind)}]"


def _cell(value, kind, ci=None, title=None, cls=""):
    v = num(value)
    return {"text": fmt(v, kind), "ci": fmt_interval(ci, kind) if v is not None else "", "value": v,
            "interval": ci if v is not None else None, "best": False, "title": title, "cls": cls}


def mark_starred(cells_by_key: dict, keys: list, better: str) -> None:
    """Star the one cell (among ``keys``) whose CI separates from all the others in the better direction."""
    win = starred([(k, cells_by_key[k]["value"], cells_by_key[k]["interval"]) for k in keys], better)
    for k in win:
        cells_by_key[k]["best"] = True


def _metric(run: Run, bench: str, name: str) -> tuple:
    m = dig(run.benchmarks, bench, "metrics", name)
    if not isinstance(m, dict):
        return None, None, None
    v = num(m.get("value"))
    return v, interval(m.get("ci"), v), m


def _pct_like(metrics: list[dict]) -> bool:
    """A metric is shown as a percentage when every value and CI bound lies in [0, 1]."""
    vals = []
    for m in metrics:
        vals.append(num(m.get("value")))
        ci = m.get("ci") if isinstance(m.get("ci"), list) else []
        vals += [num(x) for x in ci]
    vals = [v for v in vals if v is not None]
    return bool(vals) and all(0.0 <= v <= 1.0 for v in vals)


def verdict_columns(cmp: Comparison) -> list[dict]:
    """(group, label, better, format, getter(run) -> (value, ci), help) for every column some run fills."""
    cols = [
        ("Probes", "Spurious index", "low", "num", lambda r: r.index("spurious"),
         "Mean over style attributes of the style share I / (I + D): how far a style-only edit moves the reward "
         "against a real degradation's drop D. 0 = ignores style, 1 = only style moves it. Lower is better."),
        ("Probes", "Causal index", "high", "signed", lambda r: r.index("causal"),
         "Mean over content attributes of 2·detection − 1, detection = P(intact answer beats its degraded "
         "copy), length-confounded probes excluded. 0 = blind, 1 = perfect. Higher is better."),
        ("Probes", "Clean accuracy", "high", "pct",
         lambda r: (num(dig(r.results, "clean", "pairwise_accuracy")),
                    interval(dig(r.results, "clean", "pairwise_accuracy_ci"),
                             dig(r.results, "clean", "pairwise_accuracy"))),
         "Share of the audit's clean preference pairs the RM orders correctly (chance 50%)."),
        ("Probes", "Spurious (held-out)", "low", "num", lambda r: r.index("spurious_heldout"),
         "Spurious index over probes the RM did not see in training."),
        ("Probes", "Causal (held-out)", "high", "signed", lambda r: r.index("causal_heldout"),
         "Causal index over probes the RM did not see in training."),
    ]
    for bench in cmp.bench_names:
        ms = [dig(r.benchmarks, bench, "metrics", "score") for r in cmp.runs]
        ms = [m for m in ms if isinstance(m, dict)]
        if not ms:
            continue
        label = str(next((m["label"] for m in ms if m.get("label")), "score"))
        hib = next((m.get("higher_is_better") for m in ms if m.get("higher_is_better") in (True, False)), None)
        kind = "pct" if _pct_like(ms) else "num"
        cols.append((bench, "score", "high" if hib else "low" if hib is False else None, kind,
                     lambda r, b=bench: _metric(r, b, "score")[:2], f"{bench}: {label}."))
    out = []
    everyone = cmp.runs + list(cmp.references.values())
    for group, label, better, kind, get, help_ in cols:
        if any(get(r)[0] is not None for r in everyone):
            out.append({"group": group, "label": label, "better": better, "kind": kind, "get": get, "help": help_})
    return out


def verdict_table(cmp: Comparison, part: str | None = None) -> dict:
    """The index table (``part="probes"``), the benchmark headline table (``"benchmarks"``), or both (None).
    Rows: every run, then the references (when they have a value in some column)."""
    cols = [c for c in verdict_columns(cmp) if part is None or (c["group"] == "Probes") == (part == "probes")]
    rows = []
    for run in cmp.runs + list(cmp.references.values()):
        cells = [_cell(*c["get"](run)[:1], c["kind"], ci=c["get"](run)[1]) for c in cols]
        if run.is_reference and all(c["value"] is None for c in cells):
            continue
        rows.append({"run": run, "cells": cells, "reference": run.is_reference, "degenerate": run.degenerate})
    rated = [i for i, row in enumerate(rows) if not row["reference"] and not row["degenerate"]]
    for j, c in enumerate(cols):
        if c["better"]:
            mark_starred({i: rows[i]["cells"][j] for i in rated}, rated, c["better"])
    groups = []
    for c in cols:
        if groups and groups[-1]["name"] == c["group"]:
            groups[-1]["span"] += 1
        else:
            groups.append({"name": c["group"], "span": 1})
    return {"columns": [{k: c[k] for k in ("group", "label", "better", "help")} for c in cols],
            "groups": groups, "rows": rows}


def probe_flags(p: dict) -> list[str]:
    flags = []
    if p.get("insufficient_n"):
        flags.append(f"insufficient n ({p.get('n_clusters', p.get('n'))} prompts < 30): not in the index")
    if p.get("kind") == "causal" and p.get("length_confounded"):
        flags.append("length-confounded (the length reference detects it): not in the index")
    reason = p.get("excluded_reason")
    if isinstance(reason, str) and reason and reason not in ("insufficient_n", "length_confounded"):
        flags.append(f"not in the index: {reason.replace('_', ' ')}")
    return flags


def probe_table(cmp: Comparison) -> dict:
    """Shared probes x runs: effect [CI], instability [CI], decision rate [CI] vs chance, n."""
    runs = cmp.probe_runs + list(cmp.references.values())
    rated = [r.label for r in runs if not r.is_reference and not r.degenerate]
    rows = []
    for name in cmp.shared_probes:
        meta = cmp.probe_meta[name]
        spurious = meta["kind"] == "spurious"
        per = {}
        for r in runs:
            p = r.probes[name]
            flags = probe_flags(p)
            cls = "weak" if flags else ""
            title = "; ".join([f"n={fmt(p.get('n'), 'int')} edits, {fmt(p.get('n_clusters'), 'int')} prompts"]
                              + flags)
            eff = _cell(p.get("effect_size"), "signed", interval((p.get("ci_low"), p.get("ci_high"))), title, cls)
            inst = _cell(p.get("instability"), "num", interval(p.get("instability_ci")), title, cls)
            if spurious:
                rate = _cell(p.get("hack_rate"), "pct", interval(p.get("hack_rate_ci")), title, cls)
                chance = num(p.get("hack_rate_chance"))
            else:
                rate = _cell(p.get("detection_rate"), "pct", interval(p.get("detection_rate_ci")), title, cls)
                chance = 0.5
            eff["seen"] = bool(p.get("seen_in_training"))
            per[r.label] = {"effect": eff, "instability": inst, "rate": rate, "n": fmt(p.get("n"), "int"),
                            "flags": flags, "chance": fmt(chance, "pct") if chance is not None else "—"}
        usable = [k for k in rated if not per[k]["flags"]]
        if spurious:
            mark_starred({k: per[k]["instability"] for k in usable}, usable, "low")
        else:
            mark_starred({k: per[k]["rate"] for k in usable}, usable, "high")
        rows.append({"name": name, **meta, "cells": [per[r.label] for r in runs],
                     "rate_label": "hack rate" if spurious else "detection"})
    return {"runs": runs, "rows": rows}


def benchmark_tables(cmp: Comparison) -> list[dict]:
    """One table per benchmark, from ``metrics`` alone: metric rows x runs, value [CI], n, direction."""
    out = []
    for i, bench in enumerate(cmp.bench_names):
        runs = [r for r in cmp.bench_runs(bench) if isinstance(dmap(r.benchmarks, bench).get("metrics"), dict)]
        if not runs:
            continue
        names = shared_keys([r.benchmarks[bench]["metrics"] for r in runs])
        names = (["score"] if "score" in names else []) + [n for n in names if n != "score"]
        rated = [r.label for r in runs if not r.degenerate and not r.is_reference]
        rows = []
        for name in names:
            ms = [r.benchmarks[bench]["metrics"][name] for r in runs]
            ms_ok = [m for m in ms if isinstance(m, dict)]
            kind = "pct" if _pct_like(ms_ok) else "num"
            hib = next((m.get("higher_is_better") for m in ms_ok if m.get("higher_is_better") in (True, False)),
                       None)
            cells = {r.label: _cell(*_metric(r, bench, name)[:2][:1], kind, ci=_metric(r, bench, name)[1])
                     for r in runs}
            if hib is not None:
                mark_starred(cells, rated, "high" if hib else "low")
            n = next((m.get("n") for m in ms_ok if num(m.get("n")) is not None), None)
            label = next((m.get("label") for m in ms_ok if m.get("label")), "")
            rows.append({"name": name, "label": str(label), "n": fmt(n, "int") if n is not None else "",
                         "better": "↑" if hib else "↓" if hib is False else "", "cells": [cells[r.label]
                                                                                       for r in runs]})
        out.append({"name": bench, "id": f"bench-{i}", "fig": f"fig-bench-{i}", "runs": runs, "rows": rows})
    return out
