"""Scale-out paths that run on CPU: big-model placement (``device_map`` / ``max_memory``, layers on CPU and
disk through accelerate's hooks) gives the same rewards as plain loading, and data-parallel scoring under
``accelerate launch --num_processes 2`` (gloo) writes the same results and samples as one process.
Run: python -m pytest -q tests/test_distributed_scoring.py"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from crome_audit.cache import ScoreCache
from crome_audit.data import default_data_path, load_records
from crome_audit.errors import InputError
from crome_audit.models import load_rm
from tests.tiny_models import build_tiny_decoder_rm, build_tiny_encoder_rm

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def decoder(tmp_path_factory):
    return build_tiny_decoder_rm(tmp_path_factory.mktemp("dm") / "rm")


@pytest.fixture(scope="module")
def texts():
    records, _, _ = load_records(default_data_path(), None, 16, False)
    return [r["prompt"] for r in records] * 2, [r["chosen"] for r in records] + [r["rejected"] for r in records]


def test_device_map_auto_and_a_cpu_disk_split_score_like_plain_loading(decoder, texts, tmp_path):
    prompts, responses = texts
    base = load_rm(decoder, device="cpu").score(prompts, responses)
    auto = load_rm(decoder, rm_args={"device_map": "auto"})
    assert auto.info()["device"] == "device_map"
    assert auto.score(prompts, responses) == pytest.approx(base, abs=1e-6)
    # layer 1 and the reward head offloaded to disk (meta tensors, streamed in by accelerate's hooks)
    dmap = {"model.embed_tokens": "cpu", "model.layers.0": "cpu", "model.layers.1": "disk", "model.norm": "cpu",
            "model.rotary_emb": "cpu", "score": "disk"}
    split = load_rm(decoder, rm_args={"device_map": json.dumps(dmap), "offload_folder": str(tmp_path / "off")})
    info = split.info()
    assert info["device_map"] is True and info["devices"] == ["cpu", "disk"]
    assert split.score(prompts, responses) == pytest.approx(base, abs=1e-6)
    # max_memory honoured: 30 KB of CPU holds no layer of this model, so accelerate puts every layer on disk
    tiny_cpu = load_rm(decoder, rm_args={"device_map": "auto", "max_memory": "cpu=30KB",
                                         "offload_folder": str(tmp_path / "off2")})
    assert tiny_cpu.info()["devices"] == ["disk"]
    assert tiny_cpu.score(prompts, responses) == pytest.approx(base, abs=1e-6)


def test_placement_options_are_checked(decoder):
    with pytest.raises(InputError, match="did you mean 'balanced'"):
        load_rm(decoder, rm_args={"device_map": "balancd"})
    with pytest.raises(InputError, match="max_memory needs device_map"):
        load_rm(decoder, rm_args={"max_memory": "0=10GiB"})
    with pytest.raises(InputError, match="unknown device 'gpu0'"):
        load_rm(decoder, rm_args={"device_map": "auto", "max_memory": "gpu0=10GiB"})


def _env(cache):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT), TOKENIZERS_PARALLELISM="false",
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1", CROME_AUDIT_CACHE=str(cache))
    env.pop("CUDA_VISIBLE_DEVICES", None)
    return env


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_processes_write_what_one_process_writes(tmp_path):
    rm = build_tiny_encoder_rm(tmp_path / "rm")
    args = ["run", "--rm", rm, "--suite", "quick", "--limit", "40", "--no-report", "--quiet"]
    one = subprocess.run([sys.executable, "-m", "crome_audit", *args, "--out", str(tmp_path / "one")],
                         env=_env(tmp_path / "c1.sqlite"), capture_output=True, text=True, timeout=600)
    assert one.returncode == 0, one.stderr[-3000:]
    # --multi_gpu picks the torchrun launcher; without GPUs the processes join a gloo group on CPU
    def launch(out):
        return [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
                "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
                "--main_process_port", str(_free_port()), "-m", "crome_audit", *args, "--out", str(out)]

    two = subprocess.run(launch(tmp_path / "two"), env=_env(tmp_path / "c2.sqlite"), capture_output=True, text=True,
                         timeout=600)
    assert two.returncode == 0, two.stderr[-3000:]
    r1, r2 = (json.loads((tmp_path / d / "results.json").read_text()) for d in ("one", "two"))
    assert r2["engine"]["processes"] == 2 and "processes" not in r1["engine"]
    for r in (r1, r2):
        r.pop("versions")
        r["engine"].pop("seconds")
        r["engine"].pop("processes", None)
    assert r1 == r2  # every probe statistic, CI, example and engine count
    s1, s2 = ((tmp_path / d / "samples.jsonl").read_text() for d in ("one", "two"))
    assert s1 == s2 and s1.count("\n") > 100
    # rank 0 merged both shards into the cache: every unique text is there once
    fingerprint = r2["rm"]["fingerprint"]
    assert ScoreCache(tmp_path / "c2.sqlite").count(fingerprint) == r2["engine"]["unique"] == r2["engine"]["scored"]
    again = subprocess.run(launch(tmp_path / "again"), env=_env(tmp_path / "c2.sqlite"),
                           capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    r3 = json.loads((tmp_path / "again" / "results.json").read_text())
    assert r3["engine"]["scored"] == 0 and r3["engine"]["cache_hits"] == r3["engine"]["unique"]
    assert r3["probes"] == r1["probes"]
