"""Issue 23, round 3, items 1-3 without a vLLM server: the default max length follows the model and every run that
truncates says so; served and judge caches are keyed by the server and a run answered wholly from a cache warns;
no key is ever echoed (api_key_env values that are keys, credentials in --rm URLs, redirects to another origin).

    python -m pytest -q tests/test_reliability_served_keys.py

Real parts only: tiny random-init transformers RMs, real local HTTP servers (tests/served_servers.py,
tests/generate_servers.py and the two small ones below), the real SQLite caches. The vLLM parity test at default
settings is tests/test_reliability_vllm_default.py.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner

from crome_audit.cli import main
from crome_audit.errors import InputError, ModelLoadError
from crome_audit.models import load_rm
from tests.generate_servers import ScriptedChatServer
from tests.served_servers import TinyScorer, sglang_server

SECRET = "sk-live-Zq81xkEYnotAname-0042"


@pytest.fixture(autouse=True)
def _private_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("CROME_AUDIT_GEN_CACHE", str(tmp_path / "gen" / "generations.sqlite"))
    monkeypatch.setenv("CROME_AUDIT_CACHE", str(tmp_path / "scores" / "scores.sqlite"))


@pytest.fixture(scope="module")
def scorer(tiny_decoder_rm):
    return TinyScorer(tiny_decoder_rm)


def _pairs_file(tmp_path, n=6, long=False):
    rows = [{"prompt": f"Question {i}: how do I sort a list in Python?" + (" Please explain." * 60 if long else ""),
             "chosen": f"Use sorted(xs) or xs.sort(); answer {i}.", "rejected": f"You cannot, answer {i}."}
            for i in range(n)]
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _everything_written(folder):
    return "".join(p.read_text(encoding="utf-8", errors="replace") for p in folder.rglob("*") if p.is_file())


# ------------------------------------------------------------------------------------------------ item 1


def _rm_with_context(tmp_path, name, tokenizer_length, positions, encoder=False):
    """The tiny decoder (RoPE) or encoder (learned absolute positions) RM with its tokenizer's model_max_length and
    its config's max_position_embeddings set."""
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    from tests.tiny_models import build_tiny_decoder_rm, build_tiny_encoder_rm

    path = (build_tiny_encoder_rm if encoder else build_tiny_decoder_rm)(tmp_path / name)
    config = AutoConfig.from_pretrained(path)
    config.max_position_embeddings = positions
    AutoModelForSequenceClassification.from_pretrained(path, config=config,
                                                       ignore_mismatched_sizes=True).save_pretrained(path)
    tok = AutoTokenizer.from_pretrained(path)
    tok.model_max_length = tokenizer_length
    tok.save_pretrained(path)
    return path


def test_default_max_length_follows_the_model(tmp_path, tiny_decoder_rm):
    """Was 512 whatever the model. Now the model's context as vLLM reads it: the config's positions; for a model
    with learned absolute positions capped by the tokenizer's model_max_length (unless that is transformers' 1e30
    "no limit" sentinel); the tokenizer's limit alone for a RoPE model is not a cap."""
    def default(path):
        return load_rm(path, device="cpu", dtype="fp32").formatter.max_length

    # the model: a RoPE RM with 1,024 positions and a tokenizer (borrowed from MiniLM) saying 512
    rm = load_rm(tiny_decoder_rm, device="cpu", dtype="fp32")
    assert rm.formatter.max_length == 1024 and rm.info()["max_length_source"] == "model"
    assert default(_rm_with_context(tmp_path, "rope2048", 2048, 2048)) == 2048
    assert default(_rm_with_context(tmp_path, "unset", int(1e30), 1536)) == 1536
    assert default(_rm_with_context(tmp_path, "borrowed", 4096, 768)) == 768  # never beyond the positions
    assert default(_rm_with_context(tmp_path, "abs", 512, 1024, encoder=True)) == 512  # absolute: tokenizer caps
    assert default(_rm_with_context(tmp_path, "abs-unset", int(1e30), 256, encoder=True)) == 256
    assert load_rm(tiny_decoder_rm, device="cpu", dtype="fp32", max_length=64).formatter.max_length == 64


def test_a_text_between_512_tokens_and_the_context_is_scored_whole(tiny_decoder_rm):
    rm = load_rm(tiny_decoder_rm, device="cpu", dtype="fp32")
    prompt, response = "Tell me about sorting. " * 120, "Use sorted()."
    (enc,) = rm.encode([prompt], [response])
    assert 512 < len(enc.input_ids) <= 1024 and not enc.truncated
    assert rm.info()["n_truncated"] == 0


