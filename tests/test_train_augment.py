"""The offline causal augmentations and style ties do not leak length or whitespace into the labels, and each
edit is what its name says. Most checks run on the real HH-RLHF harmless-base test file (../shared/data).

    python -m pytest -q tests/test_train_augment.py
"""

import random
import re
import statistics
from collections import Counter, defaultdict

import pytest

from crome_audit.data import load_pairs
from crome_audit.probes import PROBES
from crome_audit.probes import spurious as audit_spurious
from crome_audit.probes.base import ProbeInput
from crome_audit.probes.text import content_words
from crome_audit.train.augment import augment_pairs, donor_pool
from crome_audit.train.config import AugmentConfig
from crome_audit.train.interventions import (
    COMPLIANCE,
    DEFERRALS,
    INTERVENTIONS,
    Context,
    DonorPool,
    all_interventions,
    length_neutral,
    n_tokens,
    replace_spans,
    sentence_spans,
)
from crome_audit.train.rubrics import build_rubrics
from crome_audit.train.style import STYLES, all_styles, style_tie

HH = "hh-rlhf/harmless-base-test.jsonl.gz"
TEXT = "Paris is the capital of France.  It has many museums and the river Seine.\nTourists can visit the Louvre."


@pytest.fixture(scope="module")
def hh(shared_data):
    pairs, _ = load_pairs(str(shared_data / HH), skip_invalid=True)
    return pairs


@pytest.fixture(scope="module")
def hh_augmented(hh):
    cfg = AugmentConfig(max_causal_per_pair=2, neutral_ratio=0.5, seed=0)
    rubrics, _ = build_rubrics(hh, cfg)
    return augment_pairs("crome", hh, rubrics, cfg)


def ws_runs(text):
    return Counter(m.group() for m in re.finditer(r"\s+", text) if m.group() != " ")


def test_edits_are_span_local_and_keep_separators():
    rng = random.Random(0)
    for name in ("train.coherence.sentence_shuffle", "train.coherence.repeat_sentence", "train.factuality.negation",
                 "train.completeness.drop_point"):
        e = INTERVENTIONS.get(name).edit(TEXT, rng)
        assert e is not None, name
        assert replace_spans(TEXT, e.spans) == e.text
        for s, t, _ in e.spans:  # spans never start or end on whitespace: separators stay byte-identical
            assert not TEXT[s].isspace() and not TEXT[t - 1].isspace()
        assert "  " in e.text and "\n" in e.text, (name, e.text)  # the double space and the line break survive
    shuffled = INTERVENTIONS.get("train.coherence.sentence_shuffle").apply(TEXT, random.Random(1))
    assert sorted(shuffled) == sorted(TEXT)  # same characters, other order


def test_negation_grammar():
    neg = INTERVENTIONS.get("train.factuality.negation")
    outs = {neg.apply("The store has been closed since May.", random.Random(s)) for s in range(10)}
    assert outs == {"The store has not been closed since May."}
    assert neg.apply("It has a garden.", random.Random(0)) is None  # main-verb 'has' is left alone (no "does not have")
    assert neg.apply("Is it true? It is.", random.Random(0)) is None  # never "Is not it" / a sentence-final aux
    assert neg.apply("You can't do that.", random.Random(0)) == "You can do that."
    assert neg.apply("I don’t like it.", random.Random(0)) == "I do like it."


def test_safety_edit_acts_only_on_refusal_sentences_of_refusals():
    edit = INTERVENTIONS.get("train.safety.refusal_to_compliance")
    # no refusal: 'safe', 'professional', 'consent' are content, never deleted
    assert edit.apply("Wear gloves to stay safe. Ask a professional electrician. Get consent first.",
                      random.Random(0)) is None
    assert edit.apply("I'm sorry to hear that. Here is a recipe for bread.", random.Random(0)) is None
    text = "I'm sorry, I can't help you with that.  Stealing is a crime.  Maybe talk to a counselor."
    e = edit.edit(text, random.Random(0))
    assert len(e.spans) == 1 and text[e.spans[0][0]:e.spans[0][1]] == "I'm sorry, I can't help you with that."
    assert e.spans[0][2] in COMPLIANCE or all(p in COMPLIANCE for p in re.split(r"(?<=\.) ", e.spans[0][2]))
    assert e.text.endswith("  Stealing is a crime.  Maybe talk to a counselor.")


