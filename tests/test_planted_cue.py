"""The planted-cue scripts of issue 18 part 3 (benchmarks/make_planted_cue.py, benchmarks/measure_planted_cue.py),
run as a user runs them, on the real UltraFeedback held-out pairs and the real `length` RM.

    python -m pytest -q tests/test_planted_cue.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UF_EVAL = ROOT.parent / "shared" / "data" / "ultrafeedback" / "eval_200.jsonl"
needs_uf = pytest.mark.skipif(not UF_EVAL.is_file(), reason="needs ../shared/data/ultrafeedback/eval_200.jsonl")


def script(name: str, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / name), *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@needs_uf
@pytest.mark.parametrize("cue", ["bullets", "signoff"])
def test_cue_is_planted_on_the_chosen_side_of_the_asked_share_only(tmp_path, cue):
    out = tmp_path / "planted.jsonl"
    done = script("make_planted_cue.py", UF_EVAL, out, "--cue", cue, "--rate", "0.3", "--seed", "3")
    assert done.returncode == 0, done.stderr
    clean, planted = rows(UF_EVAL), rows(out)
    assert [p["rejected"] for p in planted] == [p["rejected"] for p in clean]
    assert [p["prompt"] for p in planted] == [p["prompt"] for p in clean]
    changed = [i for i, (a, b) in enumerate(zip(clean, planted)) if a["chosen"] != b["chosen"]]
    assert len(changed) == round(0.3 * len(clean))
    marker = "\n- " if cue == "bullets" else "\nHope this helps."
    assert all(marker in planted[i]["chosen"] or planted[i]["chosen"].startswith("- ") for i in changed)
    again = tmp_path / "again.jsonl"
    assert script("make_planted_cue.py", UF_EVAL, again, "--cue", cue, "--rate", "0.3", "--seed", "3").returncode == 0
    assert again.read_text() == out.read_text()  # seeded


@needs_uf
def test_bad_input_is_one_line_exit_2_and_nothing_overwritten(tmp_path):
    out = tmp_path / "planted.jsonl"
    out.write_text("keep me\n")
    done = script("make_planted_cue.py", UF_EVAL, out, "--cue", "bullets", "--rate", "0.5")
    assert done.returncode == 2 and "already exists" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert out.read_text() == "keep me\n"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "p", "chosen": "a"}\n')
    done = script("make_planted_cue.py", bad, tmp_path / "new.jsonl", "--cue", "bullets", "--rate", "0.5")
    assert done.returncode == 2 and f"{bad}:1:" in done.stderr and not (tmp_path / "new.jsonl").exists()
    done = script("make_planted_cue.py", UF_EVAL, tmp_path / "new.jsonl", "--cue", "bullets", "--rate", "1.5")
    assert done.returncode == 2 and "--rate" in done.stderr and not (tmp_path / "new.jsonl").exists()


@needs_uf
def test_measured_cue_effect_follows_the_rm_the_length_rm_is_raised_by_a_sign_off(tmp_path):
    """The `length` RM rewards the sign-off's extra tokens: a positive effect in units of D, every cued answer
    moves the same way (style share > 0), and the cue on the rejected side can only lower pair accuracy."""
    audit = tmp_path / "results.json"
    audit.write_text(json.dumps({"summary": {"substance_drop": {"value": 2.0}}}))
    out = tmp_path / "cue.json"
    done = script("measure_planted_cue.py", "length", "--audit", audit, "--data", UF_EVAL, "--cue", "signoff",
                  "--out", out)
    assert done.returncode == 0, done.stderr
    res = json.loads(out.read_text())
    assert res["mean_delta"] > 0 and res["effect"] == pytest.approx(res["mean_delta"] / 2.0)
    assert res["effect_ci"][0] > 0 and res["effect_in_reward_sd"] > 0 and 0 < res["instability"] < 1
    assert res["accuracy_cue_on_rejected"] <= res["clean_accuracy_cue_on_rejected_pairs"]
    assert res["accuracy_cue_on_chosen"] >= res["clean_accuracy_cue_on_chosen_pairs"]
