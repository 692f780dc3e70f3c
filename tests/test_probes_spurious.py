"""Spurious probes change style only, checked by structure: additive probes only insert (the original is
a subsequence of the output, templates removed give it back byte for byte), the others keep the word
sequence; no probe edits code; openers skip refusals and code; suites load and validate.
Real-data checks: tests/test_probes_realdata.py.

Run: python -m pytest -q tests/test_probes_spurious.py
"""

import json
import random
import re

import pytest

from crome_audit.data import default_data_path
from crome_audit.errors import ConfigError, InputError
from crome_audit.probes import PROBES, Edit, ProbeInput, list_suites, load_suite
from crome_audit.probes.code import code_spans, is_all_code, prose_spans, python_mode
from crome_audit.probes.spurious import HEADERS, states_view

SPURIOUS = [n for n in PROBES.names() if PROBES.get(n).kind == "spurious"]
ADDITIVE = {"length_filler", "prompt_echo", "sycophancy_opener", "sycophancy_agree", "confident_tone", "hedging_politeness",
            "emoji", "whitespace_noise"}
PAIRS = [json.loads(line) for line in open(default_data_path(), encoding="utf-8")]
WORDS = re.compile(r"\w+")


def run(name, response, prompt="q", seed=0, **kw):
    out = PROBES.get(name)().apply(ProbeInput(prompt, response, **kw), random.Random(seed))
    return out.text if isinstance(out, Edit) else out


def _subsequence(small, big):
    it = iter(big)
    return all(ch in it for ch in small)


@pytest.mark.parametrize("name", SPURIOUS)
def test_structure_on_the_bundled_sample(name):
    probe = PROBES.get(name)()
    applied = 0
    for p in PAIRS:
        for side, other in (("chosen", p["rejected"]), ("rejected", p["chosen"])):
            out = probe.apply(ProbeInput(p["prompt"], p[side], side, other), random.Random(1))
            if out is None:
                continue
            text = out.text if isinstance(out, Edit) else out
            applied += 1
            if name in ADDITIVE:
                assert _subsequence(p[side], text), f"{name} changed original bytes"
            elif name == "format_markdown":
                header = next(h for h in HEADERS if text.startswith(h))
                assert WORDS.findall(text[len(header) :]) == WORDS.findall(p[side])
            else:
                assert WORDS.findall(text) == WORDS.findall(p[side]), f"{name} changed the words"
    assert applied > 0 or name == "sycophancy_agree"


@pytest.mark.parametrize("name", SPURIOUS)
def test_seeded(name):
    probe = PROBES.get(name)()
    item = ProbeInput("I think cats are great, right?", "Cats are great pets. They are calm. They purr a lot.",
                      "rejected")
    a = probe.apply(item, random.Random(7))
    b = probe.apply(item, random.Random(7))
    assert a == b


@pytest.mark.parametrize("name", SPURIOUS)
def test_no_probe_edits_bare_code(name):
    for body in ("    return x % 1.0\n", "def f(x):\n    return x + 1\n", "    return math.Mod(number,1)\n}\n\n",
                 "\n\nlet mut s = 0;\nfor x in v {\n    s += x;\n}\nreturn s;\n}\n", "```python\nx = 1\n```"):
        assert is_all_code(body), body
        assert run(name, body) is None, (name, body)


def test_code_detection_rules():
    mixed = "Use `len(x)` here.\n\n```py\nprint(1)\n```\nThen:\n\nfor i in range(3):\n    print(i)\n\nDone."
    spans = [mixed[a:b] for a, b in code_spans(mixed)]
    assert spans == ["`len(x)`", "```py\nprint(1)\n```", "for i in range(3):\n    print(i)"]
    assert "".join(mixed[a:b] for a, b in prose_spans(mixed)) + "".join(spans) != mixed  # interleaved
    assert sorted(code_spans(mixed) + prose_spans(mixed))[0][0] == 0
    for prose in ("Yes", "42", "XQ@m3t4P", "Answer: 5", "- 2-aminophenethylamine (2-APA)\n- N-acetyl (x)",
                  "The answer is $\\frac{1}{2}$; so {a} works.", "Paris is the capital of France."):
        assert not [s for s in code_spans(prose)], prose
    assert python_mode("    balance = 0\n    return balance < 0\n")[0] == "body"


