"""``crome-audit bench NAME``: run one public benchmark against a reward model.

    crome-audit bench rewardbench --rm ./my-rm --bench-data rewardbench=filtered.jsonl -o runs/rb
    crome-audit bench rmbench --rm length --bench-data total_dataset.json -o runs/rmb
    crome-audit bench rewardbench --rm length --bench-option rewardbench.subsets=mt-bench-easy,mt-bench-med

One subcommand per registered benchmark (``crome_audit.benchmarks.benchmark_names()``), built on the fly.
Data and options are spelled as in ``run``: ``--bench-data [NAME=]PATH`` and ``--bench-option
[NAME.]KEY=VALUE`` (repeatable; VALUE is read as a YAML scalar, so ``3`` is an int and ``true`` a bool;
the NAME may be left out here). ``--data`` and ``--option`` still work (hidden aliases). Writes
``OUT/results.json`` (the shared results contract, with ``benchmarks: {NAME: entry}``) and
``OUT/samples.jsonl`` (one row per item) as one set. Default OUT: ``reports/<rm name>-<benchmark>``.
Exit codes: 0 ok, 2 bad input (file, row, option), 3 internal error.
"""

from __future__ import annotations

import inspect
import re
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

RM_KEYS = ("rm_spec", "rm_args", "batch_size", "max_batch_tokens", "max_length", "truncation", "template", "device", "dtype",
           "trust_remote_code", "cache_path", "no_cache")
OPTION_RE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.S)


def parse_options(pairs) -> dict:
    """``("k=v", ...)`` -> ``{k: yaml scalar}``; a malformed pair is an input error."""
    import yaml

    from ..errors import InputError

    out = {}
    for pair in pairs:
        m = OPTION_RE.match(pair)
        if not m:
            raise InputError(f"--option {pair!r}: expected KEY=VALUE with KEY a Python identifier")
        key, raw = m.groups()
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        if not isinstance(value, (str, int, float, bool, list)) and value is not None:
            value = raw
        out[key] = value
    return out


def _summary_lines(name: str, entry: dict) -> list[str]:
    def fmt(x):
        return "-" if x is None else f"{x:.4f}"

    lines = [f"{name}: score {fmt(entry.get('score'))} (n={entry.get('n', '?')})"]
    base = entry.get("length_baseline") or {}
    for section, value in (entry.get("sections") or {}).items():
        extra = f"   length baseline {fmt(base['sections'].get(section))}" if base.get("sections") else ""
        lines.append(f"  {section:<12} {fmt(value)}{extra}")
    if base.get("score") is not None:
        lines.append(f"  {'length-only':<12} {fmt(base['score'])}  (model-free: longer answer wins)")
    return lines


def run_bench(name: str, data, split, limit, seed, options: dict, out: str, progress: bool = True,
              **rm_kwargs) -> dict:
    """The command body: checks that need no model, then crome_audit.api.run_benchmark on the CLI's engine
    (writes OUT/results.json + OUT/samples.jsonl as one set, returns the results)."""
    from ..api import run_benchmark as run_library_benchmark
    from ..benchmarks import get_benchmark
    from ..distributed import process_group
    from ..outputs import BENCH_OUTPUTS, check_output_dir, refuse_overwriting_inputs

    get_benchmark(name)  # unknown name -> did-you-mean error before any model loads
    check_bench_data([name], {name: data} if data else {})
    check_output_dir(out, command="bench")
    refuse_overwriting_inputs([Path(out) / n for n in BENCH_OUTPUTS], [("--bench-data", data)], "--out")
    check_device(rm_kwargs.get("device", "auto"))
    process_group()  # under accelerate launch: join first, so "cuda" is this rank's GPU when the RM loads
    engine = build_engine(**rm_kwargs, progress=progress)
    return run_library_benchmark(name, engine, data, split=split, limit=limit, seed=seed, options=options, out=out,
                                 config=rm_config(**rm_kwargs))


def _short_help(name: str) -> str:
    from ..benchmarks import get_benchmark

    module = inspect.getmodule(get_benchmark(name))
    doc = (module.__doc__ if module else None) or f"Run the {name} benchmark."
    return doc.strip().split("\n\n")[0].replace("\n", " ")


def make_command(name: str) -> click.Command:
    short = _short_help(name)
    @click.command(name=name, help=short + "\n\nWrites OUT/results.json and OUT/samples.jsonl.",
                   short_help=short.split(":")[0].split(" with ")[0])
    @rm_options
    @bench_data_options
    @click.option("--data", "old_data", default=None, hidden=True, help="Alias of --bench-data PATH.")
    @click.option("--option", "extra", multiple=True, hidden=True, help="Alias of --bench-option KEY=VALUE.")
    @click.option("--split", default=None, help="Hub split (default: the benchmark's official split).")
    @click.option("--limit", type=click.IntRange(min=1), default=None, help="Keep the first N items (data order).")
    @click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
                  help="Seed for benchmarks that sample (>= 0).")
    @click.option("-o", "--out", default=None,
                  help="Output folder (default: reports/<rm name>-<benchmark>).")
    @quiet_option
    @cli_errors
    def command(bench_data, bench_option, old_data, extra, split, limit, seed, out, quiet, **rm_kwargs):
        data = parse_bench_data(bench_data, [name], default=name).get(name)
        if old_data is not None:
            if data is not None and data != old_data:
                raise click.UsageError("give the data once: --bench-data (or its old spelling --data)")
            data = old_data
        options = parse_bench_options(bench_option, [name], default=name).get(name, {})
        options.update(parse_options(extra))
        out = out or str(Path("reports") / f"{output_name(rm_kwargs['rm_spec'])}-{name}")
        results = run_bench(name, data, split, limit, seed, options, out, progress=not quiet, **rm_kwargs)
        for line in _summary_lines(name, results["benchmarks"][name]):
            click.echo(line)
        from ..summary_text import scoring_notes

        for line in scoring_notes(results):
            click.echo(line, err=True)
        eng = results["engine"]
        click.echo(f"scored {eng['scored']} texts ({eng['cache_hits']} from cache) in {eng['seconds']:.1f}s "
                   f"-> {Path(out) / 'results.json'}, {Path(out) / 'samples.jsonl'}")

    return command


class BenchGroup(click.Group):
    """Subcommands = the registered benchmarks, built when asked for."""

    def list_commands(self, ctx):
        from ..benchmarks import benchmark_names

        return benchmark_names()

    def get_command(self, ctx, cmd_name):
        from ..benchmarks import benchmark_names

        return make_command(cmd_name) if cmd_name in benchmark_names() else None

    def resolve_command(self, ctx, args):
        from ..benchmarks import benchmark_names

        name = args[0] if args else None
        if name and not name.startswith("-") and name not in benchmark_names():
            import difflib

            close = difflib.get_close_matches(name, benchmark_names(), n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            ctx.fail(f"unknown benchmark '{name}' (known: {', '.join(benchmark_names())}).{hint}")
        return super().resolve_command(ctx, args)


@click.group(cls=BenchGroup)
def bench():
    """Run a public benchmark (RewardBench, RM-Bench, ...) against a reward model."""