def test_every_run_that_truncates_says_so_with_the_count(tiny_decoder_rm, tmp_path, shared_data):
    data = _pairs_file(tmp_path, n=5, long=True)
    result = CliRunner().invoke(main, ["run", "--rm", tiny_decoder_rm, "--data", str(data), "--suite", "quick",
                                       "--max-length", "64", "--out", str(tmp_path / "out"), "--no-report",
                                       "--no-cache", "--quiet", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    info = json.loads((tmp_path / "out" / "results.json").read_text())["rm"]["info"]
    assert info["n_truncated"] > 0
    assert f"truncated {info['n_truncated']} of " in result.output and " texts to 64 tokens" in result.output
    rb = shared_data / "rewardbench" / "filtered.jsonl"
    result = CliRunner().invoke(main, ["bench", "rewardbench", "--rm", tiny_decoder_rm, "--max-length", "32",
                                       "--bench-data", str(rb), "--limit", "4", "--out", str(tmp_path / "bench"),
                                       "--no-cache", "--quiet", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    n_cut = json.loads((tmp_path / "bench" / "results.json").read_text())["rm"]["info"]["n_truncated"]
    assert n_cut > 0 and f"truncated {n_cut} of " in result.output and " texts to 32 tokens" in result.output


# ------------------------------------------------------------------------------------------------ item 2


def test_judge_replies_are_cached_per_server():
    with ScriptedChatServer(lambda body, n: (200, "Rating: 3", None, 0)) as a, \
            ScriptedChatServer(lambda body, n: (200, "Rating: 9", None, 0)) as b:
        first = load_rm(f"judge:{a.base_url}#m", rm_args={"concurrency": "1"})
        assert first.score(["q1", "q2"], ["r1", "r2"]) == [3.0, 3.0]
        second = load_rm(f"judge:{b.base_url}#m", rm_args={"concurrency": "1"})
        assert second.score(["q1", "q2"], ["r1", "r2"]) == [9.0, 9.0]  # was [3.0, 3.0]: server A's replies
        assert len(b.requests) == 2
        again = load_rm(f"judge:{a.base_url}#m", rm_args={"concurrency": "1"})
        assert again.score(["q1", "q2"], ["r1", "r2"]) == [3.0, 3.0] and len(a.requests) == 2  # still cached


def test_served_fingerprint_holds_the_server(tiny_decoder_rm, scorer, tmp_path):
    from crome_audit.cache import ScoreCache
    from crome_audit.engine import ScoringEngine

    cache = ScoreCache(str(tmp_path / "s.sqlite"))
    with sglang_server(tiny_decoder_rm, scorer=scorer) as a, sglang_server(tiny_decoder_rm, scorer=scorer) as b:
        rm_a, rm_b = load_rm(f"sglang:{a.url}"), load_rm(f"sglang:{b.url}")
        assert rm_a.fingerprint != rm_b.fingerprint  # same model path and version, other server
        ScoringEngine(rm_a, cache=cache, progress=False).score(["p1", "p2"], ["r1", "r2"])
        engine_b = ScoringEngine(rm_b, cache=cache, progress=False)
        engine_b.score(["p1", "p2"], ["r1", "r2"])
        assert engine_b.stats["cache_hits"] == 0 and b.log.requests >= 1


def test_a_served_run_answered_wholly_from_the_cache_warns(tiny_decoder_rm, scorer, tmp_path):
    data = _pairs_file(tmp_path)
    cache = tmp_path / "cache.sqlite"
    with sglang_server(tiny_decoder_rm, scorer=scorer) as srv:
        args = ["run", "--rm", f"sglang:{srv.url}", "--data", str(data), "--suite", "quick", "--no-report",
                "--quiet", "--cache", str(cache)]
        first = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "one")])
        assert first.exit_code == 0, first.output
        assert "every score came from the cache" not in first.output
        again = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "two")])
        assert again.exit_code == 0, again.output
        assert f"WARNING every score came from the cache: the server at {srv.url}" in again.output
        assert "--no-cache" in again.output


def test_a_judge_run_answered_wholly_from_the_reply_cache_warns(tmp_path):
    data = _pairs_file(tmp_path, n=4)
    with ScriptedChatServer(lambda body, n: (200, "Rating: 5", None, 0)) as srv:
        args = ["run", "--rm", f"judge:{srv.base_url}#m", "--data", str(data), "--suite", "quick", "--no-report",
                "--quiet"]
        first = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "one")])
        assert first.exit_code == 0, first.output and "every score came from the cache" not in first.output
        asked = len(srv.requests)
        again = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "two")])
        assert again.exit_code == 0, again.output
        assert len(srv.requests) == asked
        assert "WARNING every score came from the cache" in again.output and "cache=false" in again.output


# ------------------------------------------------------------------------------------------------ item 3


