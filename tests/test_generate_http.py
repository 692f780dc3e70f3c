"""OpenAI-compatible HTTP backend against real local servers (stdlib http.server on 127.0.0.1): retries
with backoff on 500/429/timeouts, fatal 4xx, parameters passed through, concurrency, the on-disk cache.
Run: python -m pytest -q tests/test_generate_http.py"""

import pytest

from crome_audit.errors import ModelLoadError
from crome_audit.generate import GenerationError, load_generator
from crome_audit.generate.cache import GenerationCache, default_generation_cache_path
from tests.generate_servers import ScriptedChatServer, free_port, user_text


@pytest.fixture(autouse=True)
def _no_user_cache(monkeypatch):
    monkeypatch.delenv("CROME_AUDIT_GEN_CACHE", raising=False)


def _gen(server_or_url, **opts):
    base = server_or_url.base_url if hasattr(server_or_url, "base_url") else server_or_url
    query = "&".join(f"{k}={v}" for k, v in {"backoff": 0.01, "progress": "false", **opts}.items())
    return load_generator(f"openai:{base}#test-model?{query}")


def _echo(body, n_call):
    return 200, f"answer to {user_text(body)} #{body['seed']}", {}, 0


def test_500_then_200_is_retried():
    def reply(body, n_call):
        return (500, "overloaded", {}, 0) if n_call == 0 else _echo(body, n_call)

    with ScriptedChatServer(reply) as server:
        gen = _gen(server, cache="false")
        out = gen.generate(["hello"])
    assert out[0][0].startswith("answer to hello")
    assert len(server.requests) == 2
    assert gen.stats == {"requests": 1, "cache_hits": 0, "retries": 1, "failures": 0}


def test_429_retry_after_and_backoff_cap():
    def reply(body, n_call):
        return (429, "slow down", {"Retry-After": "30"}, 0) if n_call < 2 else _echo(body, n_call)

    with ScriptedChatServer(reply) as server:
        gen = _gen(server, cache="false", backoff_max=0.05)  # Retry-After 30 s, capped at 0.05 s
        assert gen.generate(["x"])[0][0].startswith("answer to x")
    assert gen.stats["retries"] == 2 and len(server.requests) == 3


def test_timeout_is_retried_then_fails():
    with ScriptedChatServer(lambda body, n: (200, "late", {}, 1.5)) as server:
        gen = _gen(server, cache="false", timeout_s=0.2, max_retries=1)
        with pytest.raises(GenerationError, match=r"1 of 1 requests failed.*timed out after 0.2s"):
            gen.generate(["x"])
    assert gen.stats["retries"] == 1 and gen.stats["failures"] == 1 and gen.stats["requests"] == 0
    assert len(server.requests) == 2


def test_timeout_then_success():
    with ScriptedChatServer(lambda body, n: (200, "late", {}, 1.5) if n == 0 else _echo(body, n)) as server:
        gen = _gen(server, cache="false", timeout_s=0.3, max_retries=2)
        assert gen.generate(["x"])[0][0].startswith("answer to x")
    assert gen.stats["retries"] == 1


def test_fatal_and_per_request_errors():
    with ScriptedChatServer(lambda body, n: (401, "bad key", {}, 0)) as server:
        with pytest.raises(ModelLoadError, match="HTTP 401.*OPENAI_API_KEY"):
            _gen(server, cache="false").generate(["a"])
    assert len(server.requests) == 1  # no retries on 401

    def reply(body, n_call):
        return (400, "context length exceeded", {}, 0) if "long" in user_text(body) else _echo(body, n_call)

    with ScriptedChatServer(reply) as server:
        gen = _gen(server, concurrency=1)
        with pytest.raises(GenerationError, match="1 of 2 requests failed.*HTTP 400.*context length"):
            gen.generate(["short", "long"])
        assert gen.stats["retries"] == 0
        # the good answer was cached: the re-run only retries the bad one
        with pytest.raises(GenerationError):
            gen.generate(["short", "long"])
        assert sum("short" in user_text(b) for b in server.requests) == 1


def test_malformed_reply_and_unreachable_server():
    with ScriptedChatServer(lambda body, n: (200, None, {}, 0)) as server:
        assert _gen(server, cache="false").generate(["x"]) == [[""]]  # null content -> empty string
    port = free_port()  # nothing listens here
    gen = _gen(f"http://127.0.0.1:{port}/v1", cache="false", max_retries=2)
    with pytest.raises(GenerationError, match="cannot reach"):
        gen.generate(["x"])
    assert gen.stats["retries"] == 2


def test_parameters_passed_through_and_order_kept():
    with ScriptedChatServer(_echo) as server:
        gen = _gen(server, cache="false", concurrency=4, top_p=0.9)
        gen.config.extra_body = {"top_k": 20}
        conv = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "p0"}]
        out = gen.generate([conv, "p1", "p2"], n=3, max_new_tokens=17, temperature=0.7, seed=5)
    assert [[x.split(" #")[0] for x in row] for row in out] == [["answer to p0"] * 3, ["answer to p1"] * 3,
                                                                   ["answer to p2"] * 3]
    bodies = server.requests
    assert len(bodies) == 9
    for b in bodies:
        assert (b["model"], b["max_tokens"], b["temperature"], b["top_p"], b["n"], b["top_k"]) == \
            ("test-model", 17, 0.7, 0.9, 1, 20)
    seeds = {b["seed"] for b in bodies}
    assert len(seeds) == 9  # one seed per (conversation, sample)
    assert any(b["messages"] == conv for b in bodies)
    # same seed -> same per-sample seeds; another base seed -> other seeds
    with ScriptedChatServer(_echo) as server2:
        again = _gen(server2, cache="false").generate([conv, "p1", "p2"], n=3, max_new_tokens=17, temperature=0.7,
                                                      seed=5)
        other = _gen(server2, cache="false").generate(["p1"], n=1, temperature=0.7, seed=6)
    assert again == out and other[0][0] != out[1][0]


def test_concurrency_uses_parallel_requests():
    with ScriptedChatServer(lambda body, n: (200, "ok", {}, 0.3)) as server:
        _gen(server, cache="false", concurrency=3).generate([f"q{i}" for i in range(6)])
    assert 2 <= server.max_in_flight <= 3


def test_cache_second_run_makes_no_requests(tmp_path):
    with ScriptedChatServer(_echo) as server:
        gen = _gen(server)
        first = gen.generate(["a", "b"], n=2, temperature=0.8)
        assert gen.stats["requests"] == 4 and len(server.requests) == 4
        gen2 = _gen(server)
        assert gen2.generate(["a", "b"], n=2, temperature=0.8) == first
        assert gen2.stats == {"requests": 0, "cache_hits": 4, "retries": 0, "failures": 0}
        assert len(server.requests) == 4
        # more samples: only the new ones are generated; other params: new requests
        gen3 = _gen(server)
        more = gen3.generate(["a", "b"], n=3, temperature=0.8)
        assert [row[:2] for row in more] == first and gen3.stats["requests"] == 2
        gen3.generate(["a"], n=1, temperature=0.3)
        assert gen3.stats["requests"] == 3
        # duplicate conversations in one call are generated once
        gen4 = _gen(server, cache="false")
        gen4.generate(["z", "z"])
        assert gen4.stats["requests"] == 1
    cache = GenerationCache(default_generation_cache_path())
    assert cache.count() == 7
    row = cache.conn.execute("SELECT backend, model, request FROM generations LIMIT 1").fetchone()
    assert row[0] == "openai" and row[1] == "test-model" and '"messages"' in row[2]
