"""``crome-audit run``: the probe audit (and optional benchmarks) for one reward model.

    crome-audit run --rm length                                  # bundled sample, default suite
    crome-audit run --rm ./my-rm --data pairs.jsonl --suite quick --out reports/my-rm
    crome-audit run --rm org/rm --benchmarks rewardbench --bench-data rewardbench=filtered.jsonl

Writes OUT/results.json, OUT/samples.jsonl (every scored text with its reward) and OUT/report.html.
"""

from __future__ import annotations

import re
from pathlib import Path

import click

from .common import cli_errors, parse_batch_size, rm_config, rm_options


def _slug(spec: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", spec.strip("/").split("/")[-1] if "/" in spec else spec)[:60] or "rm"


def _key_values(values, option: str) -> dict:
    out = {}
    for v in values:
        if "=" not in v:
            raise click.BadParameter(f"expected KEY=VALUE, got '{v}'", param_hint=option)
        k, _, val = v.partition("=")
        out[k.strip()] = val
    return out


@click.command()
@rm_options
@click.option("--data", default=None, help="Pairs/responses: jsonl/json/csv/parquet file, folder, or hub dataset id "
                                            "(default: the bundled sample of 200 real pairs).")
@click.option("--split", default=None, help="Split for hub datasets (default: train).")
@click.option("--suite", default="default", show_default=True, help="Probe suite: built-in name or a YAML file.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Use only the first N records.")
@click.option("--skip-invalid", is_flag=True, help="Skip rows that fail validation (counted) instead of stopping.")
@click.option("--out", "out_dir", default=None, help="Output folder (default: reports/<rm name>).")
@click.option("--seed", type=int, default=None, help="Seed for probes and bootstrap (default: the suite's, else 0).")
@click.option("--benchmarks", default="", help="Comma-separated benchmarks to run too (rewardbench, rewordbench, ...).")
@click.option("--bench-data", multiple=True, help="NAME=PATH data for a benchmark (repeatable).")
@click.option("--bench-option", multiple=True, help="NAME.KEY=VALUE option for a benchmark (repeatable).")
@click.option("--max-examples", type=click.IntRange(min=0), default=50, show_default=True, help="Flipped examples kept per probe.")
@click.option("--no-report", is_flag=True, help="Skip report.html.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@cli_errors
def run(rm_spec, rm_args, batch_size, max_batch_tokens, max_length, truncation, template, device, dtype, trust_remote_code,
        cache_path, no_cache, data, split, suite, limit, skip_invalid, out_dir, seed, benchmarks, bench_data, bench_option,
        max_examples, no_report, quiet):
    """Audit a reward model with spurious and causal probes (and optional benchmarks)."""
    bench_names = [b.strip() for b in benchmarks.split(",") if b.strip()]
    bench_data = _key_values(bench_data, "--bench-data")
    bench_opts: dict[str, dict] = {}
    for key, val in _key_values(bench_option, "--bench-option").items():
        name, _, opt = key.partition(".")
        if not opt:
            raise click.BadParameter(f"expected NAME.KEY=VALUE, got '{key}={val}'", param_hint="--bench-option")
        bench_opts.setdefault(name, {})[opt] = val
    if bench_names:
        from ..benchmarks import get_benchmark

        for name in bench_names:
            get_benchmark(name)  # unknown names fail now, before any scoring
    from ..api import audit
    from ..models import parse_rm_args

    out = Path(out_dir or Path("reports") / _slug(rm_spec))
    opts = dict(rm_spec=rm_spec, rm_args=rm_args, batch_size=batch_size, max_batch_tokens=max_batch_tokens, max_length=max_length,
                truncation=truncation, template=template, device=device, dtype=dtype,
                trust_remote_code=trust_remote_code)
    size = parse_batch_size(batch_size)
    results = audit(rm_spec, data, split=split, suite=suite, limit=limit, skip_invalid=skip_invalid, seed=seed,
                    benchmarks=bench_names, bench_data=bench_data, bench_options=bench_opts, max_examples=max_examples,
                    out=out, report=not no_report, cache=False if no_cache else (cache_path or True), progress=not quiet,
                    rm_args=parse_rm_args(rm_args), config=rm_config(**opts), name=rm_spec, device=device, dtype=dtype,
                    max_length=max_length, truncation=truncation, template=template,
                    trust_remote_code=trust_remote_code, batch_size=None if size == "auto" else size,
                    max_batch_tokens=max_batch_tokens)
    path, seconds = out / "results.json", results["engine"]["seconds"]
    st = results["engine"]
    cached = " (all from cache: no forward passes)" if st["scored"] == 0 else ""
    click.echo(f"scored {st['unique']} unique texts: {st['scored']} new, {st['cache_hits']} from cache{cached}; "
               f"{seconds:.1f}s", err=True)
    from ..summary_text import summary_lines

    for line in summary_lines(results):
        click.echo(line)
    click.echo(f"wrote {path}" + ("" if no_report else f", {out / 'report.html'}"))


@click.command("probes")
@click.option("--suite", default=None, help="Show the probes of one suite.")
@cli_errors
def list_probes(suite):
    """List the built-in probes (or a suite's) with their attribute and kind."""
    from ..probes import PROBES, list_suites, load_suite

    probes = load_suite(suite).probes if suite else [PROBES.get(n)() for n in PROBES.names()]
    for p in probes:
        click.echo(f"{p.kind:<8} {p.attribute:<17} {p.name:<20} {p.description}")
    if not suite:
        click.echo(f"\nsuites: {', '.join(list_suites())}")
