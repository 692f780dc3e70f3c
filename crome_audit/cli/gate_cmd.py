"""``crome-audit gate``: fail CI when a reward model is more hackable than allowed or than its baseline.

    crome-audit gate runs/new --baseline baseline.json --max-spurious-index 0.3 --junit gate.xml
    crome-audit gate runs/main --write-baseline baseline.json          # record a baseline (exit 0)

Exit codes: 0 pass (warnings allowed), 1 gate failed, 2 usage or input error, 3 internal error.
Noise-aware: a regression counts only outside the confidence intervals (see crome_audit/gate.py, docs/ci-gate.md).
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

import click

from ..errors import InputError
from .common import cli_errors


def _number(text, option: str, where: str | None = None) -> float:
    """A finite float, else one InputError line (exit 2): NaN or inf would switch a comparison off."""
    shown = where or text
    try:
        x = float(text)
    except (TypeError, ValueError):
        raise InputError(f"{option} {shown}: '{text}' is not a number") from None
    if not math.isfinite(x):
        raise InputError(f"{option} {shown}: '{text}' is not a finite number (NaN and inf are refused: they "
                         "would switch the check off)")
    return x


def _pairs(values, option: str) -> dict:
    out = {}
    for v in values:
        key, sep, num = v.rpartition("=")
        if not sep or not key.strip():
            raise InputError(f"{option} {v}: expected NAME=NUMBER")
        out[key.strip()] = _number(num.strip(), option, v)
    return out


def _tolerance(values) -> dict:
    from ..gate import TOLERANCE_KINDS

    tol = dict.fromkeys(TOLERANCE_KINDS, 0.0)
    for v in values:
        if "=" in v:
            for k, x in _pairs([v], "--tolerance").items():
                if k not in TOLERANCE_KINDS:
                    raise InputError(f"--tolerance {v}: unknown kind '{k}' (use {', '.join(TOLERANCE_KINDS)})")
                tol[k] = x
        else:
            tol = dict.fromkeys(TOLERANCE_KINDS, _number(v, "--tolerance"))
    if any(x < 0 for x in tol.values()):
        raise InputError("--tolerance: tolerances must be >= 0")
    return tol


@click.command("gate")
@click.argument("run_dir", metavar="RUN_DIR")
@click.option("--baseline", "baseline_path", default=None,
              help="Baseline JSON (from --write-baseline), or a baseline run's folder / results.json.")
@click.option("--max-spurious-index", default=None, metavar="X",
              help="Fail when the spurious index (mean instability) exceeds X beyond its CI.")
@click.option("--min-causal-index", default=None, metavar="X",
              help="Fail when the causal index (2·detection − 1) is below X beyond its CI.")
@click.option("--max-effect", multiple=True, metavar="ATTR=X",
              help="Max instability (style share I / (I + D)) of a spurious attribute (or one probe name). Repeatable.")
@click.option("--min-benchmark", multiple=True, metavar="NAME[.METRIC]=X",
              help="Minimum of a benchmark metric: rewardbench=0.6 (its score), 'rewardbench.Chat Hard=0.5'.")
@click.option("--max-benchmark", multiple=True, metavar="NAME[.METRIC]=X",
              help="Maximum of a benchmark metric: rewordbench.mean_drop=0.1.")
@click.option("--tolerance", multiple=True, metavar="X | KIND=X",
              help="Margin before a CI-separated change vs the baseline fails: one number for all, or "
                   "effect=X, index=X, benchmark=X. Default 0.")
@click.option("--fail-on-missing", is_flag=True, help="Fail when a baseline probe/benchmark is missing from the run.")
@click.option("--allow-degenerate", is_flag=True,
              help="Gate an RM flagged degenerate (constant, at chance, or within the noise reference) instead of "
                   "failing it.")
@click.option("--allow-inconclusive", is_flag=True,
              help="Warn instead of failing on attributes whose verdict is inconclusive (underpowered) and on a "
                   "missing index.")
@click.option("--junit", "junit_path", default=None, help="Write JUnit XML here (one test case per gated metric).")
@click.option("--write-baseline", "write_baseline_path", default=None,
              help="Record RUN_DIR as a baseline JSON at this path (then gate too if gates are given).")
@click.option("--github/--no-github", "github", default=None,
              help="Print ::error/::warning annotations (default: when $GITHUB_ACTIONS is 'true').")
@click.option("-q", "--quiet", is_flag=True, help="Print only failures, warnings and the verdict.")
@cli_errors
def gate(run_dir, baseline_path, max_spurious_index, min_causal_index, max_effect, min_benchmark,
         max_benchmark, tolerance, fail_on_missing, allow_degenerate, allow_inconclusive, junit_path, write_baseline_path, github,
         quiet):
    """Gate RUN_DIR (a run folder or results.json) on thresholds and/or a baseline; exit 1 on a regression."""
    from ..gate import GateConfig, degenerate_reasons, evaluate, load_baseline, write_baseline
    from ..gate_output import console_lines, github_annotations, junit_xml, markdown_summary
    from ..results import read_results

    config = GateConfig(max_spurious_index=None if max_spurious_index is None else
                        _number(max_spurious_index, "--max-spurious-index"),
                        min_causal_index=None if min_causal_index is None else
                        _number(min_causal_index, "--min-causal-index"),
                        max_effect=_pairs(max_effect, "--max-effect"),
                        min_benchmark=_pairs(min_benchmark, "--min-benchmark"),
                        max_benchmark=_pairs(max_benchmark, "--max-benchmark"),
                        tolerance=_tolerance(tolerance), fail_on_missing=fail_on_missing,
                        allow_degenerate=allow_degenerate, allow_inconclusive=allow_inconclusive)
    if junit_path and Path(junit_path).is_dir():
        raise InputError(f"--junit {junit_path}: is a folder; give a file name such as gate.xml")
    from ..outputs import refuse_overwriting_inputs

    inputs = [(label, Path(p) / "results.json" if Path(p).is_dir() else p)
              for label, p in (("RUN_DIR", run_dir), ("--baseline", baseline_path)) if p]
    refuse_overwriting_inputs([write_baseline_path] if write_baseline_path else [], inputs, "--write-baseline")
    refuse_overwriting_inputs([junit_path] if junit_path else [], inputs, "--junit")
    results = read_results(run_dir)
    if write_baseline_path:
        path = write_baseline(results, write_baseline_path)
        click.echo(f"baseline written: {path}")
        if degenerate_reasons(results):
            click.echo(f"crome-audit: warning: the baseline RM is flagged degenerate "
                       f"({'; '.join(degenerate_reasons(results))}); comparisons against it mean little", err=True)
        if baseline_path is None and not config.has_thresholds():
            return
    baseline = load_baseline(baseline_path) if baseline_path else None
    outcome = evaluate(results, config, baseline)

    if junit_path:
        tmp = Path(junit_path).with_name(f".{Path(junit_path).name}.tmp")
        try:
            tmp.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(junit_xml(outcome), encoding="utf-8")
            os.replace(tmp, junit_path)
        except OSError as e:
            raise InputError(f"--junit {junit_path}: cannot write: {e.strerror or e}") from None
    for line in console_lines(outcome):
        if quiet and line.startswith("PASS"):
            continue
        click.echo(line)
    if github is None:
        github = os.environ.get("GITHUB_ACTIONS") == "true"
    if github:
        for line in github_annotations(outcome):
            click.echo(line)
    summary_path = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary_path:  # a summary that cannot be written must not replace the verdict
        rm = results.get("rm") if isinstance(results.get("rm"), dict) else {}
        try:
            with open(summary_path, "a", encoding="utf-8") as f:
                f.write(markdown_summary(outcome, str(rm.get("name") or run_dir), baseline_path or ""))
        except OSError as e:
            click.echo(f"crome-audit: warning: GITHUB_STEP_SUMMARY {summary_path}: {e.strerror or e}", err=True)
    sys.exit(outcome.exit_code)
