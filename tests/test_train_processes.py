"""Real processes: a run SIGKILLed after a checkpoint resumes at the same step with the same losses, and
``accelerate launch --num_processes 2`` (CPU, gloo) follows the same loss curve as one process with the same
global batch."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.train_helpers import losses, read_log, separable_pairs, write_recipe

ROOT = Path(__file__).resolve().parents[1]


def _env():
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT), TOKENIZERS_PARALLELISM="false",
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    env.pop("CUDA_VISIBLE_DEVICES", None)
    return env


def _train_cmd(recipe, out):
    return [sys.executable, "-m", "crome_audit.train", "--config", recipe, "--out", str(out), "--until", "train"]


def test_resume_after_sigkill_continues_with_same_losses(tmp_path):
    data = separable_pairs(tmp_path / "pairs.jsonl", n=120)
    recipe = write_recipe(tmp_path / "r.yaml", data={"path": data},
                          model={"disable_dropout": False},  # dropout RNG must be restored too
                          train={"max_steps": 24, "batch_size": 8, "save_steps": 4, "learning_rate": 1e-3})
    killed = tmp_path / "killed"
    proc = subprocess.Popen(_train_cmd(recipe, killed), env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    marker = killed / ".cache/pipeline/checkpoints/step-4/trainer_state.json"
    deadline = time.time() + 240
    while not marker.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert marker.exists(), proc.stderr.read().decode()[-2000:] if proc.poll() is not None else "no checkpoint"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (killed / "model.safetensors").exists()  # really killed mid-training
    before = losses(killed)
    assert 4 <= max(before) < 24
    subprocess.run(_train_cmd(recipe, killed), env=_env(), check=True, capture_output=True)
    log = read_log(killed)
    resumed = [r for r in log if "resumed_from" in r]
    assert len(resumed) == 1 and resumed[0]["step"] % 4 == 0 and resumed[0]["step"] >= 4
    straight = tmp_path / "straight"
    subprocess.run(_train_cmd(recipe, straight), env=_env(), check=True, capture_output=True)
    a, b = losses(killed), losses(straight)
    assert sorted(a) == sorted(b) == list(range(1, 25))
    for step in a:
        assert a[step] == pytest.approx(b[step], abs=1e-6), step


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_processes_match_one_process(tmp_path):
    data = separable_pairs(tmp_path / "pairs.jsonl", n=120)
    one = write_recipe(tmp_path / "one.yaml", data={"path": data}, train={"max_steps": 10, "batch_size": 8})
    two = write_recipe(tmp_path / "two.yaml", data={"path": data}, train={"max_steps": 10, "batch_size": 4})
    subprocess.run(_train_cmd(one, tmp_path / "one"), env=_env(), check=True, capture_output=True)
    # --multi_gpu picks the torchrun launcher; on a machine without GPUs the trainer then uses gloo on CPU
    # (accelerate's --cpu flag would start a single process)
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
              "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
              "--main_process_port", str(_free_port()), "-m", "crome_audit.train", "--config", two,
              "--out", str(tmp_path / "two"), "--until", "train"]
    res = subprocess.run(launch, env=_env(), capture_output=True, text=True, timeout=400)
    assert res.returncode == 0, res.stderr[-3000:]
    a, b = losses(tmp_path / "one"), losses(tmp_path / "two")
    assert sorted(a) == sorted(b) == list(range(1, 11))
    assert a[10] < a[1] - 0.02 and b[10] < b[1] - 0.02  # both train
    # same curve up to float reduction order (measured: max |diff| 3e-7 over 10 steps)
    for step in a:
        assert a[step] == pytest.approx(b[step], abs=1e-5), (step, a[step], b[step])
    import json

    counts = json.loads((tmp_path / "two/.cache/pipeline/stages/train.json").read_text())["counts"]
    assert counts["processes"] == 2 and counts["global_batch"] == 8
