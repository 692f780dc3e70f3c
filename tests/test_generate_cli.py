"""``crome-audit generate`` against a real local OpenAI-compatible server: the candidates file, the cache
on re-runs, bad input -> exit 2. Run: python -m pytest -q tests/test_generate_cli.py"""

import json

import pytest
from click.testing import CliRunner

from crome_audit.cli import main
from tests.generate_servers import ScriptedChatServer, free_port, user_text


@pytest.fixture(autouse=True)
def _no_user_cache(monkeypatch):
    monkeypatch.delenv("CROME_AUDIT_GEN_CACHE", raising=False)


def _reply(body, n_call):
    return 200, f"reply to {user_text(body)} seed {body['seed']}", {}, 0


def _run(*args):
    return CliRunner().invoke(main, ["generate", *args], catch_exceptions=False)


def test_candidates_file_from_wildguard_prompts(shared_data, tmp_path):
    prompts = shared_data / "wildguardtest" / "wildguardtest_prompts_partial.json"
    src = json.loads(prompts.read_text())
    out = tmp_path / "sub" / "candidates.jsonl"
    with ScriptedChatServer(_reply) as server:
        spec = f"openai:{server.base_url}#cand-model"
        r = _run("--prompts", str(prompts), "--generator", spec, "-n", "3", "--limit", "4", "--out", str(out),
                 "--temperature", "0.7", "--seed", "3")
        assert r.exit_code == 0, r.output
        assert len(server.requests) == 12 and "generated 12, cached 0" in r.output
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        assert [row["prompt_id"] for row in rows] == ["0", "1", "2", "3"]
        for row, s in zip(rows, src[:4]):
            assert row["prompt"] == s["text"]
            assert row["label"] == ("harmful" if s["label"] == "harmful" else "benign")
            assert len(row["candidates"]) == 3 and all(c.startswith(f"reply to {s['text']}") for c in row["candidates"])
            assert row["generator"]["model"] == "cand-model" and row["generator"]["n"] == 3
            assert row["generator"]["temperature"] == 0.7 and row["generator"]["seed"] == 3
        assert {b["temperature"] for b in server.requests} == {0.7}
        first = out.read_bytes()
        # a re-run costs no generation and writes the same file
        r = _run("--prompts", str(prompts), "--generator", spec, "-n", "3", "--limit", "4", "--out", str(out),
                 "--temperature", "0.7", "--seed", "3")
        assert r.exit_code == 0 and "generated 0, cached 12" in r.output
        assert len(server.requests) == 12 and out.read_bytes() == first
        # more candidates: only the new ones
        r = _run("--prompts", str(prompts), "--generator", spec, "-n", "4", "--limit", "4", "--out", str(out),
                 "--temperature", "0.7", "--seed", "3")
        assert "generated 4, cached 12" in r.output and len(server.requests) == 16
    harmful = [i for i, s in enumerate(src) if s["label"] == "harmful"][:1]
    assert harmful  # the shared file holds both labels


@pytest.mark.parametrize("content, message", [
    ('{"text": "hi"}\n', "prompts.jsonl:1: missing field 'label'"),
    ('{"text": "hi", "label": "safe"}\n{"label": "harmful"}\n', "prompts.jsonl:2: missing field 'prompt' or 'text'"),
    ('{"text": "hi", "label": "toxic"}\n', "prompts.jsonl:1: field 'label': unknown value 'toxic'"),
    ('{"prompt": "  ", "label": "harmful"}\n', "prompts.jsonl:1: field 'prompt' must be a non-empty string"),
    ('{"id": 1, "text": "a", "label": "safe"}\n{"id": 1, "text": "b", "label": "safe"}\n', "duplicate prompt_id '1'"),
    ('{"text": "hi", "label": "safe"\n', "prompts.jsonl:1: invalid JSON line"),
    ("", "file is empty"),
])
def test_bad_prompt_files_exit_2(tmp_path, content, message):
    path = tmp_path / "prompts.jsonl"
    path.write_text(content)
    out = tmp_path / "c.jsonl"
    r = _run("--prompts", str(path), "--generator", "openai:http://127.0.0.1:9/v1#m", "--out", str(out))
    assert r.exit_code == 2, r.output
    assert message in r.output and "Traceback" not in r.output
    assert not out.exists()


def test_wildguardmix_columns_and_unlabelled_rows(tmp_path):
    path = tmp_path / "wgm.jsonl"
    path.write_text('{"prompt": "a", "prompt_harm_label": "unharmful"}\n{"prompt": "b", "prompt_harm_label": null}\n'
                    '{"prompt": "c", "prompt_harm_label": "harmful"}\n')
    out = tmp_path / "c.jsonl"
    with ScriptedChatServer(_reply) as server:
        args = ["--prompts", str(path), "--generator", f"openai:{server.base_url}#m", "-n", "1", "--out", str(out)]
        r = _run(*args)
        assert r.exit_code == 2 and "wgm.jsonl:2: missing field 'label'" in r.output
        r = _run(*args, "--skip-unlabeled")
        assert r.exit_code == 0 and "skipped 1 unlabelled rows" in r.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(x["prompt_id"], x["label"]) for x in rows] == [("0", "benign"), ("2", "harmful")]


def test_bad_generator_and_unreachable_server_exit_2(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps([{"text": "hi", "label": "unharmful", "prompt_id": "a"}]))
    out = tmp_path / "c.jsonl"
    for spec, msg in [("vllm:http://x#m", "expected 'openai:URL#MODEL'"),
                      ("openai:http://127.0.0.1:9/v1#m?concurrancy=2", "did you mean 'concurrency'"),
                      ("local:/no/such/model", "no such file or folder")]:
        r = _run("--prompts", str(path), "--generator", spec, "--out", str(out))
        assert r.exit_code == 2 and msg in r.output, r.output
    r = _run("--prompts", str(path), "--out", str(out), "-n", "1",
             "--generator", f"openai:http://127.0.0.1:{free_port()}/v1#m?max_retries=1&backoff=0.01")
    assert r.exit_code == 2 and "cannot reach" in r.output and "Traceback" not in r.output
    assert not out.exists()
