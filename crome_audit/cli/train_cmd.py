"""``crome-audit train`` (the whole pipeline) and its stages alone: ``rubrics``, ``augment``, ``filter``, ``eval``.

    crome-audit train --config train/tiny-crome.yaml --out runs/tiny-crome --set train.max_steps=50
    crome-audit augment --config train/tiny-crome.yaml --out runs/tiny-crome    # one stage
    accelerate launch --config_file train/accelerate/ddp.yaml -m crome_audit.train --config ...

Stages already done with the same config and inputs are skipped; an interrupted run resumes from the last
completed stage and the newest checkpoint. The output folder is the reward model (``crome-audit run --rm OUT``).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from .common import cli_errors, set_offline_if_requested


def _common(func):
    options = [
        click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False),
                     help="YAML recipe (see train/*.yaml)."),
        click.option("--out", "out_dir", default=None, help="Output folder = the trained RM (default: out_dir of the recipe, else runs/<recipe name>)."),
        click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
                     help="Override a recipe field, e.g. --set train.max_steps=50 (repeatable)."),
    ]
    for opt in reversed(options):
        func = opt(func)
    return func


def _pipeline(config_path, out_dir, overrides):
    from ..train.config import load_config
    from ..train.pipeline import Pipeline

    set_offline_if_requested()
    cfg = load_config(config_path, list(overrides))
    out = out_dir or cfg.out_dir or str(Path("runs") / Path(config_path).stem)  # runs/ is git-ignored
    return Pipeline(cfg, out)


def _report(pipe, stage: str, manifest: dict) -> None:
    if not pipe.state.is_main_process:
        return
    status = "skipped (already done)" if manifest.get("skipped") else "done"
    counts = {k: v for k, v in manifest["counts"].items() if not isinstance(v, (dict, list))}
    click.echo(f"{stage}: {status} -> {manifest['artifact']}  {json.dumps(counts, default=str)}")


def _one_stage(stage: str, config_path, out_dir, overrides, force):
    pipe = _pipeline(config_path, out_dir, overrides)
    _report(pipe, stage, pipe.run_stage(stage, force=force))


@click.command("train")
@_common
@click.option("--until", type=click.Choice(["rubrics", "augment", "filter", "train", "eval"]), default="eval",
              show_default=True, help="Stop after this stage.")
@cli_errors
def train(config_path, out_dir, overrides, until):
    """Run the training pipeline: rubrics -> augment -> filter -> train -> eval (resumable)."""
    pipe = _pipeline(config_path, out_dir, overrides)
    for stage, manifest in pipe.run(until).items():
        _report(pipe, stage, manifest)
    if pipe.state.is_main_process and until in ("train", "eval"):
        click.echo(f"reward model: {pipe.out}  (score it: crome-audit run --rm {pipe.out})")


def _stage_command(stage: str, doc: str):
    """``crome-audit <stage>``: one pipeline stage alone."""

    @click.command(stage, help=doc)
    @_common
    @click.option("--force", is_flag=True, help="Redo the stage even if it is done.")
    @cli_errors
    def command(config_path, out_dir, overrides, force):
        _one_stage(stage, config_path, out_dir, overrides, force)

    return command


rubrics = _stage_command("rubrics", "Stage 1 alone: causal rubric (attributes) per training prompt.")
augment = _stage_command("augment", "Stage 2 alone: causal and neutral augmentations (or RRM pairs).")
filter_pairs = _stage_command("filter", "Stage 3 alone: keep the synthetic pairs a baseline RM is unsure of or gets wrong.")
evaluate = _stage_command(
    "eval", "Stage 5 alone: score the trained folder on the held-out split (accuracy, ties, spurious effects).")
