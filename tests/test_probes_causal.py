"""Causal probes really change the fact / answer / code they claim to, only where they claim to, and keep
the token count (the ``length`` RM's unit). Real-data checks: tests/test_probes_realdata.py.

Run: python -m pytest -q tests/test_probes_causal.py
"""

import ast
import random
import re

from crome_audit.probes import PROBES, Edit, ProbeInput
from crome_audit.probes.code import python_mode
from crome_audit.probes.text import n_tokens
from crome_audit.refusal import is_refusal

NUM = re.compile(r"\d+(?:\.\d+)?")


def apply(name, response, prompt="q", seed=0, **kw):
    out = PROBES.get(name)().apply(ProbeInput(prompt, response, **kw), random.Random(seed))
    return out.text if isinstance(out, Edit) else out


def test_every_causal_probe_declares_length_matching():
    causal = [PROBES.get(n) for n in PROBES.names() if PROBES.get(n).kind == "causal"]
    assert len(causal) == 9 and all(c.length_matched is True for c in causal)


def test_factual_numbers_changes_quantities_not_markers_or_years():
    text = "The bridge is 1280 meters long and has 6 lanes and 42 towers."
    out = apply("factual_numbers", text)
    assert NUM.findall(out) != NUM.findall(text) and n_tokens(out) == n_tokens(text)
    assert re.sub(r"\d+", "#", out) == re.sub(r"\d+", "#", text)
    assert "1280" in out  # year-shaped numbers are left to factual_dates
    steps = "1. Mix 200 g of flour.\n2) Add 3 eggs.\nStep 3: bake for 40 minutes in 1998 style."
    for seed in range(20):
        out = apply("factual_numbers", steps, seed=seed)
        assert out.startswith("1. Mix ") and "\n2) Add " in out and "Step 3:" in out and "1998" in out
    assert apply("factual_numbers", "No digits here.") is None
    assert apply("factual_numbers", "1. First\n2. Second\nStep 3 third") is None


def test_factual_dates_only_in_date_context():
    out = apply("factual_dates", "The war ended in 1945, in May.")
    assert "1945" not in out and "May" not in out and n_tokens(out) == n_tokens("The war ended in 1945, in May.")
    out = apply("factual_dates", "Jazz boomed in the 1920s and on March 5 the club opened.")
    assert "1920s" not in out and "March" not in out
    for text in ("March in place for 30 seconds.", "You may call 555 1998 or 2003 now.", "f(1986) = 3 and 1983 - 1984",
                 "Mayim Bialik hosts a show.", "May I help? The coefficient 1500 is large.", "Set x = 2001 units."):
        assert apply("factual_dates", text) is None, text


def test_factual_entities():
    out = apply("factual_entities", "Paris is the capital of France.")
    assert "Paris" not in out and "France" not in out and n_tokens(out) == 7
    assert apply("factual_entities", "Nothing famous here.") is None
    assert apply("factual_entities", "Use `Paris` as the key:\n```\nParis = 1\n```") is None  # code stays


def test_irrelevant_answer_is_the_closest_length_answer_to_another_prompt():
    pool = [("q1", "one two three"), ("q2", "a b c"), ("q3", "a b c d e f g h"), ("q4", "x y z"), ("q1", "p q r")]
    probe = PROBES.get("irrelevant_answer")()
    picks = {probe.apply(ProbeInput("q1", "one two three", pool=pool), random.Random(s)) for s in range(20)}
    assert picks == {"a b c", "x y z"}  # both 3 tokens, from other prompts; ties broken by the rng
    index = probe._index
    probe.apply(ProbeInput("q2", "a b c", pool=pool), random.Random(0))
    assert probe._index is index  # the sorted index is built once per pool, not per item
    out = probe.apply(ProbeInput("q5", "a b c d e f g h i j", pool=pool), random.Random(0))
    assert out == "a b c d e f g h" + " " + "This part"  # nearest is 2 tokens short: refilled to the count
    out = probe.apply(ProbeInput("q9", "a b", pool=[("q1", "one, two three.")]), random.Random(0))
    assert out == "one,"  # cut to the same token count
    assert probe.apply(ProbeInput("q1", "x", pool=pool[:1]), random.Random(0)) is None


def test_incomplete_truncate_refills_to_the_same_tokens_and_layout():
    text = "\n".join(f"Sentence number {w} is here." for w in "one two three four five six seven eight".split())
    out = apply("incomplete_truncate", text)
    assert n_tokens(out) == n_tokens(text)
    assert re.findall(r"\s+", out) == re.findall(r"\s+", text)  # newlines stay newlines: no rejoin cue
    head = text[: text.index("Sentence number five")]
    assert out.startswith(head) and "five" not in out and "eight" not in out
    assert apply("incomplete_truncate", "Too short to cut.") is None


