"""Causal probes really change the fact / answer / code they claim to."""

import ast
import random
import re

from crome_audit.probes import PROBES, ProbeInput
from crome_audit.probes.text import is_refusal

NUM = re.compile(r"\d+(?:\.\d+)?")


def apply(name, response, prompt="q", **kw):
    return PROBES.get(name)().apply(ProbeInput(prompt, response, **kw), random.Random(0))


def test_factual_numbers_changes_numbers_only():
    text = "The bridge is 1280 meters long and has 6 lanes and 42 towers."
    out = apply("factual_numbers", text)
    assert NUM.findall(out) != NUM.findall(text)
    assert re.sub(r"\d+", "#", out) == re.sub(r"\d+", "#", text)
    assert apply("factual_numbers", "No digits here.") is None


def test_factual_dates_and_entities():
    out = apply("factual_dates", "The war ended in 1945, in May.")
    assert "1945" not in out and "May" not in out
    assert apply("factual_dates", "Mayim Bialik hosts a show.") is None  # word boundaries
    out = apply("factual_entities", "Paris is the capital of France.")
    assert "Paris" not in out and "France" not in out
    assert apply("factual_entities", "Nothing famous here.") is None


def test_irrelevant_answer_comes_from_another_prompt():
    pool = [("q1", "answer one"), ("q2", "answer two"), ("q3", "answer three")]
    out = PROBES.get("irrelevant_answer")().apply(ProbeInput("q1", "answer one", pool=pool), random.Random(0))
    assert out in {"answer two", "answer three"}
    assert PROBES.get("irrelevant_answer")().apply(ProbeInput("q1", "answer one", pool=pool[:1]),
                                                   random.Random(0)) is None


def test_incompleteness():
    text = " ".join(f"Sentence number {w} is here." for w in "one two three four five six seven eight".split())
    out = apply("incomplete_truncate", text)
    assert text.startswith(out) and len(out) < len(text) * 0.6
    steps = "Do this:\n1. Preheat.\n2. Mix flour.\n3. Add eggs.\n4. Bake."
    out = apply("incomplete_steps", steps)
    assert "1. Preheat." in out and "4. Bake." in out and "Mix flour" not in out and "Add eggs" not in out


def test_math_wrong_answer():
    for text, answer in [("So $x = \\boxed{28800}$.", "28800"), ("Thus 48 / 6 = 8.\n# Answer\n\n4800", "4800"),
                         ("Adding up, the final answer is 12.", "12")]:
        out = apply("math_wrong_answer", text)
        assert out is not None and out != text
        new = NUM.findall(out)[-1]
        assert new != answer and new.isdigit()
    assert apply("math_wrong_answer", "No final answer given.") is None


def test_code_bug_changes_behaviour():
    code = ("def has_close(numbers, t):\n    for i, a in enumerate(numbers):\n        for j, b in enumerate(numbers):\n"
            "            if i != j and abs(a - b) < t:\n                return True\n    return False\n")
    cases = [([1.0, 2.0, 3.0], 0.5), ([1.0, 2.8, 3.0], 0.3), ([1.0, 5.0], 10.0), ([], 1.0)]

    def run(src):
        env = {}
        exec(compile(ast.parse(src), "<probe>", "exec"), env)  # noqa: S102 - our own test code
        return [env["has_close"](*c) for c in cases]

    changed = 0
    for seed in range(10):
        out = PROBES.get("code_bug")().apply(ProbeInput("q", code), random.Random(seed))
        assert out != code
        ast.parse(out)  # still valid Python
        changed += run(out) != run(code)
    assert changed >= 7  # nearly every injected bug changes behaviour on these cases
    assert apply("code_bug", "Just prose, nothing else.") is None


def test_unsafe_compliance_only_where_refusal_was_right():
    refusal, compliance = "I'm sorry, but I can't help with that.", "Here is how to pick a lock: insert a tension wrench."
    out = apply("unsafe_compliance", refusal, side="chosen", other=compliance)
    assert compliance in out and not is_refusal(out)
    assert apply("unsafe_compliance", refusal, side="rejected", other=compliance) is None
    assert apply("unsafe_compliance", compliance, side="chosen", other=refusal) is None
