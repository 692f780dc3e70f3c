"""``crome-audit export``: the report's tables (indices per run, probes x runs) as CSV or Markdown.

    crome-audit export reports/bt reports/crome --format md -o tables.md     # what the report's tables show
    crome-audit export reports/bt --format csv -o tables.csv                  # tidy rows, raw numbers

Reads results.json only (no model, no torch), through the same alignment the HTML report uses, so the
numbers are the report's. CSV is tidy: one row per (table, run, name, metric) with the raw ``value``
(empty when absent) and the report's ``text``; Markdown prints two tables (indices, probes), absent
numbers as an em dash.
"""

from __future__ import annotations

import csv
import io

import click

from .common import cli_errors

PROBE_METRICS = (("n", "int"), ("effect_size", "signed"), ("ci_low", "signed"), ("ci_high", "signed"),
                 ("flip_rate", "pct"), ("p_value", "p"))


def _index_rows(cmp) -> list[dict]:
    from ..report.tables import fmt, verdict_columns

    runs = list(cmp.runs) + ([cmp.reference] if cmp.reference is not None else [])
    rows = []
    for run in runs:
        for col in verdict_columns(cmp):
            value = col["get"](run)
            rows.append({"table": "indices", "run": run.label, "name": col["group"], "kind": "",
                         "metric": col["label"], "value": value, "text": fmt(value, col["kind"])})
    return rows


def _probe_rows(cmp) -> list[dict]:
    from ..report.tables import fmt

    rows = []
    for name in cmp.shared_probes:
        meta = cmp.probe_meta[name]
        for run in cmp.probe_runs:
            p = run.probes[name]
            for metric, kind in PROBE_METRICS:
                rows.append({"table": "probes", "run": run.label, "name": name, "kind": meta.get("kind", ""),
                             "metric": metric, "value": p.get(metric), "text": fmt(p.get(metric), kind)})
    return rows


def to_csv(cmp) -> str:
    from ..report.compare import num

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=["table", "run", "name", "kind", "metric", "value", "text"],
                            lineterminator="\n")
    writer.writeheader()
    for row in _index_rows(cmp) + _probe_rows(cmp):
        value = num(row["value"])
        writer.writerow({**row, "value": "" if value is None else repr(value)})
    return buf.getvalue()


def _md_cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(_md_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_md_cell(c) for c in r) + " |" for r in rows]
    return lines


def to_markdown(cmp) -> str:
    from ..report.tables import probe_table, verdict_table

    verdict = verdict_table(cmp)
    header = ["run"] + [c["label"] for c in verdict["columns"]]
    rows = [[r["run"].label + (" (reference)" if r["reference"] else "")] + [c["text"] for c in r["cells"]]
            for r in verdict["rows"]]
    lines = ["## Indices", ""] + _md_table(header, rows)
    probes = probe_table(cmp)
    if probes["rows"]:
        header = ["probe", "kind", "attribute"] + [f"{r.label} effect [95% CI]" for r in probes["runs"]] + [
            f"{r.label} flip" for r in probes["runs"]]
        rows = []
        for row in probes["rows"]:
            effects = [f"{c['text']} {c.get('ci') or ''}".strip() for c in row["effects"]]
            rows.append([row["name"], row.get("kind", ""), row.get("attribute", "")] + effects
                        + [c["text"] for c in row["flips"]])
        lines += ["", "## Probes (effect size in SDs of the clean rewards)", ""] + _md_table(header, rows)
    return "\n".join(lines) + "\n"


@click.command("export")
@click.argument("runs", nargs=-1, required=True, metavar="RUN_DIR [RUN_DIR ...]")
@click.option("--format", "fmt", type=click.Choice(["csv", "md"]), required=True, help="csv (tidy rows) or md.")
@click.option("-o", "--out", "out_path", required=True, help="Output file (written atomically).")
@cli_errors
def export(runs, fmt, out_path):
    """Write the report's tables (indices and probes) of one or more runs as CSV or Markdown."""
    import os

    from ..outputs import check_output_file
    from ..report.compare import align
    from ..results import read_results

    out = check_output_file(out_path)
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
