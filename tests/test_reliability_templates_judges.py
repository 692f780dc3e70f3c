"""Issue 23, round 3, items 4-5: every template is filled in one pass (a prompt holding a literal "{response}", an
answer holding "{response_b}", stay as written) on the vLLM input form, SGLang, OpenRLHF, both judge modes and
``dpo:``; a judge's verdict or rating counts only when the reply states it unambiguously.

    python -m pytest -q tests/test_reliability_templates_judges.py

Real parts only: real local HTTP servers (tests/served_servers.py, tests/generate_servers.py; a vLLM-shaped one
below with the routes the adapter uses), a real tokenizer.
"""

from __future__ import annotations

import re

import pytest

from crome_audit.models import load_rm
from crome_audit.models.judge import parse_rating, parse_verdict
from tests.generate_servers import ScriptedChatServer, user_text
from tests.served_servers import TinyScorer, _Server, openrlhf_server, sglang_server

TEMPLATE = "Q: {prompt}\nA: {response}"
PROMPT = "Repeat after me: {response} and {prompt} are placeholders."
ANSWER = "Sure: {response_b} is literal too."
FILLED = "Q: Repeat after me: {response} and {prompt} are placeholders.\nA: Sure: {response_b} is literal too."


@pytest.fixture(autouse=True)
def _private_gen_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CROME_AUDIT_GEN_CACHE", str(tmp_path / "gen" / "generations.sqlite"))


@pytest.fixture(scope="module")
def scorer(tiny_decoder_rm):
    return TinyScorer(tiny_decoder_rm)


# ------------------------------------------------------------------------------------------------ item 4


def _vllm_shaped_server(texts: list[str]):
    """vLLM's pooling routes as the adapter calls them (/version, /v1/models, /classify with input texts)."""

    def classify(payload):
        if "input" not in payload:
            return 400, {"error": {"message": "this test server takes the input form only"}}
        texts.extend(payload["input"])
        return 200, {"data": [{"index": i, "probs": [float(len(t))], "num_classes": 1}
                              for i, t in enumerate(payload["input"])]}

    routes = {("GET", "/version"): lambda _: (200, {"version": "0.32.0"}),
              ("GET", "/v1/models"): lambda _: (200, {"data": [{"id": "m", "root": "m", "max_model_len": 1024}]}),
              ("POST", "/classify"): classify}
    return _Server(None, routes, 0.0)


def test_vllm_input_form_fills_the_template_in_one_pass():
    sent: list[str] = []
    srv = _vllm_shaped_server(sent)
    srv.thread.start()
    try:
        rm = load_rm(f"vllm:{srv.url}", rm_args={"format": "input", "template": TEMPLATE})
        rm.score([PROMPT], [ANSWER])
    finally:
        srv.httpd.shutdown()
        srv.httpd.server_close()
    assert sent[-1] == FILLED


def test_sglang_and_openrlhf_fill_the_template_in_one_pass(tiny_decoder_rm, scorer):
    with sglang_server(tiny_decoder_rm, scorer=scorer) as srv:
        load_rm(f"sglang:{srv.url}", rm_args={"template": TEMPLATE}).score([PROMPT], [ANSWER])
        assert srv.log.texts[-1] == FILLED
    with openrlhf_server(tiny_decoder_rm, scorer=scorer) as srv:
        load_rm(f"openrlhf:{srv.url}", rm_args={"template": TEMPLATE}).score([PROMPT], [ANSWER])
        assert srv.log.texts[-1] == FILLED