def test_a_key_given_as_api_key_env_is_refused_and_never_echoed(tiny_decoder_rm, scorer, tmp_path):
    data = _pairs_file(tmp_path, n=3)
    with sglang_server(tiny_decoder_rm, scorer=scorer) as srv, \
            ScriptedChatServer(lambda body, n: (200, "Rating: 5", None, 0)) as judge:
        for spec in (f"sglang:{srv.url}", f"judge:{judge.base_url}#m"):
            out = tmp_path / spec.partition(":")[0]
            result = CliRunner().invoke(main, ["run", "--rm", spec, "--rm-arg", f"api_key_env={SECRET}", "--data",
                                               str(data), "--suite", "quick", "--out", str(out), "--quiet"])
            assert result.exit_code == 2, result.output
            assert "NAME of an environment variable" in result.output and "not shown" in result.output
            assert SECRET not in result.output and not out.exists()
    with pytest.raises(InputError, match="NAME of an environment variable") as e:
        load_rm(f"judge:{judge.base_url}#m", rm_args={"api_key_env": SECRET})
    assert SECRET not in str(e.value)


@pytest.mark.parametrize("form", ["userinfo", "query"])
def test_credentials_in_a_served_or_judge_url_are_refused(tiny_decoder_rm, scorer, tmp_path, form):
    data = _pairs_file(tmp_path, n=3)
    with sglang_server(tiny_decoder_rm, scorer=scorer) as srv, \
            ScriptedChatServer(lambda body, n: (200, "Rating: 5", None, 0)) as judge:
        host = srv.url.partition("://")[2]
        judge_host = judge.base_url.partition("://")[2]
        specs = ([f"sglang:http://user:{SECRET}@{host}", f"judge:http://user:{SECRET}@{judge_host}#m"]
                 if form == "userinfo" else
                 [f"sglang:{srv.url}/?api_key={SECRET}", f"judge:{judge.base_url}?token={SECRET}#m"])
        for spec in specs:
            out = tmp_path / "out"
            result = CliRunner().invoke(main, ["run", "--rm", spec, "--data", str(data), "--suite", "quick",
                                               "--out", str(out), "--quiet"])
            assert result.exit_code == 2, result.output
            assert "the URL carries credentials" in result.output and "api_key_env" in result.output
            assert SECRET not in result.output and not out.exists()
        assert srv.log.requests == 0 and judge.requests == []


class _Recorder:
    """A real HTTP server on its own port (another origin) that answers every request like an OpenAI-compatible
    server and records the headers it was sent."""

    def __init__(self):
        self.headers: list[dict] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self):
                recorder.headers.append(dict(self.headers))
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                body = {"data": [{"id": "m"}], "choices": [{"index": 0, "message": {"role": "assistant",
                                                                                    "content": "Rating: 7"}}]}
                raw = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = _answer

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class _Redirector(_Recorder):
    """Answers every request with HTTP 302 to ``location``."""

    def __init__(self, location: str):
        super().__init__()
        handler = self.httpd.RequestHandlerClass

        def redirect(h):
            n = int(h.headers.get("Content-Length") or 0)
            if n:
                h.rfile.read(n)
            h.send_response(302)
            h.send_header("Location", location + h.path)
            h.send_header("Content-Length", "0")
            h.end_headers()

        handler.do_GET = handler.do_POST = redirect


def test_a_redirect_to_another_origin_never_receives_the_key(monkeypatch, tiny_decoder_rm, scorer):
    monkeypatch.setenv("CROME_TEST_JUDGE_KEY", SECRET)
    other = _Recorder()
    redirector = _Redirector(other.url)
    try:
        base = f"{redirector.url}/v1"
        # the judge's requests (POST /chat/completions) and its model listing (GET /models)
        judge = load_rm(f"judge:{base}#m", rm_args={"api_key_env": "CROME_TEST_JUDGE_KEY", "max_retries": "0",
                                                    "cache": "false"})
        with pytest.raises(ModelLoadError, match="HTTP 302 redirect to .*not followed") as e:
            judge.score(["q"], ["r"])
        assert SECRET not in str(e.value)
        with pytest.raises(ModelLoadError, match="HTTP 302 redirect"):
            load_rm(f"judge:{base}", rm_args={"api_key_env": "CROME_TEST_JUDGE_KEY"})
        # served RMs (models/_http.py, http.client): a redirect is an error answer, never followed
        monkeypatch.setenv("CROME_TEST_RM_KEY", SECRET)
        with pytest.raises(ModelLoadError, match="HTTP 302"):
            load_rm(f"sglang:{redirector.url}", rm_args={"api_key_env": "CROME_TEST_RM_KEY", "retries": "0"})
        assert not any("Authorization" in h or "authorization" in h for h in other.headers)
        assert other.headers == []
    finally:
        redirector.close()
        other.close()
