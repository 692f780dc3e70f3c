"""LLM judges (``judge:URL``): verdict parsing, both-order pairwise preferences, parse-error accounting, over
real HTTP (a scripted OpenAI-compatible server on 127.0.0.1) and against the real llama.cpp server with the
SmolLM2-135M GGUF (skipped, saying so, when llama-cpp-python is not installed).
Run: python -m pytest -q tests/test_judge_rm.py"""

import re

import pytest

from crome_audit.errors import InputError, ModelLoadError
from crome_audit.models import load_rm
from crome_audit.models.judge import (
    PARSE_FAILED_RATING,
    is_pairwise,
    parse_rating,
    parse_verdict,
    preference_probabilities,
)
from tests.generate_servers import ScriptedChatServer, free_port, user_text


@pytest.fixture(autouse=True)
def _private_gen_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CROME_AUDIT_GEN_CACHE", str(tmp_path / "gen" / "generations.sqlite"))


def _answers(text):
    """(A, B) answers of a pairwise prompt, or (answer, None) for a rating prompt."""
    if "[Answer A]" in text:
        m = re.search(r"\[Answer A\]\n(.*)\n\n\[Answer B\]\n(.*)\n\nReply", text, re.S)
        return m.group(1), m.group(2)
    return re.search(r"\[Answer\]\n(.*)\n\nReply", text, re.S).group(1), None


@pytest.mark.parametrize("reply,want", [
    ("Rating: 7", 7), ("rating:10", 10), ("**Rating:** 3", 3), ("I'd say 8/10.", 8), ("4 out of 10", 4),
    ("6", 6), (" 9. ", 9), ("Rating: 11", None), ("Step 1: read it", None), ("", None), ("great answer", None),
])
def test_parse_rating(reply, want):
    assert parse_rating(reply) == want


@pytest.mark.parametrize("reply,want", [
    ("A", "A"), ("B.", "B"), ("[[B]]", "B"), ("Answer A", "A"), ("B is better", "B"),
    ("The better answer is A.", "A"), ("Verdict: B", "B"), ("Both are fine", None), ("", None), ("C", None),
])
def test_parse_verdict(reply, want):
    assert parse_verdict(reply) == want


def test_rating_mode_rewards_are_parsed_ratings_and_failures_are_counted():
    # rates by answer length in words, capped at 10; answers containing "???" get an unparseable reply
    def reply(body, n):
        answer, _ = _answers(user_text(body))
        if "???" in answer:
            return 200, "I cannot decide.", None, 0
        return 200, f"Rating: {min(10, len(answer.split()))}", None, 0

    with ScriptedChatServer(reply) as srv:
        rm = load_rm(f"judge:{srv.base_url}#scripted", rm_args={"concurrency": "4"})
        answers = ["one", "one two three", "a b c d e f g h i j k l", "what ???"]
        got = rm.score(["q"] * 4, answers)
        assert got == [1.0, 3.0, 10.0, PARSE_FAILED_RATING]
        info = rm.info()
        assert info["parse_errors"] == 1 and info["verdicts"] == 4 and info["parse_error_rate"] == 0.25
        assert info["unparsed_examples"] == ["I cannot decide."]
        body = srv.requests[0]
        assert body["model"] == "scripted" and body["temperature"] == 0.0 and body["messages"][0]["role"] == "system"
        assert rm.score_cache is False and not is_pairwise(rm)
        again = load_rm(f"judge:{srv.base_url}#scripted")  # replies come from the generator cache
        assert again.score(["q"] * 4, answers) == got and len(srv.requests) == 4
        assert again.info()["parse_errors"] == 1  # counted again: the rate is exact in every run


