"""``crome-audit train`` (the whole pipeline) and its stages alone: ``rubrics``, ``augment``, ``filter``, ``eval``.

    crome-audit train --config tiny-crome --out runs/tiny-crome --set train.max_steps=50   # a built-in recipe
    crome-audit train --config train/tiny-crome.yaml --out runs/tiny-crome                  # or any recipe file
    crome-audit augment --config train/tiny-crome.yaml --out runs/tiny-crome    # one stage
    accelerate launch --config_file train/accelerate/ddp.yaml -m crome_audit.train --config ...

Stages already done with the same config and inputs are skipped; an interrupted run resumes from the last
completed stage and the newest checkpoint. The output folder is the reward model (``crome-audit run --rm OUT``).
Before the train stage, ``train`` prints the data audit of the pairs it is about to train on (crome_audit/
data_audit.py) and warns when surface features alone predict the label (``train.data_audit_warn_auc``).
At the end, ``train`` prints the held-out accuracy with its 95% CI and says when it is within chance.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import click

from .common import cli_errors, set_offline_if_requested


def _list_recipes(ctx, _param, value):
    if not value or ctx.resilient_parsing:
        return
    from ..train.config import builtin_recipes

    click.echo("\n".join(builtin_recipes()))
    ctx.exit(0)


def _common(func):
    options = [
        click.option("--config", "config_path", required=True,
                     help="YAML recipe file, or the name of a built-in recipe (tiny-crome, minilm-bt, ...; "
                          "see `crome-audit train --list-recipes`)."),
        click.option("--out", "out_dir", default=None, help="Output folder = the trained RM (default: out_dir of the recipe, else runs/<recipe name>)."),
        click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
                     help="Override a recipe field, e.g. --set train.max_steps=50 (repeatable)."),
        click.option("-q", "--quiet", is_flag=True, help="No progress bars (the same as --set train.progress=false)."),
    ]
    for opt in reversed(options):
        func = opt(func)
    return func


def _pipeline(config_path, out_dir, overrides, quiet=False):
    from ..train.config import load_config
    from ..train.pipeline import Pipeline

    set_offline_if_requested()
    cfg = load_config(config_path, list(overrides) + (["train.progress=false"] if quiet else []))
    stem = Path(config_path).name[:-5] if str(config_path).endswith(".yaml") else Path(config_path).name
    out = out_dir or cfg.out_dir or str(Path("runs") / stem)  # runs/ is git-ignored
    return Pipeline(cfg, out)


def _report(pipe, stage: str, manifest: dict) -> None:
    if not pipe.state.is_main_process:
        return
    status = "skipped (already done)" if manifest.get("skipped") else "done"
    counts = {k: v for k, v in manifest["counts"].items() if not isinstance(v, (dict, list))}
    click.echo(f"{stage}: {status} -> {manifest['artifact']}  {json.dumps(counts, default=str)}")


def _one_stage(stage: str, config_path, out_dir, overrides, quiet, force):
    pipe = _pipeline(config_path, out_dir, overrides, quiet)
    _report(pipe, stage, pipe.run_stage(stage, force=force))


def accuracy_line(metrics: dict | None) -> str | None:
    """``held-out accuracy 0.620 [0.48, 0.74] on 50 pairs``, and a warning when the CI covers chance (0.5)."""
    if not metrics or metrics.get("accuracy") is None or not metrics.get("n_pairs"):
        return None
    acc, n = float(metrics["accuracy"]), int(metrics["n_pairs"])
    z = 1.959964
    centre = (acc + z * z / (2 * n)) / (1 + z * z / n)  # Wilson score interval: right at 0/1 and small n
    half = z * math.sqrt(acc * (1 - acc) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    lo, hi = centre - half, centre + half
    verdict = "  -- within chance: this RM has not learned the task" if lo <= 0.5 else ""
    return f"held-out accuracy {acc:.3f} [95% CI {lo:.3f}, {hi:.3f}] on {n} pairs (chance 0.5){verdict}"


def data_audit_lines(pipe) -> list[str]:
    """The data audit of what the train stage is about to train on (originals + the filter stage's synthetic
    pairs): shallow-classifier lines, and a warning above ``train.data_audit_warn_auc``."""
    from ..data_audit import audit_pairs, shallow_line
    from ..train.pipeline import _read_jsonl

    train, _, _ = pipe.data()
    path = pipe.artifact("filter")
    synthetic = _read_jsonl(path) if path.is_file() else []
    originals = [{**p, "label": "pref"} for p in train]
    threshold = pipe.cfg.train.data_audit_warn_auc
    lines = []
    for label, records in (("data audit, training pairs", originals + synthetic),
                           ("data audit, synthetic pairs", synthetic)):
        if sum(r.get("label") != "tie" for r in records) < 2:
            continue
        result = audit_pairs(records, n_boot=200, by_family=False)
        lines.append(shallow_line(result, label))
        if result["shallow"]["auc"] > threshold:
            top = ", ".join(t["feature"] for t in result["shallow"]["top_features"][:3])
            lines.append(f"crome-audit: warning: {label.split(', ')[1]}: surface features alone predict the "
                         f"preferred side (shallow AUC {result['shallow']['auc']:.3f} > train.data_audit_warn_auc "
                         f"{threshold}; top: {top}); `crome-audit data` shows the details")
    return lines


def _heldout_metrics(pipe) -> dict | None:
    for path in (pipe.out / "eval.json", pipe.work / "trainer_eval.json"):
        if path.is_file():
            try:
                return json.loads(path.read_text(encoding="utf-8"))["metrics"]
            except (ValueError, KeyError, TypeError):
                continue
    return None


@click.command("train")
@_common
@click.option("--until", type=click.Choice(["rubrics", "augment", "filter", "train", "eval"]), default="eval",
              show_default=True, help="Stop after this stage.")
@click.option("--list-recipes", is_flag=True, is_eager=True, expose_value=False, callback=_list_recipes,
              help="List the built-in recipes and exit.")
@cli_errors
def train(config_path, out_dir, overrides, quiet, until):
    """Run the training pipeline: rubrics -> augment -> filter -> train -> eval (resumable)."""
    from ..train.pipeline import STAGES

    pipe = _pipeline(config_path, out_dir, overrides, quiet)
    manifests, audit = {}, []
    for stage in STAGES[: STAGES.index(until) + 1]:
        if stage == "train" and pipe.state.is_main_process:  # audited before training on it; shown once the
            audit = data_audit_lines(pipe)                     # stage ran (a failure stays one line)
        manifests[stage] = pipe.run_stage(stage)
    for line in audit:
        click.echo(line, err=line.startswith("crome-audit: warning"))
    for stage, manifest in manifests.items():
        _report(pipe, stage, manifest)
    if pipe.state.is_main_process and until in ("train", "eval"):
        line = accuracy_line(_heldout_metrics(pipe))
        if line:
            click.echo(line)
        click.echo(f"reward model: {pipe.out}  (score it: crome-audit run --rm {pipe.out})")


def _stage_command(stage: str, doc: str):
    """``crome-audit <stage>``: one pipeline stage alone."""

    @click.command(stage, help=doc)
    @_common
    @click.option("--force", is_flag=True, help="Redo the stage even if it is done.")
    @cli_errors
    def command(config_path, out_dir, overrides, quiet, force):
        _one_stage(stage, config_path, out_dir, overrides, quiet, force)

    return command


rubrics = _stage_command("rubrics", "Stage 1 alone: causal rubric (attributes) per training prompt.")
augment = _stage_command("augment", "Stage 2 alone: causal and neutral augmentations (or RRM pairs).")
filter_pairs = _stage_command("filter", "Stage 3 alone: keep the synthetic pairs a baseline RM is unsure of or gets wrong.")
evaluate = _stage_command(
    "eval", "Stage 5 alone: score the trained folder on the held-out split (accuracy, ties, spurious effects).")
