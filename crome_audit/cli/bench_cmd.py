"""``crome-audit bench NAME``: run one public benchmark against a reward model.

    crome-audit bench rewardbench --rm ./my-rm --data filtered.jsonl --out runs/rb
    crome-audit bench rmbench --rm length --data total_dataset.json --out runs/rmb
    crome-audit bench rewardbench --rm length --option subsets=mt-bench-easy,mt-bench-med --out runs/x

One subcommand per registered benchmark (``crome_audit.benchmarks.benchmark_names()``), built on the fly.
Benchmark-specific options go in as ``--option KEY=VALUE`` (repeatable; VALUE is read as a YAML scalar,
so ``3`` is an int and ``true`` a bool). Writes ``OUT/results.json`` (the shared results contract, with
``benchmarks: {NAME: entry}``) and ``OUT/samples.jsonl`` (one row per item), each atomically.
Exit codes: 0 ok, 2 bad input (file, row, option), 3 internal error.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import click

from .common import cli_errors, rm_config, rm_options

RM_KEYS = ("rm_spec", "batch_size", "max_batch_tokens", "max_length", "truncation", "template", "device", "dtype",
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
    """The command body: crome_audit.api.run_benchmark with the CLI's RM flags."""
    from ..api import run_benchmark
    from ..models import parse_rm_args
    from .common import parse_batch_size

    size = parse_batch_size(rm_kwargs.get("batch_size", "auto"))
    load = {k: rm_kwargs.get(k) for k in ("device", "dtype", "max_length", "truncation", "template",
                                         "trust_remote_code", "max_batch_tokens")}
    return run_benchmark(name, rm_kwargs["rm_spec"], data, split=split, limit=limit, seed=seed, options=options,
                         out=out, cache=False if rm_kwargs.get("no_cache") else (rm_kwargs.get("cache_path") or True),
                         progress=progress, rm_args=parse_rm_args(rm_kwargs.get("rm_args")),
                         config=rm_config(**rm_kwargs), batch_size=None if size == "auto" else size,
                         **{k: v for k, v in load.items() if v is not None})


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
    @click.option("--data", default=None,
                  help="Local file/folder or hub dataset id (default: the benchmark's env var, else its hub id).")
    @click.option("--split", default=None, help="Hub split (default: the benchmark's official split).")
    @click.option("--limit", type=click.IntRange(min=1), default=None, help="Keep the first N items (data order).")
    @click.option("--seed", type=int, default=0, show_default=True, help="Seed for benchmarks that sample.")
    @click.option("--option", "extra", multiple=True, metavar="KEY=VALUE",
                  help="Benchmark-specific option (repeatable), e.g. subsets=mt-bench-easy,mt-bench-med.")
    @click.option("--out", required=True, type=click.Path(file_okay=False), help="Output folder.")
    @click.option("--quiet", is_flag=True, help="No progress bar.")
    @cli_errors
    def command(data, split, limit, seed, extra, out, quiet, **rm_kwargs):
        options = parse_options(extra)
        results = run_bench(name, data, split, limit, seed, options, out, progress=not quiet, **rm_kwargs)
        for line in _summary_lines(name, results["benchmarks"][name]):
            click.echo(line)
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
