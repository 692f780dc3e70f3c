"""Generator tasks against a real local OpenAI-compatible server whose answers are chosen per request:
rewrite validation counts (empty / unchanged / refused / changed too much), rubric parsing and
fallback, style neutrals, paraphrase, back-translation, Best-of-N candidates.
Run: python -m pytest -q tests/test_generate_tasks.py"""

import re

import pytest

from crome_audit.errors import ConfigError, InputError
from crome_audit.generate import load_generator
from crome_audit.generate.tasks import (
    CAUSAL_LIMITS,
    RewriteLimits,
    back_translate,
    best_of_n_candidates,
    clean_output,
    counterfactual_rewrites,
    generate_rubrics,
    neutral_restyles,
    paraphrase,
    validate_rewrite,
)
from tests.generate_servers import ScriptedChatServer, user_text

ANSWER = ("The Eiffel Tower is in Paris and was completed in 1889 for the World's Fair. It is about 330 metres "
          "tall and was designed by the company of Gustave Eiffel.")
DEGRADED = ANSWER.replace("1889", "1902").replace("330", "210")


@pytest.fixture(autouse=True)
def _no_user_cache(monkeypatch):
    monkeypatch.delenv("CROME_AUDIT_GEN_CACHE", raising=False)


def _original(text: str) -> str:
    """The answer / text that the rendered template embeds."""
    m = re.search(r"\n(?:ANSWER|TEXT):\n(.*?)\n\nOutput only", text, re.S)
    return m.group(1) if m else ""


def rewrite_server(body, n_call):
    text = user_text(body)
    orig = _original(text)
    prompt = re.search(r"USER REQUEST(?: \(for context only\))?:\n(.*?)\n\n", text, re.S).group(1)
    case = prompt.split()[0]
    replies = {
        "ok": DEGRADED,
        "preamble": "Here is the rewritten answer:\n\n" + DEGRADED,
        "empty": "   \n ",
        "same": orig + "\n",
        "refuse": "I'm sorry, but I can't rewrite this answer to contain false information.",
        "asai": "As an AI language model, I will not modify this answer.",
        "long": orig * 8,
        "offtopic": "Bananas are yellow fruits rich in potassium that grow in tropical climates, in big bunches "
                    "on large herbaceous plants, and they are eaten all over the world.",
        "safe": "I'm sorry, but I can't help with that. If you are worried about someone, please contact the police.",
        "restyle": ANSWER.replace("The Eiffel Tower is", "Paris is home to the Eiffel Tower, which is"),
    }
    return 200, replies[case], {}, 0


def _gen(server, **opts):
    query = "&".join(f"{k}={v}" for k, v in {"backoff": 0.01, "progress": "false", **opts}.items())
    return load_generator(f"openai:{server.base_url}#scripted?{query}")


def test_counterfactual_rewrites_validate_and_count():
    cases = ["ok", "preamble", "empty", "same", "refuse", "asai", "long", "offtopic"]
    items = [{"prompt": f"{c} When was the Eiffel Tower built?", "response": ANSWER, "attribute": "factuality",
              "direction": "degrade", "id": str(i)} for i, c in enumerate(cases)]
    with ScriptedChatServer(rewrite_server) as server:
        res = counterfactual_rewrites(_gen(server), items)
    assert [r.status for r in res] == ["ok", "ok", "empty", "unchanged", "refused", "refused", "changed_too_much",
                                       "changed_too_much"]
    assert res.counts == {"ok": 2, "empty": 1, "unchanged": 1, "refused": 2, "changed_too_much": 2, "total": 8}
    assert res.rejected == {"empty": 1, "unchanged": 1, "refused": 2, "changed_too_much": 2}
    assert res.rewrites[0] == DEGRADED and res.rewrites[1] == DEGRADED  # preamble stripped
    assert res.rewrites[2:] == [None] * 6
    assert "length ratio" in res[6].reason and "kept" in res[7].reason
    assert res[0].meta == {"attribute": "factuality", "direction": "degrade"}
    # the rewrite prompt holds the original answer and the factuality instruction
    assert all("factually WORSE" in user_text(b) and ANSWER in user_text(b) for b in server.requests)


def test_refusal_is_a_valid_safety_upgrade_and_aliases():
    harmful = "Sure, here is how to pick the lock on your neighbour's door: take a tension wrench and a pick."
    items = [{"prompt": "safe How do I get into my neighbour's house?", "response": harmful, "attribute": "safety",
              "direction": "upgrade"},
             {"prompt": "safe How do I get into my neighbour's house?", "response": harmful,
              "attribute": "factuality", "direction": "upgrade"},
             {"prompt": "ok Eiffel?", "response": ANSWER, "attribute": "coherence", "direction": "degrade"},
             {"prompt": "restyle Eiffel?", "response": ANSWER, "attribute": "style", "direction": "neutral"}]
    with ScriptedChatServer(rewrite_server) as server:
        res = counterfactual_rewrites(_gen(server), items)
    assert [r.status for r in res] == ["ok", "refused", "ok", "ok"]
    sent = [user_text(b) for b in server.requests]  # concurrent: any order
    assert any("LESS CLEAR" in t and "ok Eiffel?" in t for t in sent)  # coherence -> clarity template
    assert any("ONLY its style" in t and "restyle Eiffel?" in t for t in sent)


def test_rewrite_input_errors():
    with pytest.raises(InputError, match="rewrite item 0: missing field 'attribute'"):
        counterfactual_rewrites(None, [{"prompt": "p", "response": "r", "direction": "degrade"}])
    with pytest.raises(ConfigError, match="unknown causal attribute 'lenght'"):
        counterfactual_rewrites(None, [{"prompt": "p", "response": "r", "attribute": "lenght",
                                        "direction": "degrade"}])


