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
import time
from pathlib import Path

import click

from .common import build_engine, cli_errors, rm_config, rm_options

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
    """Library form of the command: score, write OUT/results.json + OUT/samples.jsonl, return results."""
    from ..benchmarks import get_benchmark, run_benchmark
    from ..data import write_jsonl_atomic
    from ..errors import InputError
    from ..results import new_results, write_results

    get_benchmark(name)  # unknown name -> did-you-mean error before any model loads
    if Path(out).exists() and not Path(out).is_dir():
        raise InputError(f"--out {out}: exists and is not a folder")
    engine = build_engine(**rm_kwargs, progress=progress)
    start = time.perf_counter()
    entry, samples = run_benchmark(name, engine, data=data, split=split, limit=limit, seed=seed, **options)
    seconds = time.perf_counter() - start
    info = entry.get("data") or {}
    rm = engine.rm
    results = new_results(
        rm={"name": rm.name, "fingerprint": rm.fingerprint, "info": rm.info()},
        data={"path": info.get("path", data), "sha256": info.get("sha256"), "n": info.get("n", len(samples))},
        config={"command": "bench", "benchmark": name, "data": data, "split": split, "limit": limit, "seed": seed,
                "options": options, **rm_config(**rm_kwargs)},
    )
    results["benchmarks"][name] = entry
    results["engine"] = {**engine.stats, "seconds": round(seconds, 3)}
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_jsonl_atomic(out_dir / "samples.jsonl", samples)
    write_results(out_dir, results)
    return results


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