def test_drop_point_is_not_the_audits_truncation():
    text = ("Start with the flour.  Then add two eggs and mix them in slowly for a minute.  Bake it for an hour.  "
            "Let it cool before you cut it.")
    e = INTERVENTIONS.get("train.completeness.drop_point").edit(text, random.Random(0))
    (s, t, new), = e.spans
    assert text[s:t] in sentences_of(text)[1:-1]  # a middle point goes; first and last stay
    assert e.text.startswith("Start with the flour.") and e.text.endswith("Let it cool before you cut it.")
    assert any(new.startswith(d) for d in DEFERRALS) and length_neutral(text, e.text)
    truncated = PROBES.get("incomplete_truncate")().apply(
        ProbeInput(prompt="How?", response=text, side="chosen"), random.Random(0))
    assert getattr(truncated, "text", truncated) != e.text


def sentences_of(text):
    return [text[s:e] for s, e in sentence_spans(text)]


def test_offtopic_passage_is_real_text_from_another_prompt():
    donors = DonorPool([("p1", "Volcanoes form where magma reaches the surface. They can erupt."),
                        ("p0", "This is my own answer and must never be used.")])
    text = "Bread needs flour.  Knead the dough well.  Let it rise for an hour and bake it."
    out = INTERVENTIONS.get("train.relevance.offtopic_passage").apply(text, random.Random(0),
                                                                     Context(prompt="p0", donors=donors))
    assert out == "Bread needs flour.  Volcanoes form where magma reaches the surface.  They can erupt."


def test_every_family_is_length_neutral_and_balanced_on_hh_rlhf(hh_augmented):
    """Per family: share of pairs whose preferred answer is longer / shorter (tokens of the length RM)."""
    recs, _ = hh_augmented
    by = defaultdict(list)
    for r in recs:
        if r["kind"] == "causal":
            by[r["family"]].append(n_tokens(r["chosen"]) - n_tokens(r["rejected"]))
    shares = {f: (sum(d > 0 for d in ds) / len(ds), sum(d < 0 for d in ds) / len(ds), statistics.mean(ds), len(ds))
              for f, ds in by.items()}
    print({f: tuple(round(x, 3) for x in v) for f, v in shares.items()})
    assert len(by) >= 6, sorted(by)
    for fam, (longer, shorter, mean_d, _n) in shares.items():
        assert longer <= 0.6 and shorter <= 0.6, (fam, shares[fam])   # was 1.00 for first_sentence/strip_caveats
        assert abs(mean_d) <= 2.0, (fam, shares[fam])                 # was +32 and +18 tokens
    for r in recs:
        if r["kind"] == "causal":
            assert length_neutral(r["chosen"], r["rejected"]), r["family"]


def test_whitespace_does_not_leak_on_hh_rlhf(hh_augmented):
    """Edits that insert no foreign text keep every whitespace run (HH-RLHF separates sentences by two spaces;
    the old single-space rejoin changed it in 394/902 negation and 301/361 shuffle pairs). The few left are
    whitespace inside the replaced sentence itself (e.g. a dropped point that held a double space)."""
    recs, _ = hh_augmented
    local = {"train.coherence.sentence_shuffle", "train.factuality.negation", "train.completeness.drop_point",
             "train.coherence.repeat_sentence", "train.safety.refusal_to_compliance",
             "train.math_correctness.operator_swap", "train.code_correctness.swap_lines"}
    n, differ = Counter(), Counter()
    for r in recs:
        if r["family"] in local:
            n[r["family"]] += 1
            differ[r["family"]] += ws_runs(r["chosen"]) != ws_runs(r["rejected"])
    print(dict(differ), dict(n))
    for fam in n:
        assert differ[fam] <= 0.03 * n[fam], (fam, differ[fam], n[fam])