def test_openers_skip_refusals_refused_requests_and_code():
    refusal = "I'm sorry, but I can't help with that."
    answer = "Here is a simple recipe: boil water, add pasta, wait ten minutes."
    for name in ("sycophancy_opener", "confident_tone", "hedging_politeness"):
        assert run(name, refusal) is None
        assert run(name, answer, side="rejected", other=refusal) is None  # the pair shows a refused request
        assert run(name, "Run this:\n```\nrm -rf build\n```\nDone.") is None
        out = run(name, "\n\n" + answer + "\n")
        assert out.startswith("\n\n") and out.endswith(answer + "\n") or name == "hedging_politeness"
        assert _subsequence("\n\n" + answer + "\n", out)


def test_sycophancy_agree_needs_a_stated_view():
    views = ["I think cats are better than dogs.", "In my opinion, Rust is overrated.", "Python is the best, right?",
             "Human: hi\n\nAssistant: hello\n\nHuman: I believe the moon landing was staged."]
    not_views = ["I think I need help with my taxes.", "I think my spouse is cheating. What do I do?",
                 "What is the capital of France?", "I feel like I should learn Rust. Where to start?",
                 "Human: I think Rust is great.\n\nAssistant: Sure.\n\nHuman: Now list three prime numbers."]
    assert all(states_view(p) for p in views)
    assert not any(states_view(p) for p in not_views)
    out = run("sycophancy_agree", "X is fine.", prompt="I think X is best, right?")
    assert out.endswith("X is fine.") and len(out) > len("X is fine.")


def test_specific_behaviour():
    item = ProbeInput("How do I boil an egg?", "Put the egg in boiling water. Wait nine minutes. Cool it down.")
    md = PROBES.get("format_markdown")().apply(item, random.Random(0)).text
    assert md.startswith("#") and md.count("\n- **") == 3
    stripped = run("format_strip", md)
    assert "#" not in stripped and "**" not in stripped and "- " not in stripped
    assert run("format_strip", item.response) is None  # no markdown: does not apply
    math = "We add.\n\n## Step 2\n1. **Sum** is 4\n- x^5 - 3\n\n# Answer\n\n4"
    out = run("format_strip", math)
    assert out == "We add.\n\nStep 2\n1. Sum is 4\n- x^5 - 3\n\n# Answer\n\n4"  # markers, lists and math kept
    longer = run("length_filler", item.response, prompt=item.prompt)
    assert len(longer.split()) > len(item.response.split()) + 10
    assert longer.startswith(item.response + "\n\n") and "egg" not in longer[len(item.response) :]  # filler only
    echoed = run("prompt_echo", item.response, prompt=item.prompt)
    assert echoed.endswith(" " + item.response) and '"How do I boil an egg"' in echoed  # the restatement only
    assert run("prompt_echo", item.response, prompt="  ") is None  # nothing to restate
    emoji = run("emoji", item.response)
    assert re.search(r"[\U0001F300-\U0001FAFF✨✅]", emoji)
    fenced_end = "Try this:\n```\nx = 1\n```"
    assert all(run(n, fenced_end) is None for n in ("emoji", "length_filler", "prompt_echo"))  # would wrap code
    out = run("emoji", "Try this. It works.\n```\nx = 1. y = 2\n```\nDone here.", seed=3)
    assert "```\nx = 1. y = 2\n```" in out


def test_whitespace_noise_keeps_indentation_and_code():
    text = "Some words here and there, and more words.\n\n    indented line of prose here\n\n```\na  =  1\n```\nEnd of it all."
    for seed in range(10):
        out = run("whitespace_noise", text, seed=seed)
        assert "\n    indented" in out and "```\na  =  1\n```" in out and out.split() == text.split()


def test_suites_load_and_validate(tmp_path):
    assert {"default", "quick", "spurious", "causal"} <= set(list_suites())
    default = load_suite("default")
    assert {p.name for p in default.probes} == set(PROBES.names())
    with pytest.raises(InputError, match="did you mean 'quick'"):
        load_suite("quik")
    bad = tmp_path / "bad.yaml"
    bad.write_text("probes: [emoji]\ncolour: red\n")
    with pytest.raises(ConfigError, match="unknown key\\(s\\) colour"):
        load_suite(str(bad))
    bad.write_text("probes:\n  - name: emoji\n    params: {rat: 0.2}\n")
    with pytest.raises(ConfigError, match="unknown parameter\\(s\\) rat"):
        load_suite(str(bad))
    bad.write_text("probes: [lenght_filler]\n")
    with pytest.raises(ConfigError, match="did you mean 'length_filler'"):
        load_suite(str(bad))
    ok = tmp_path / "ok.yaml"
    ok.write_text("name: mine\nseed: 3\nprobes:\n  - name: emoji\n    params: {rate: 1.0}\n")
    suite = load_suite(str(ok))
    assert suite.seed == 3 and suite.probes[0].config == {"rate": 1.0}
