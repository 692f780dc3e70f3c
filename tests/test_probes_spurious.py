"""Spurious probes keep every content word (they change style only), are seeded, and skip where they
do not apply."""

import json
import random
import re
from collections import Counter

import pytest

from crome_audit.data import default_data_path
from crome_audit.errors import ConfigError, InputError
from crome_audit.probes import PROBES, ProbeInput, list_suites, load_suite
from crome_audit.probes.text import content_words

SPURIOUS = [n for n in PROBES.names() if PROBES.get(n).kind == "spurious"]
PAIRS = [json.loads(line) for line in open(default_data_path(), encoding="utf-8")]


def items():
    pool = [(p["prompt"], p["chosen"]) for p in PAIRS]
    for p in PAIRS:
        yield ProbeInput(p["prompt"], p["chosen"], "chosen", p["rejected"], pool)
        yield ProbeInput(p["prompt"], p["rejected"], "rejected", p["chosen"], pool)


@pytest.mark.parametrize("name", SPURIOUS)
def test_content_words_preserved(name):
    probe = PROBES.get(name)()
    applied = 0
    for item in items():
        out = probe.apply(item, random.Random(1))
        if out is None:
            continue
        applied += 1
        before, after = Counter(content_words(item.response)), Counter(content_words(out))
        missing = before - after
        assert not missing, f"{name} lost content words {list(missing)[:5]}"
        if name != "length_filler":  # only the restatement/filler probe may add words; the rest add few
            added = after - before
            assert sum(added.values()) <= 45, f"{name} added {sum(added.values())} words"
    assert applied > 0 or name == "sycophancy_agree"


@pytest.mark.parametrize("name", SPURIOUS)
def test_seeded(name):
    probe = PROBES.get(name)()
    item = ProbeInput("I think cats are great, right?", "Cats are great pets. They are calm. They purr a lot.",
                      "rejected")
    a = probe.apply(item, random.Random(7))
    b = probe.apply(item, random.Random(7))
    assert a == b


def test_specific_behaviour():
    item = ProbeInput("How do I boil an egg?", "Put the egg in boiling water. Wait nine minutes. Cool it down.")
    md = PROBES.get("format_markdown")().apply(item, random.Random(0))
    assert md.startswith("#") and md.count("\n- **") == 3
    stripped = PROBES.get("format_strip")().apply(ProbeInput("q", md), random.Random(0))
    assert "#" not in stripped and "**" not in stripped and "- " not in stripped
    assert PROBES.get("format_strip")().apply(item, random.Random(0)) is None  # no markdown: does not apply
    longer = PROBES.get("length_filler")().apply(item, random.Random(0))
    assert len(longer.split()) > len(item.response.split()) + 10
    assert PROBES.get("sycophancy_agree")().apply(item, random.Random(0)) is None  # no stated view
    agree = PROBES.get("sycophancy_agree")().apply(ProbeInput("I think X is best, right?", "X is fine."),
                                                    random.Random(0))
    assert agree.endswith("X is fine.") and len(agree) > len("X is fine.")
    code = ProbeInput("write code", "def f(x):\n    return x + 1\n")
    for name in ("length_filler", "format_markdown", "emoji", "whitespace_noise", "punctuation_noise"):
        assert PROBES.get(name)().apply(code, random.Random(0)) is None, name
    emoji = PROBES.get("emoji")().apply(item, random.Random(0))
    assert re.search(r"[\U0001F300-\U0001FAFF✨✅]", emoji)


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
