"""``crome-audit report``: render one self-contained HTML report comparing any number of runs.

    crome-audit report runs/length runs/base runs/crome -o report.html
    crome-audit report runs/a/results.json --title "nightly audit" -o nightly.html

Reads results.json only (never loads a model or torch).
"""

from __future__ import annotations

import click

from .common import cli_errors


@click.command("report")
@click.argument("runs", nargs=-1, required=True, metavar="RUN_DIR [RUN_DIR ...]")
@click.option("-o", "--out", "out_path", default="report.html", show_default=True,
              help="Output HTML file (written atomically).")
@click.option("--title", default=None, help="Report title (default: the RM names).")
@cli_errors
def report(runs, out_path, title):
    """Compare runs (folders holding results.json, or the files) side by side in one HTML file."""
    from pathlib import Path

    from ..errors import InputError
    from ..outputs import check_output_file, refuse_overwriting_inputs
    from ..report import render_report
    from ..results import read_results

    if Path(out_path).is_dir():
        raise InputError(f"{out_path}: is a folder; give -o a file name such as {Path(out_path) / 'report.html'}")
    refuse_overwriting_inputs([out_path], [("run", Path(r) / "results.json" if Path(r).is_dir() else r) for r in runs],
                              "-o")
    check_output_file(out_path, "-o")
    results = [read_results(r) for r in runs]
    path = render_report(results, out_path, title=title)
    size = path.stat().st_size
    click.echo(f"report: {path} ({size / 1e6:.1f} MB, {len(results)} run{'s' if len(results) != 1 else ''})")
    from ..report.compare import degenerate_of, display_name

    for res in results:  # the report flags them too; say it where the command ran
        reasons = degenerate_of(res)
        if reasons:
            name = display_name(str((res.get("rm") or {}).get("name") or "?"))
            click.echo(f"crome-audit: warning: {name} is flagged degenerate ({'; '.join(reasons)}): "
                       "not starred, not compared", err=True)