def test_pairwise_mode_asks_both_orders_and_cancels_position_bias():
    def longer(body, n):
        a, b = _answers(user_text(body))
        return 200, "A" if len(a) > len(b) else "B", None, 0

    with ScriptedChatServer(longer) as srv:
        rm = load_rm(f"judge:{srv.base_url}#m", rm_args={"mode": "pairwise", "cache": "false"})
        assert is_pairwise(rm)
        assert rm.prefer("q", "a long answer", "short") == 1.0
        assert rm.prefer("q", "short", "a long answer") == 0.0
        assert len(srv.requests) == 4
        shown = [_answers(user_text(b)) for b in srv.requests[:2]]
        assert sorted(shown) == sorted([("a long answer", "short"), ("short", "a long answer")])
        with pytest.raises(InputError, match="no pointwise reward"):
            rm.score(["q"], ["x"])
        probs = preference_probabilities(rm, ["q", "q", "q"], ["aaaa", "b", "aaaa"], ["b", "aaaa", "b"])
        # the repeated triple is asked once, and (b, aaaa) is (aaaa, b) in the other order: 2 conversations
        assert probs == [1.0, 0.0, 1.0] and len(srv.requests) == 6

    with ScriptedChatServer(lambda body, n: (200, "A", None, 0)) as srv:
        rm = load_rm(f"judge:{srv.base_url}#m", rm_args={"mode": "pairwise", "cache": "false"})
        assert rm.prefer_many(["q", "q"], ["x", "long long"], ["y", "s"]) == [0.5, 0.5]  # always-A is indifferent

    with ScriptedChatServer(lambda body, n: (200, "hmm" if n % 2 else "A", None, 0)) as srv:
        rm = load_rm(f"judge:{srv.base_url}#m", rm_args={"mode": "pairwise", "cache": "false", "concurrency": "1"})
        p = rm.prefer("q", "x", "y")
        assert p in (0.75, 0.25)  # one order parsed (A -> 1 or 0), the other unparsed (1/2)
        assert rm.info()["parse_errors"] == 1 and rm.info()["parse_error_rate"] == 0.5


def test_model_name_comes_from_the_server_and_bad_urls_are_clear(tmp_path):
    with ScriptedChatServer(lambda body, n: (200, "Rating: 5", None, 0)) as srv:
        # ScriptedChatServer answers GET with 501: the model must then be named
        with pytest.raises(ModelLoadError, match="#MODEL"):
            load_rm(f"judge:{srv.base_url}")
    with pytest.raises(ModelLoadError, match="cannot reach the server"):
        load_rm(f"judge:http://127.0.0.1:{free_port()}/v1#m")  # nothing listens: exit 2 at once, no retries
    with pytest.raises(InputError, match="expected judge:http"):
        load_rm("judge:localhost:8080")
    with pytest.raises(InputError, match="did you mean"):
        load_rm("judge:http://127.0.0.1:9/v1#m", rm_args={"mde": "pairwise"})
    bad = tmp_path / "p.txt"
    bad.write_text("Rate {response}")
    with pytest.raises(InputError, match="lacks {prompt}"):
        load_rm("judge:http://127.0.0.1:9/v1#m", rm_args={"prompt_file": str(bad)})


def test_custom_prompt_and_seeded_samples(tmp_path):
    prompt = tmp_path / "p.txt"
    prompt.write_text("Q: {prompt}\nA: {response}\nScore 1-10, reply 'Rating: N'.")
    seen = []

    def reply(body, n):
        seen.append((body["seed"], body["temperature"]))
        return 200, f"Rating: {1 + body['seed'] % 10}", None, 0

    with ScriptedChatServer(reply) as srv:
        spec = f"judge:{srv.base_url}#m"
        args = {"prompt_file": str(prompt), "samples": "3", "temperature": "0.7", "seed": "5", "cache": "false"}
        a = load_rm(spec, rm_args=args).score(["q1"], ["r1"])
        b = load_rm(spec, rm_args=args).score(["q1"], ["r1"])
        assert a == b  # seeded: same seeds, same verdicts
        assert len({s for s, _ in seen[:3]}) == 3 and all(t == 0.7 for _, t in seen)
        assert a[0] == pytest.approx(sum(1 + s % 10 for s, _ in seen[:3]) / 3)
        assert user_text(srv.requests[0]).startswith("Q: q1\nA: r1")
        other = load_rm(spec, rm_args={**args, "seed": "6"})
        assert other.fingerprint != load_rm(spec, rm_args=args).fingerprint


