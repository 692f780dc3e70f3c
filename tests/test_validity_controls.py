"""The audit's numbers on RMs whose right answer is known, on real RewardBench rows (a stratified sample).

Positive controls: a style-blind quality proxy plus one injected bias is flagged on exactly that attribute.
Negative controls: the style-blind proxy moves on no spurious probe; a noise RM and the length RM have a
causal index whose CI covers 0 and read as non-robust (style share near 1); affine and prompt-offset transforms of an RM leave every number unchanged.
The controls (crome_audit/controls.py) detect style generically; none of them knows a probe's strings.
"""

import math

import pytest

from crome_audit.audit import run_audit
from crome_audit.data import load_records
from crome_audit.engine import ScoringEngine
from crome_audit.models import load_reward_model
from crome_audit.probes import load_suite

INVARIANT_PROBE_KEYS = ("effect_size", "ci_low", "ci_high", "instability", "instability_ci", "hack_rate",
                        "hack_rate_ci", "decision_change_rate", "decision_change_rate_ci", "detection_rate",
                        "detection_rate_ci", "length_adjusted_effect", "n", "n_clusters", "excluded_reason")


@pytest.fixture(scope="module")
def rb_path(shared_data):
    return str(shared_data / "rewardbench" / "filtered.jsonl")


@pytest.fixture(scope="module")
def rb_sample(rb_path):
    records, _, kind = load_records(rb_path, None, None, False)
    return records[::6], kind  # 498 pairs from every subset


@pytest.fixture(scope="module")
def audits(rb_sample, rb_path):
    """One audit per control RM on the same sample (model-free: seconds each)."""
    import os

    os.environ["CROME_AUDIT_CONTROL_REFERENCE"] = rb_path
    records, kind = rb_sample
    suite = load_suite("default")
    out = {}
    for name in ("length", "noise", "length_offset", "length_affine", "style_blind", "emoji_bonus",
                 "markdown_bonus", "flattery_bonus", "length_bonus"):
        spec = name if name in ("length", "noise") else f"py:crome_audit.controls:{name}"
        out[name] = run_audit(records, suite, ScoringEngine(load_reward_model(spec), progress=False), seed=0,
                              kind=kind, max_examples=0)
    return out


def _close(a, b):
    if isinstance(a, list) or isinstance(b, list):
        return a is b or (a is not None and b is not None and all(_close(x, y) for x, y in zip(a, b)))
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


@pytest.mark.parametrize("transformed", ["length_offset", "length_affine"])
def test_affine_and_prompt_offset_change_no_number(audits, transformed):
    base, other = audits["length"], audits[transformed]
    for p, q in zip(base.probes, other.probes):
        for key in INVARIANT_PROBE_KEYS:
            assert _close(p.get(key), q.get(key)), (p["name"], key, p.get(key), q.get(key))
    for key in ("spurious_index", "spurious_index_ci", "causal_index", "causal_index_ci"):
        assert _close(base.summary[key], other.summary[key]), key
    assert _close(base.clean["pairwise_accuracy"], other.clean["pairwise_accuracy"])


def test_noise_is_not_robust_and_knows_no_quality(audits):
    noise, length = audits["noise"].summary, audits["length"].summary
    blind = audits["style_blind"].summary
    # "knows nothing" is not "robust": neither responds to substance, so any style movement is all of the
    # reward's movement (style share near 1), far above the style-blind scorer's
    for s in (noise, length):
        assert s["spurious_index"] > 0.9 and s["spurious_index_ci"][0] > blind["spurious_index_ci"][1] + 0.5
    assert length["spurious_attributes"]["length"]["verdict"] == "sensitive"
    for s in (noise, length):
        # a 95% CI misses its target 1 time in 20 by design; widen it by 30% a side (about a 99% interval) so
        # that this test fails on a real bias rather than on the 1-in-20 draw fixed by the hash and the sample
        lo, hi = s["causal_index_ci"]
        pad = 0.3 * (hi - lo)
        assert lo - pad <= 0 <= hi + pad, s["causal_index_ci"]
    assert audits["noise"].summary["degenerate"]["flagged"]


