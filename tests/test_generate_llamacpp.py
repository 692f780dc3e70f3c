"""HTTP backend against a real OpenAI-compatible server: llama-cpp-python's ``llama_cpp.server`` serving
SmolLM2-135M-Instruct (GGUF) on 127.0.0.1, started and stopped by a session fixture. Needs
``pip install 'llama-cpp-python[server]'`` (see docs/generators.md); skipped, saying so, without it.
Run: python -m pytest -q tests/test_generate_llamacpp.py"""

import json

import pytest
from click.testing import CliRunner

from crome_audit.cli import main
from crome_audit.generate import load_generator
from crome_audit.generate.tasks import STATUSES, counterfactual_rewrites, generate_rubrics

MODEL = "smollm2-135m"


@pytest.fixture(autouse=True)
def _no_user_cache(monkeypatch):
    monkeypatch.delenv("CROME_AUDIT_GEN_CACHE", raising=False)


def _gen(base, **opts):
    return load_generator(f"openai:{base}#{MODEL}", progress=False, concurrency=2, **opts)


@pytest.mark.slow
def test_greedy_and_seeded_generation(llama_server):
    convs = ["What is the capital of France? Answer in one word.", "Say hello."]
    greedy = _gen(llama_server, cache=False).generate(convs, max_new_tokens=12)
    assert "paris" in greedy[0][0].lower() and greedy[1][0].strip()
    assert _gen(llama_server, cache=False).generate(convs, max_new_tokens=12) == greedy
    gen = _gen(llama_server, cache=False)
    sampled = gen.generate(convs[:1], n=3, max_new_tokens=12, temperature=1.0, seed=11)
    assert len(sampled[0]) == 3 and all(s.strip() for s in sampled[0])
    assert len(set(sampled[0])) > 1  # three seeds, not three copies
    assert _gen(llama_server, cache=False).generate(convs[:1], n=3, max_new_tokens=12, temperature=1.0,
                                                    seed=11) == sampled  # per-request seeds are honoured
    assert gen.stats == {"requests": 3, "cache_hits": 0, "retries": 0, "failures": 0}


@pytest.mark.slow
def test_cache_and_tasks_through_the_server(llama_server):
    gen = _gen(llama_server)
    items = [{"prompt": "What is the capital of France?", "response": "The capital of France is Paris, a city "
              "on the Seine known for the Eiffel Tower and the Louvre museum, which opened in 1793.",
              "attribute": "factuality", "direction": "degrade"},
             {"prompt": "How do I boil an egg?", "response": "Put it in boiling water for nine minutes.",
              "attribute": "completeness", "direction": "upgrade"}]
    res = counterfactual_rewrites(gen, items, max_new_tokens=48)
    assert res.counts["total"] == 2 and all(r.status in STATUSES for r in res)
    assert all((r.text is None) == (r.status != "ok") for r in res)
    rub = generate_rubrics(gen, ["Write a Python function that reverses a list."], max_new_tokens=32)
    assert rub[0].status in ("ok", "partial", "fallback") and rub[0].attributes
    made = gen.stats["requests"]
    assert made == 3
    again = _gen(llama_server)
    assert [r.raw for r in counterfactual_rewrites(again, items, max_new_tokens=48)] == [r.raw for r in res]
    assert again.stats["requests"] == 0 and again.stats["cache_hits"] == 2


@pytest.mark.slow
def test_generate_command_end_to_end(llama_server, shared_data, tmp_path):
    prompts = shared_data / "wildguardtest" / "wildguardtest_prompts_partial.json"
    out = tmp_path / "candidates.jsonl"
    args = ["generate", "--prompts", str(prompts), "--generator", f"openai:{llama_server}#{MODEL}", "-n", "2",
            "--limit", "2", "--max-new-tokens", "16", "--out", str(out)]
    r = CliRunner().invoke(main, args, catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "generated 4, cached 0" in r.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 2 and all(len(row["candidates"]) == 2 for row in rows)
    assert all(c.strip() for row in rows for c in row["candidates"])
    assert rows[0]["generator"]["backend"] == "openai" and rows[0]["generator"]["base_url"] == llama_server
    r = CliRunner().invoke(main, args, catch_exceptions=False)
    assert r.exit_code == 0 and "generated 0, cached 4" in r.output