@pytest.mark.slow
def test_real_llama_cpp_server_rating_and_pairwise(llama_server):
    prompts = ["What is the capital of France?", "What is 2 + 2?"]
    good, bad = ["The capital of France is Paris.", "2 + 2 = 4."], ["I like turtles.", "It is 22."]
    rm = load_rm(f"judge:{llama_server}", rm_args={"cache": "false", "concurrency": "2"})  # model from /models
    assert rm.model == "smollm2-135m"
    ratings = rm.score(prompts * 2, good + bad)
    assert all(r == PARSE_FAILED_RATING or (1 <= r <= 10 and r == int(r)) for r in ratings)
    info = rm.info()
    assert info["verdicts"] == 4 and 0 <= info["parse_errors"] <= 4
    assert load_rm(f"judge:{llama_server}", rm_args={"cache": "false"}).score(prompts * 2, good + bad) == ratings

    pw = load_rm(f"judge:{llama_server}#smollm2-135m", rm_args={"mode": "pairwise", "cache": "false"})
    probs = preference_probabilities(pw, prompts, good, bad)
    assert all(p in (0.0, 0.25, 0.5, 0.75, 1.0) for p in probs)
    flipped = preference_probabilities(pw, prompts, bad, good)
    # the same four verdicts in swapped roles: P(a > b) + P(b > a) = 1 exactly, whatever the judge says
    assert [p + q for p, q in zip(probs, flipped)] == [1.0, 1.0]
    assert pw.info()["verdicts"] == 8


def test_pairwise_judge_audit_and_rewardbench(shared_data):
    """A pairwise judge that always prefers the longer answer: the audit reads P(perturbed ≻ original), so the
    length probe shows a positive bias and the token-matched causal probes are never detected; RewardBench
    scores pairs directly (P(chosen ≻ rejected) > 1/2) and agrees with the length RM's strict decisions."""
    from crome_audit.audit import run_audit
    from crome_audit.benchmarks import run_benchmark
    from crome_audit.data import load_records
    from crome_audit.engine import ScoringEngine
    from crome_audit.probes import load_suite

    def longer(body, n):
        a, b = _answers(user_text(body))
        return 200, "A" if len(a.split()) > len(b.split()) else "B", None, 0

    rb = shared_data / "rewardbench" / "filtered.jsonl"
    records, _, kind = load_records(str(rb), None, None, False)
    with ScriptedChatServer(longer) as srv:
        rm = load_rm(f"judge:{srv.base_url}#m", rm_args={"mode": "pairwise", "cache": "false"})
        out = run_audit(records[::60][:45], load_suite("quick"), ScoringEngine(rm, progress=False), kind=kind)
        by = {p["name"]: p for p in out.probes}
        assert out.summary["pairwise"] is True
        assert by["length_filler"]["preference_rate"] == 1.0 and by["length_filler"]["p_value"] < 0.01
        assert by["length_filler"]["hack_rate"] is None  # needs a third comparison: not measured for judges
        assert by["incomplete_truncate"]["detection_rate"] <= 0.5  # refilled to the same length: not detected
        entry, _ = run_benchmark("rewardbench", ScoringEngine(rm, progress=False), data=str(rb),
                                 subsets="alpacaeval-length")
    lengths = [(len(r["chosen"].split()), len(r["rejected"].split())) for r in records
               if r["subset"] == "alpacaeval-length"]
    assert entry["metrics"]["score"]["n"] == len(lengths)
    assert entry["subsets"]["alpacaeval-length"]["accuracy"] == sum(c > j for c, j in lengths) / len(lengths)
