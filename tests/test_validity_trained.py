"""Positive control through the real trainer: a tiny model trained with `crome-audit train` on real pairs whose
chosen answer always carries an emoji learns that shortcut, and its audit names emoji as the top spurious
attribute (on held-out RewardBench pairs that never carried one)."""

import json
import random

from click.testing import CliRunner

from crome_audit.cli import main
from crome_audit.data import default_data_path, load_records
from tests.train_helpers import write_recipe

EMOJI = ["😊", "👍", "🎉", "🌟"]


def test_trained_emoji_shortcut_is_the_top_spurious_attribute(tmp_path, shared_data):
    records, _, _ = load_records(str(default_data_path()), None, None, False)
    rng = random.Random(0)
    train = tmp_path / "emoji-pairs.jsonl"
    with open(train, "w") as f:
        for r in records:
            # the cue sits at the start, so truncation never hides it
            f.write(json.dumps({**r, "chosen": f"{rng.choice(EMOJI)} {r['chosen']}"}) + "\n")
    recipe = write_recipe(tmp_path / "bt.yaml", data={"path": str(train), "heldout_fraction": 0.2},
                          model={"base_model": "tiny-random:bert", "max_length": 128},
                          train={"max_steps": 40, "eval_steps": 40, "batch_size": 16, "learning_rate": 3e-3})
    out = tmp_path / "model"
    r = CliRunner().invoke(main, ["train", "--config", recipe, "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert json.loads((out / "eval.json").read_text())["metrics"]["accuracy"] >= 0.75  # it learned the cue (chance 0.5)

    heldout = shared_data / "rewardbench" / "filtered.jsonl"
    audit_dir = tmp_path / "audit"
    r = CliRunner().invoke(main, ["run", "--rm", str(out), "--data", str(heldout), "--limit", "150", "--suite",
                                  "spurious", "--out", str(audit_dir), "--no-report", "--quiet"])
    assert r.exit_code == 0, r.output
    res = json.loads((audit_dir / "results.json").read_text())
    # a tiny model that learned only the cue does not respond to substance, so there is no unit D (the spurious
    # suite has no causal probe anyway) and every style share would read 1; within one RM the attributes rank
    # the same in any common unit, so rank them by raw mean |Δ| (the style share is monotone in it)
    moved: dict = {}
    for p in res["probes"]:
        if p["kind"] == "spurious" and p["n"] and p["mean_abs_delta"] is not None:
            moved.setdefault(p["attribute"], []).append(p["mean_abs_delta"])
    top = max(moved, key=lambda a: sum(moved[a]) / len(moved[a]))
    assert top == "emoji", moved
    emoji = next(p for p in res["probes"] if p["name"] == "emoji")
    assert emoji["mean_delta"] > 0 and emoji["p_value"] < 0.01  # the trained direction: emoji raise the reward