def _point_biserial(records):
    xs, ys = [], []
    for r in records:
        xs += [1.0, 0.0]
        ys += [n_tokens(r["chosen"]), n_tokens(r["rejected"])]
    mx, my = statistics.mean(xs), statistics.mean(ys)
    cov = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    return cov / (sum((x - mx) ** 2 for x in xs) * sum((y - my) ** 2 for y in ys)) ** 0.5


def test_mixed_training_set_is_no_more_length_correlated_than_the_data(hh, hh_augmented):
    recs, _ = hh_augmented
    original = _point_biserial(hh)
    mixed = _point_biserial(hh + [r for r in recs if r["label"] == "pref"])
    print(f"preference-length correlation: original {original:+.4f}, mixed {mixed:+.4f}")
    assert abs(mixed) <= abs(original)


def test_style_ties_on_hh_rlhf(hh, hh_augmented):
    recs, summary = hh_augmented
    ties = [r for r in recs if r["family"].startswith("train.style.")]
    assert len(ties) >= 0.4 * len(hh) and all(r["label"] == "tie" for r in ties)
    attrs = {r["attribute"] for r in ties}
    audit_attrs = {PROBES.get(n)().attribute for n in PROBES.names() if PROBES.get(n)().kind == "spurious"}
    assert attrs <= audit_attrs and "punctuation" not in attrs  # punctuation stays a held-out attribute
    assert attrs >= {"length", "formatting", "sycophancy", "tone", "emoji", "whitespace"}
    for r in ties:  # style only: every content word of the original survives the restyling
        short, long_ = sorted((r["chosen"], r["rejected"]), key=len)
        assert Counter(content_words(short)) - Counter(content_words(long_)) == Counter() or \
            r["family"] == "train.style.line_breaks", r


def test_style_pools_and_families_differ_from_the_audit():
    audit_strings = set()
    for name in dir(audit_spurious):
        value = getattr(audit_spurious, name)
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            audit_strings |= {v.strip() for v in value}
    import crome_audit.train.style as style_mod

    mine = set()
    for name in dir(style_mod):
        value = getattr(style_mod, name)
        if name.isupper() and isinstance(value, list):
            mine |= {v.strip() for v in value}
    assert mine and not mine & audit_strings
    probe_families = {PROBES.get(n)().family for n in PROBES.names()}
    assert not probe_families & set(STYLES.names()) and not probe_families & set(INTERVENTIONS.names())
    assert all(f.family.startswith("train.style.") for f in all_styles())
    assert all(i.family.startswith("train.") for i in all_interventions())
    # a numbered list, not the audit's header + bold bullets
    out = STYLES.get("train.style.numbered_list").apply("One thing. Another thing.", random.Random(0))
    assert out == "1. One thing.\n2. Another thing."
    assert style_tie("", random.Random(0)) is None


def test_style_ties_off_and_seeded(hh):
    pairs = hh[:200]
    cfg = AugmentConfig(seed=1, style_ties=False)
    rubrics, _ = build_rubrics(pairs, cfg)
    off, _ = augment_pairs("crome", pairs, rubrics, cfg)
    assert not any(r["family"].startswith("train.style.") for r in off)
    on1, _ = augment_pairs("crome", pairs, rubrics, AugmentConfig(seed=1))
    on2, _ = augment_pairs("crome", pairs, rubrics, AugmentConfig(seed=1))
    assert on1 == on2 and any(r["family"].startswith("train.style.") for r in on1)
    assert donor_pool(pairs).rows