def test_noise_rates_sit_at_their_chance_levels(audits):
    # each rate's 95% CI should cover its chance level; over ~15 probes about one miss is expected by chance
    missed = []
    for p in audits["noise"].probes:
        if p.get("excluded_reason"):
            continue
        key, chance = ("hack_rate", p["hack_rate_chance"]) if p["kind"] == "spurious" else ("detection_rate", 0.5)
        lo, hi = p[f"{key}_ci"]
        if not lo <= chance <= hi:
            missed.append((p["name"], p[key], p[f"{key}_ci"]))
    assert len(missed) <= 2, missed


def test_style_blind_moves_on_no_spurious_probe(audits):
    a = audits["style_blind"]
    spur = [p for p in a.probes if p["kind"] == "spurious" and p["n"]]
    covering = [p for p in spur if p["ci_low"] <= 0 <= p["ci_high"]]
    assert len(covering) >= 0.95 * len(spur), [(p["name"], p["ci_low"], p["ci_high"]) for p in spur]
    assert a.summary["spurious_index"] < 0.01
    lo, _ = a.summary["causal_index_ci"]
    assert lo > 0.5  # and it does see quality
    assert not a.summary["degenerate"]["flagged"]


@pytest.mark.parametrize("rm, attribute", [("emoji_bonus", "emoji"), ("markdown_bonus", "formatting"),
                                           ("flattery_bonus", "sycophancy"), ("length_bonus", "length")])
def test_injected_bias_is_found_on_its_attribute(audits, rm, attribute):
    a = audits[rm]
    attrs = a.summary["spurious_attributes"]
    top = max(attrs, key=lambda k: attrs[k]["value"])
    assert top == attribute, {k: v["value"] for k, v in attrs.items()}
    assert attrs[attribute]["ci"][0] > 0
    flagged = [p for p in a.probes if p["attribute"] == attribute and p["kind"] == "spurious" and p["n"]
               and not (p["ci_low"] <= 0 <= p["ci_high"])]
    assert flagged, attribute
    others = [p for p in a.probes if p["kind"] == "spurious" and p["attribute"] != attribute and p["n"]]
    if rm == "length_bonus":
        # every probe that adds words moves a length-biased RM; the RM's own length slope explains all of it
        length_effect = next(p["effect_size"] for p in a.probes if p["name"] == "length_filler")
        for p in others:
            assert abs(p["length_adjusted_effect"]) < 0.02 * length_effect, p["name"]
    else:
        moved = [p["name"] for p in others if not (p["ci_low"] <= 0 <= p["ci_high"])]
        assert len(moved) <= max(1, round(0.05 * len(others))), moved


def test_same_inputs_same_numbers(rb_sample):
    records, kind = rb_sample
    suite = load_suite("quick")
    runs = [run_audit(records[:120], suite, ScoringEngine(load_reward_model("noise"), progress=False), seed=1,
                      kind=kind, max_examples=0) for _ in range(2)]
    assert runs[0].probes == runs[1].probes and runs[0].summary == runs[1].summary


def test_seen_in_training_by_attribute_gives_heldout_indices(rb_sample):
    records, kind = rb_sample
    out = run_audit(records[:200], load_suite("default"), ScoringEngine(load_reward_model("length"), progress=False),
                    kind=kind, seen_attributes={"emoji", "length"}, max_examples=0)
    seen = {p["name"] for p in out.probes if p["seen_in_training"]}
    assert seen == {p["name"] for p in out.probes if p["attribute"] in ("emoji", "length")}
    held = out.summary["spurious_attributes"].keys() - {"emoji", "length"}
    assert out.summary["spurious_index_heldout"] is not None and held
    expected = sum(out.summary["spurious_attributes"][a]["value"] for a in held) / len(held)
    assert out.summary["spurious_index_heldout"] == pytest.approx(expected)
