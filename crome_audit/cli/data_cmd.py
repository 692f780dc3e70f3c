"""``crome-audit data``: the shortcut audit of a preference file (no model, no torch).

    crome-audit data pairs.jsonl --out reports/data
    crome-audit data runs/minilm-crome/.cache/pipeline/augment.v1.jsonl --out reports/synthetic   # the trainer's set

Prints a table (per surface feature: share of pairs whose chosen side has more / less of it, direction-free AUC
with a prompt-clustered 95% CI; then the shallow classifier's cross-validated AUC and top features) and writes
``OUT/data_audit.json`` and its HTML page ``OUT/report.html`` atomically. See docs/data-audit.md.
"""

from __future__ import annotations

import click

from .common import cli_errors


@click.command("data")
@click.argument("data_path", metavar="FILE")
@click.option("--out", "out_dir", required=True, help="Output folder for data_audit.json.")
@click.option("--split", default=None, help="Hub split to read (hub ids only).")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Use only the first N pairs.")
@click.option("--skip-invalid", is_flag=True, help="Skip rows that fail validation instead of stopping.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed of the bootstrap and the cross-validation folds.")
@click.option("--n-boot", type=click.IntRange(min=100), default=None,
              help="Bootstrap replicates (default 1000).")
@cli_errors
def data(data_path, out_dir, split, limit, skip_invalid, seed, n_boot):
    """Shortcut audit of preference data: how well surface features predict the preferred side."""
    from ..api import audit_data
    from ..data_audit import format_table

    result = audit_data(data_path, split=split, limit=limit, skip_invalid=skip_invalid, seed=seed, n_boot=n_boot,
                        out=out_dir)
    click.echo(format_table(result, title=f"data audit of {result['data'].get('path', data_path)}"))
    click.echo(f"written: {out_dir}/data_audit.json, {out_dir}/report.html")
