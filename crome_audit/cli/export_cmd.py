"""``crome-audit export``: the report's tables (indices per run, probes x runs) as CSV or Markdown.

    crome-audit export reports/bt reports/crome --format md -o tables.md     # what the report's tables show
    crome-audit export reports/bt --format csv -o tables.csv                  # tidy rows, raw numbers

Reads results.json only (no model, no torch), through the same alignment the HTML report uses, so the
numbers are the report's. CSV is tidy: one row per (table, run, name, metric) with the raw ``value``,
its 95% CI (``ci_low``, ``ci_high``; empty when absent) and the report's ``text``; the length and noise
references are rows like any run. Markdown prints two tables (indices, probes), absent numbers as an em dash.
"""

from __future__ import annotations

import csv
import io

import click

from .common import cli_errors

# (results key, CI key or (low, high) keys, format): the probe table's columns
PROBE_METRICS = (
    ("n", None, "int"), ("n_clusters", None, "int"),
    ("effect_size", ("ci_low", "ci_high"), "signed"), ("instability", "instability_ci", "num"),
    ("hack_rate", "hack_rate_ci", "pct"), ("detection_rate", "detection_rate_ci", "pct"),
    ("p_value", None, "p"),
)
FIELDS = ["table", "run", "name", "kind", "metric", "value", "ci_low", "ci_high", "text"]


def _runs(cmp) -> list:
    """The compared runs, then the model-free references (length, noise) as the report lists them."""
    refs = getattr(cmp, "references", None) or {}
    return list(cmp.runs) + [r for r in refs.values() if r is not None]


def _interval(ci):
    from ..report.compare import num

    if isinstance(ci, (list, tuple)) and len(ci) == 2:
        return num(ci[0]), num(ci[1])
    return None, None


def _row(table, run, name, kind, metric, value, ci, fmt_kind) -> dict:
    from ..report.compare import num
    from ..report.tables import fmt, fmt_interval

    lo, hi = _interval(ci)
    value = num(value)
    interval = fmt_interval((lo, hi), fmt_kind) if value is not None and lo is not None and hi is not None else ""
    return {"table": table, "run": run.label, "name": name, "kind": kind, "metric": metric, "value": value,
            "ci_low": lo, "ci_high": hi, "text": (fmt(value, fmt_kind) + (f" {interval}" if interval else ""))}


def index_rows(cmp) -> list[dict]:
    """One row per (run, index/accuracy/benchmark column of the report's first table)."""
    from ..report.tables import verdict_columns

    rows = []
    cols = verdict_columns(cmp)
    for run in _runs(cmp):
        for col in cols:
            got = col["get"](run)
            value, ci = (got[0], got[1]) if isinstance(got, tuple) else (got, None)
            if run.is_reference and value is None:
                continue
            rows.append(_row("indices", run, col["group"], "", col["label"], value, ci, col["kind"]))
    return rows


def probe_rows(cmp) -> list[dict]:
    """One row per (probe, run, metric) of the report's probe table."""
    rows = []
    runs = [r for r in _runs(cmp) if r.probes]
    for name in cmp.shared_probes:
        kind = cmp.probe_meta[name].get("kind", "")
        for run in runs:
            p = run.probes.get(name) or {}
            for metric, ci_key, fmt_kind in PROBE_METRICS:
                if metric not in p:
                    continue
                ci = (p.get(ci_key[0]), p.get(ci_key[1])) if isinstance(ci_key, tuple) else p.get(ci_key)
                rows.append(_row("probes", run, name, kind, metric, p.get(metric), ci, fmt_kind))
    return rows


def to_csv(cmp) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in index_rows(cmp) + probe_rows(cmp):
        writer.writerow({k: ("" if v is None else repr(v) if isinstance(v, float) else v) for k, v in row.items()})
    return buf.getvalue()


def _md_cell(text) -> str:
    from ..safe_text import markdown_cell  # names come from results files: no HTML, no forged rows

    return markdown_cell(text)


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(_md_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_md_cell(c) for c in r) + " |" for r in rows]
    return lines


def _pivot(rows: list[dict], key, columns) -> list[list[str]]:
    cells: dict = {}
    order = []
    for r in rows:
        k = key(r)
        if k not in cells:
            cells[k] = {}
            order.append(k)
        cells[k][r["metric"] if columns is None else columns(r)] = r["text"]
    return [(k, cells[k]) for k in order]


def to_markdown(cmp) -> str:
    idx = index_rows(cmp)
    metrics = list(dict.fromkeys(r["metric"] for r in idx))
    lines = ["## Indices", ""]
    lines += _md_table(["run"] + metrics, [[k] + [c.get(m, "\u2014") for m in metrics]
                                           for k, c in _pivot(idx, lambda r: r["run"], None)])
    probes = probe_rows(cmp)
    if probes:
        runs = list(dict.fromkeys(r["run"] for r in probes))
        shown = ["n", "effect_size", "instability", "rate", "p_value"]
        header = ["probe", "kind"] + [f"{run} {m}" for run in runs for m in shown]
        body = []

        def column(r):  # spurious probes have a hack rate, causal ones a detection rate: one column
            return r["run"], "rate" if r["metric"] in ("hack_rate", "detection_rate") else r["metric"]

        for (name, kind), c in _pivot(probes, lambda r: (r["name"], r["kind"]), column):
            body.append([name, kind] + [c.get((run, m), "\u2014") for run in runs for m in shown])
        lines += ["", "## Probes (effect, instability: SDs of the clean pair margins; rate: hack rate for "
                  "spurious, detection rate for causal probes)", ""]
        lines += _md_table(header, body)
    return "\n".join(lines) + "\n"


@click.command("export")
@click.argument("runs", nargs=-1, required=True, metavar="RUN_DIR [RUN_DIR ...]")
@click.option("--format", "fmt", type=click.Choice(["csv", "md"]), required=True, help="csv (tidy rows) or md.")
@click.option("-o", "--out", "out_path", required=True, help="Output file (written atomically).")
@cli_errors
def export(runs, fmt, out_path):
    """Write the report's tables (indices and probes) of one or more runs as CSV or Markdown."""
    import os
    from pathlib import Path

    from ..outputs import check_output_file, refuse_overwriting_inputs
    from ..report.compare import align
    from ..results import read_results

    out = check_output_file(out_path)
    refuse_overwriting_inputs([out], [("run", Path(r) / "results.json" if Path(r).is_dir() else r) for r in runs], "-o")
    cmp = align([read_results(r) for r in runs])
    text = to_csv(cmp) if fmt == "csv" else to_markdown(cmp)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, out)
    except OSError as e:
        from ..errors import OutputError

        raise OutputError(f"-o {out}: cannot write: {e.strerror or e}") from None
    finally:
        if tmp.exists():
            tmp.unlink()
    click.echo(f"wrote {out} ({fmt}, {len(runs)} run{'s' if len(runs) != 1 else ''})")