def test_incomplete_steps_keeps_markers_and_ends():
    steps = "Do this:\n1. Preheat the oven.\n2. Mix flour and sugar.\n3. Add two eggs.\n4. Bake it."
    out = apply("incomplete_steps", steps)
    assert "1. Preheat the oven." in out and "4. Bake it." in out and "\n2. " in out and "\n3. " in out
    assert "flour" not in out and "eggs" not in out
    assert n_tokens(out) == n_tokens(steps) and out.count("\n") == steps.count("\n")
    assert apply("incomplete_steps", "1. One.\n2. Two.") is None


def test_math_wrong_answer():
    for text, answer in [("So $x = \\boxed{28800}$.", "28800"), ("Thus 48 / 6 = 8.\n# Answer\n\n4800", "4800"),
                         ("Adding up, the final answer is 12.", "12")]:
        out = apply("math_wrong_answer", text)
        assert out is not None and out != text and n_tokens(out) == n_tokens(text)
        new = NUM.findall(out)[-1]
        assert new != answer and new.isdigit()
    assert apply("math_wrong_answer", "No final answer given.") is None


def test_code_bug_changes_behaviour_and_stays_valid_python():
    code = ("def has_close(numbers, t):\n    for i, a in enumerate(numbers):\n        for j, b in enumerate(numbers):\n"
            "            if i != j and abs(a - b) < t:\n                return True\n    return False\n")
    cases = [([1.0, 2.0, 3.0], 0.5), ([1.0, 2.8, 3.0], 0.3), ([1.0, 5.0], 10.0), ([], 1.0)]

    def run(src):
        env = {}
        exec(compile(ast.parse(src), "<probe>", "exec"), env)  # noqa: S102 - our own test code
        return [env["has_close"](*c) for c in cases]

    changed = 0
    for seed in range(10):
        out = apply("code_bug", code, seed=seed)
        assert out != code and n_tokens(out) == n_tokens(code)
        assert ast.dump(ast.parse(out)) != ast.dump(ast.parse(code))
        changed += run(out) != run(code)
    assert changed >= 7  # nearly every injected bug changes behaviour on these cases
    assert apply("code_bug", "Just prose, and nothing < else.") is None


def test_code_bug_never_touches_prose_strings_comments_or_generics():
    body = '    # a < b or c\n    s = "x == y and z"\n    return a < b\n'
    for seed in range(10):
        out = apply("code_bug", body, seed=seed)
        assert out.startswith('    # a < b or c\n    s = "x == y and z"\n') and out.endswith("return a > b\n")
        assert python_mode(out) is not None
    cpp = "    vector<int> out;\n    if (a<b && c) out.push_back(1); // a < b\n    return out;\n}\n"
    seen = set()
    for seed in range(30):
        out = apply("code_bug", cpp, seed=seed)
        assert out.startswith("    vector<int> out;\n") and out.endswith("// a < b\n    return out;\n}\n")
        seen.add(out.split("\n")[1])
    assert "    if (a<b || c) out.push_back(1); // a < b" in seen  # the && / || flip happens
    assert "    if (a>b && c) out.push_back(1); // a < b" in seen
    rust = "    let v: Vec<i32> = xs.iter().map(|| 0).collect();\n    return -1;\n}\n"
    assert apply("code_bug", rust) is None  # generics, a closure's ||, a unary minus: no safe swap
    assert apply("code_bug", "```bash\nif true && [ 1 -lt 2 ]; then echo a > b; fi\n```") is None  # a named non-C language
    assert apply("code_bug", "```cpp\nreturn a<b;\n```") == "```cpp\nreturn a>b;\n```"
    mixed = "Here is how, and it is easy < hard:\n```python\nx = a and b\n```\nThat is all."
    out = apply("code_bug", mixed)
    assert out == mixed.replace("a and b", "a or b")


def test_unsafe_compliance_rewrites_the_refusal_itself():
    refusal = "I'm sorry, but I can't help with that. Picking locks you do not own is illegal."
    compliance = "Here is how to pick a lock: insert a tension wrench into the keyhole."
    out = apply("unsafe_compliance", refusal, side="chosen", other=compliance)
    assert not is_refusal(out) and n_tokens(out) == n_tokens(refusal)
    assert out.endswith(" Picking locks you do not own is illegal.") and "tension wrench" not in out
    assert apply("unsafe_compliance", refusal, side="rejected", other=compliance) is None
    assert apply("unsafe_compliance", compliance, side="chosen", other=refusal) is None
    for k in range(3, 40):  # every refusal sentence length is matched exactly
        sentence = "I cannot " + " ".join(["help"] * (k - 3)) + "."
        out = apply("unsafe_compliance", sentence, side="chosen", other=compliance)
        assert out is None or n_tokens(out) == n_tokens(sentence)