def test_judge_rating_and_pairwise_prompts_are_filled_in_one_pass():
    with ScriptedChatServer(lambda body, n: (200, "Rating: 5", None, 0)) as srv:
        load_rm(f"judge:{srv.base_url}#m").score([PROMPT], [ANSWER])
        text = user_text(srv.requests[-1])
        assert f"[Question]\n{PROMPT}\n\n[Answer]\n{ANSWER}\n\nReply" in text
    with ScriptedChatServer(lambda body, n: (200, "A", None, 0)) as srv:
        other = "The other answer, B."
        load_rm(f"judge:{srv.base_url}#m", rm_args={"mode": "pairwise"}).prefer(PROMPT, ANSWER, other)
        # both orders are asked, possibly at once: the server may log them either way round
        texts = [user_text(body) for body in srv.requests[-2:]]
        assert any(f"[Question]\n{PROMPT}\n\n[Answer A]\n{ANSWER}\n\n[Answer B]\n{other}\n\nReply" in t
                   for t in texts), texts
        assert any(f"[Answer A]\n{other}\n\n[Answer B]\n{ANSWER}\n\nReply" in t for t in texts), texts


def test_dpo_context_and_text_are_filled_in_one_pass():
    from crome_audit.models.dpo import CausalFormatter
    from tests.tiny_models import local_tokenizer

    fmt = CausalFormatter(local_tokenizer(), 512, TEMPLATE)
    context, full = fmt.texts(PROMPT, ANSWER)
    assert full == FILLED
    assert context == "Q: Repeat after me: {response} and {prompt} are placeholders.\nA: "  # was "Q: Repeat after me: "
    assert full.startswith(context)


# ------------------------------------------------------------------------------------------------ item 5


@pytest.mark.parametrize("reply", ["A is worse than B.", "Answer A is wrong; B is correct.",
                                   "A and B are equally good.", "B is worse than A.", "A. B is better.",
                                   "[[A]] [[B]]", "A because it is longer", "It's a tie: A and B."])
def test_ambiguous_verdicts_are_parse_errors(reply):
    assert parse_verdict(reply) is None


@pytest.mark.parametrize("reply,want", [
    ("A", "A"), ("B.", "B"), ("[[B]]", "B"), ("**A**", "A"), ("Answer: B", "B"), ("Answer B is better.", "B"),
    ("A is better than B.", "A"), ("The better answer is B.", "B"), ("Verdict: A", "A"),
    ("A.\nAnswer A gives the right formula.", "A"),
])
def test_unambiguous_verdicts_count(reply, want):
    assert parse_verdict(reply) == want


@pytest.mark.parametrize("reply,want", [
    ("Rating: -3", None), ("Rating: 7.5", None), ("7.5/10", None), ("Rating: 0", None), ("Rating: 11", None),
    ("-3", None), ("Rating: 7.0", 7), ("Rating: 10", 10), ("Rating: 8/10", 8), ("**Rating:** 3", 3),
])
def test_ratings_outside_the_integer_scale_are_parse_errors(reply, want):
    assert parse_rating(reply) == want


def _answers(text):
    m = re.search(r"\[Answer A\]\n(.*)\n\n\[Answer B\]\n(.*)\n\nReply", text, re.S)
    return m.group(1), m.group(2)


def test_worse_than_replies_give_parse_errors_not_inverted_preferences():
    """A judge that prefers the longer answer but words it "X is worse than Y" (X the shorter): the old parser read
    the first letter as the verdict and turned every preference around (P = 0 for the longer answer)."""

    def worse_than(body, n):
        a, b = _answers(user_text(body))
        return 200, "A is worse than B." if len(a) < len(b) else "B is worse than A.", None, 0

    longer = ["A long and careful answer with the steps spelled out.", "Another long answer, with an example."]
    shorter = ["Short.", "No."]
    with ScriptedChatServer(worse_than) as srv:
        rm = load_rm(f"judge:{srv.base_url}#m", rm_args={"mode": "pairwise", "cache": "false"})
        probs = rm.prefer_many(["q1", "q2"], longer, shorter)
    info = rm.info()
    assert probs == [0.5, 0.5]  # was [0.0, 0.0]: "A is worse" read as a verdict for A
    assert info["parse_errors"] == info["verdicts"] == 4 and info["parse_error_rate"] == 1.0
