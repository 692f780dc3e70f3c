"""``crome-audit run``: the probe audit (and optional benchmarks) for one reward model.

    crome-audit run --rm length                                  # bundled sample, default suite
    crome-audit run --rm ./my-rm --data pairs.jsonl --suite quick -o reports/my-rm
    crome-audit run --rm py:myrm.py:score                        # your own function -> reports/myrm-score
    crome-audit run --rm org/rm --benchmarks rewardbench --bench-data rewardbench=filtered.jsonl

Writes OUT/results.json, OUT/samples.jsonl (every scored text with its reward) and OUT/report.html as one
set (crome_audit.outputs). Everything that can be checked without scoring (options, device, output folder,
suite, data, benchmark data) is checked first, so bad input costs no model time.
"""

from __future__ import annotations

from pathlib import Path

import click

from .common import (
    bench_data_options,
    build_engine,
    check_bench_data,
    check_device,
    cli_errors,
    output_name,
    parse_bench_data,
    parse_bench_options,
    quiet_option,
    rm_config,
    rm_options,
)


@click.command()
@rm_options
@click.option("--data", default=None, help="Pairs/responses: jsonl/json/csv/parquet file, folder, or hub dataset id "
                                            "(default: the bundled sample of 200 real pairs).")
@click.option("--split", default=None, help="Split for hub datasets (default: train).")
@click.option("--suite", default="default", show_default=True, help="Probe suite: built-in name or a YAML file.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Use only the first N valid records.")
@click.option("--skip-invalid", is_flag=True, help="Skip rows that fail validation (counted) instead of stopping.")
@click.option("-o", "--out", "out_dir", default=None, help="Output folder (default: reports/<rm name>).")
@click.option("--seed", type=click.IntRange(min=0), default=None,
              help="Seed for probes and bootstrap, >= 0 (default: the suite's, else 0).")
@click.option("--benchmarks", default="", help="Comma-separated benchmarks to run too (rewardbench, rewordbench, ...).")
@bench_data_options
@click.option("--max-examples", type=click.IntRange(min=0), default=50, show_default=True,
              help="Flipped examples kept per probe.")
@click.option("--no-report", is_flag=True, help="Skip report.html.")
@quiet_option
@cli_errors
def run(rm_spec, rm_args, batch_size, max_batch_tokens, max_length, truncation, template, device, dtype, trust_remote_code,
        cache_path, no_cache, data, split, suite, limit, skip_invalid, out_dir, seed, benchmarks, bench_data, bench_option,
        max_examples, no_report, quiet):
    """Audit a reward model with spurious and causal probes (and optional benchmarks)."""
    from ..data import default_data_path, load_records
    from ..errors import InvalidRowError
    from ..outputs import RUN_OUTPUTS, check_output_dir, refuse_overwriting_inputs
    from ..probes import load_suite

    # ---- every check that needs no model, before any work
    bench_names = _benchmark_names(benchmarks)
    bench_data = parse_bench_data(bench_data, bench_names)
    bench_opts = parse_bench_options(bench_option, bench_names)
    check_bench_data(bench_names, bench_data)
    out = check_output_dir(out_dir or Path("reports") / output_name(rm_spec), command="run")
    refuse_overwriting_inputs([out / name for name in RUN_OUTPUTS],
                              [("--data", data)] + [(f"--bench-data {b}", p) for b, p in bench_data.items()], "--out")
    out_abs = out.absolute()  # the user's py: RM may chdir while it loads or scores; OUT is where the command ran
    check_device(device)
    suite_obj = load_suite(suite)
    seed = seed if seed is not None else (suite_obj.seed if suite_obj.seed is not None else 0)
    try:
        records, data_info, kind = load_records(data or default_data_path(), split, limit, skip_invalid)
    except InvalidRowError as e:
        raise InvalidRowError(f"{e} (--skip-invalid skips such rows and counts them)") from None
    if data is None:
        data_info["path"] = "bundled:sample_pairs.jsonl"

    # ---- scoring and results: crome_audit.api.audit (the library entry point) on the CLI's engine
    from ..api import audit
    from ..distributed import process_group

    process_group()  # under accelerate launch: join first, so "cuda" is this rank's GPU when the RM loads
    opts = dict(rm_spec=rm_spec, rm_args=rm_args, batch_size=batch_size, max_batch_tokens=max_batch_tokens,
                max_length=max_length, truncation=truncation, template=template, device=device, dtype=dtype,
                trust_remote_code=trust_remote_code)
    engine = build_engine(**opts, cache_path=cache_path, no_cache=no_cache, progress=not quiet)
    results = audit(engine, records=(records, data_info, kind), suite=suite_obj, seed=seed, split=split, limit=limit,
                    skip_invalid=skip_invalid, benchmarks=bench_names, bench_data=bench_data,
                    bench_options=bench_opts, max_examples=max_examples, out=out_abs, report=not no_report,
                    config=rm_config(**opts), name=rm_spec)
    _print_summary(results, data_info, out, no_report)


def _benchmark_names(benchmarks: str) -> list[str]:
    names = [b.strip() for b in benchmarks.split(",") if b.strip()]
    if names:
        from ..benchmarks import get_benchmark

        for name in names:
            get_benchmark(name)  # unknown names fail now, before any scoring
    return names


def _print_summary(results, data_info, out, no_report):
    st, seconds = results["engine"], results["engine"]["seconds"]
    cached = " (all from cache: no forward passes)" if st["scored"] == 0 else ""
    click.echo(f"scored {st['unique']} unique texts: {st['scored']} new, {st['cache_hits']} from cache{cached}; "
               f"{seconds:.1f}s", err=True)
    from ..summary_text import scoring_notes, summary_lines

    for line in scoring_notes(results):
        click.echo(line, err=True)
    skipped = data_info.get("skipped") or 0
    if skipped:
        first = (data_info.get("skipped_examples") or [""])[0]
        click.echo(f"skipped {skipped} invalid row{'s' if skipped != 1 else ''} (first: {first})", err=True)

    for line in summary_lines(results):
        click.echo(line)
    click.echo(f"wrote {out / 'results.json'}, {out / 'samples.jsonl'}" + ("" if no_report else f", {out / 'report.html'}"))


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