def test_validate_rewrite_thresholds():
    orig = " ".join(f"w{i}" for i in range(20))
    half = " ".join(f"w{i}" for i in range(10))
    assert validate_rewrite(orig, half)[1] == "ok"  # ratio 0.5, kept 0.5
    assert validate_rewrite(orig, "w0 w1 w2")[1] == "changed_too_much"  # ratio 0.15 < 0.2
    strict = RewriteLimits(min_length_ratio=0.8, max_length_ratio=1.2, min_overlap=0.9)
    assert validate_rewrite(orig, half, strict)[1] == "changed_too_much"
    # short originals skip the ratio/overlap checks (an upgrade of "I don't know" may be long)
    assert validate_rewrite("I don't know.", "Paris is the capital of France, on the Seine.")[1] == "ok"
    assert validate_rewrite(orig, "x " * 2001)[1] == "changed_too_much"
    assert validate_rewrite(orig, "'" + half + "'")[0] == half
    assert validate_rewrite("I'm sorry, I can't help.", "I'm sorry, I cannot help with that.")[1] == "ok"
    assert validate_rewrite(orig, "Sorry, I cannot do that.")[1] == "refused"
    assert validate_rewrite(orig, "Sorry, I cannot do that.", allow_refusal=True)[1] == "ok"
    assert validate_rewrite(orig, "Sorry, no.", allow_refusal=True)[1] == "changed_too_much"  # ratio 0.1
    assert validate_rewrite(orig, orig.upper() + " ", CAUSAL_LIMITS)[1] == "unchanged"
    assert validate_rewrite(orig, orig, allow_unchanged=True)[1] == "ok"
    assert clean_output("Sure! Here's the revised answer:\nText") == "Text"
    assert clean_output("Rewritten answer: Text") == "Text"


def rubric_server(body, n_call):
    prompt = user_text(body).rsplit("USER REQUEST:\n", 1)[1].strip()
    replies = {"json": '["Accuracy", "relevance", "vibes", "relevance"]',
               "fenced": 'Here you go:\n```json\n["safety", "code_correctness"]\n```',
               "object": '{"attributes": [{"name": "clarity"}, {"name": "completeness"}]}',
               "garbage": "I think this prompt is about cooking.",
               "none": '["length", "tone"]'}
    return 200, replies[prompt], {}, 0


def test_rubrics_parse_validate_and_fall_back():
    with ScriptedChatServer(rubric_server) as server:
        gen = _gen(server)
        res = generate_rubrics(gen, ["json", "fenced", "object", "garbage", [{"role": "user", "content": "none"}]])
        assert all("- code_correctness" in user_text(b) and b["temperature"] == 0 for b in server.requests)
        assert [r.status for r in res] == ["partial", "ok", "ok", "fallback", "fallback"]
        assert res[0].attributes == ["factuality", "relevance"] and res[0].dropped == ["vibes"]
        assert res[1].attributes == ["safety", "code_correctness"]
        assert res[2].attributes == ["clarity", "completeness"]
        assert res[3].attributes == ["factuality", "relevance", "completeness", "clarity"]
        assert res[4].dropped == ["length", "tone"]
        assert res.counts == {"ok": 2, "partial": 1, "fallback": 2, "total": 5}
        assert res.rubrics[3] is None and res.rubrics[1] == ["safety", "code_correctness"]
        # a caller's own attribute names (aliases) are listed in the prompt and matched
        own = generate_rubrics(gen, ["object"], attributes=["coherence", "completeness", "safety"])
        assert own[0].attributes == ["coherence", "completeness"]
        assert "- coherence" in user_text(server.requests[-1])


def text_server(body, n_call):
    text = user_text(body)
    orig = _original(text)
    if "into English" in text:
        return 200, orig.replace("[FR] ", ""), {}, 0
    if "into French" in text:
        return 200, "" if orig.startswith("blank") else "[FR] " + orig, {}, 0
    if orig.startswith("same"):
        return 200, orig, {}, 0
    return 200, orig.replace("quick", "fast"), {}, 0


def test_paraphrase_and_back_translation():
    texts = ["the quick brown fox jumps over the lazy dog near the river bank today",
             "same text comes back from the paraphraser unchanged here"]
    with ScriptedChatServer(text_server) as server:
        gen = _gen(server)
        para = paraphrase(gen, texts)
        assert [r.status for r in para] == ["ok", "unchanged"]
        assert para[0].text == texts[0].replace("quick", "fast")
        bt = back_translate(gen, [texts[0], "blank answer here"], pivot="French")
        assert [r.status for r in bt] == ["ok", "empty"]
        assert bt[0].text == texts[0] and bt[0].meta["pivot_text"] == "[FR] " + texts[0]
        assert bt[1].meta["stage"] == "to_pivot" and bt.counts["empty"] == 1
        restyled = neutral_restyles(gen, [{"prompt": "restyle Eiffel?", "response": ANSWER}])
        assert restyled.counts["total"] == 1


def test_best_of_n_candidates_shape():
    with ScriptedChatServer(lambda body, n: (200, f"cand {body['seed']}", {}, 0)) as server:
        cands = best_of_n_candidates(_gen(server), ["a", [{"role": "user", "content": "b"}]], n=3,
                                     temperature=0.9, seed=1)
    assert [len(c) for c in cands] == [3, 3] and len({x for c in cands for x in c}) == 6
    assert {b["temperature"] for b in server.requests} == {0.9}
