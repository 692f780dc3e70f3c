"""The headline must move the right way: a graded-bias zoo on real RewardBench rows.

Each member is the style-blind content scorer (crome_audit/controls.py: blind to style by construction) plus
k·(standardised feature) for k in STRENGTHS, for each of length, markdown and flattery. The reading of the
biased attribute and the spurious index must rise with k (Spearman >= 0.9), a second bias must never lower
the index, and the references that know nothing (the length RM, a noise RM) must read worse than the base.
Schema 2's index (instability / σ of clean margins) fails these: a length bias widened σ as fast as the
length probe's Δ (the pure length RM read as the most robust of the zoo). Model-free: ~20 s.

    python -m pytest -q tests/test_validity_zoo.py
"""

import os

import pytest
from scipy.stats import spearmanr

from crome_audit.audit import run_audit
from crome_audit.controls import graded
from crome_audit.data import load_records
from crome_audit.engine import ScoringEngine
from crome_audit.models import load_reward_model
from crome_audit.models.simple import CallableRM
from crome_audit.probes import load_suite

STRENGTHS = (0.0, 0.25, 0.5, 1.0, 2.0)
# zoo feature -> the audit attribute whose probes change it
ATTRIBUTE = {"length": "length", "markdown": "formatting", "flattery": "sycophancy"}


class ZooRM(CallableRM):
    """A zoo member as an RM object (CallableRM without the import: the callable is built here)."""

    def __init__(self, **strengths):
        self.func = graded(**strengths)
        self.name = f"py:{self.func.__name__}"
        self.fingerprint = self.name


@pytest.fixture(scope="module")
def rb(shared_data):
    path = str(shared_data / "rewardbench" / "filtered.jsonl")
    os.environ["CROME_AUDIT_CONTROL_REFERENCE"] = path
    records, _, kind = load_records(path, None, None, False)
    return records[::12], kind  # 249 pairs, every subset


def _audit(rb, rm):
    records, kind = rb
    return run_audit(records, load_suite("default"), ScoringEngine(rm, progress=False), seed=0, kind=kind,
                     max_examples=0).summary


@pytest.fixture(scope="module")
def zoo(rb):
    out = {}
    for feature in ATTRIBUTE:
        for k in STRENGTHS:
            key = (feature, k) if k else ("base", 0.0)
            if key not in out:
                out[key] = _audit(rb, ZooRM(**{feature: k}))
    return out


def _series(zoo, feature):
    return [zoo[(feature, k) if k else ("base", 0.0)] for k in STRENGTHS]


@pytest.mark.parametrize("feature", list(ATTRIBUTE))
def test_reading_and_headline_rise_with_bias_strength(zoo, feature):
    series = _series(zoo, feature)
    reading = [s["spurious_attributes"][ATTRIBUTE[feature]]["value"] for s in series]
    headline = [s["spurious_index"] for s in series]
    assert spearmanr(STRENGTHS, reading).statistic >= 0.9, reading
    assert spearmanr(STRENGTHS, headline).statistic >= 0.9, headline
    assert reading[-1] > reading[0] + 0.1 and headline[-1] > headline[0]
    # the strongest member is called sensitive on its attribute, the base robust
    assert series[-1]["spurious_attributes"][ATTRIBUTE[feature]]["verdict"] == "sensitive"
    assert series[0]["spurious_attributes"][ATTRIBUTE[feature]]["verdict"] == "robust"


@pytest.mark.parametrize("first,second", [("markdown", "length"), ("length", "markdown"),
                                          ("flattery", "length"), ("markdown", "flattery")])
def test_a_second_bias_never_lowers_the_headline(rb, zoo, first, second):
    for k in (0.5, 2.0):
        one = zoo[(first, k)]["spurious_index"]
        both = _audit(rb, ZooRM(**{first: k, second: 1.0}))["spurious_index"]
        assert both >= one, (first, k, second, one, both)


def test_references_that_know_nothing_read_worse_than_the_base(rb, zoo):
    base = zoo[("base", 0.0)]
    length = _audit(rb, load_reward_model("length"))
    noise = _audit(rb, load_reward_model("noise"))
    # the pure length RM reads worse on length than the style-blind base, and worse overall
    assert length["spurious_attributes"]["length"]["value"] > base["spurious_attributes"]["length"]["value"] + 0.5
    assert length["spurious_attributes"]["length"]["verdict"] == "sensitive"
    for ref in (length, noise):
        assert ref["spurious_index"] > 0.9 > 0.05 > base["spurious_index"]
    # the style-blind base is the most robust member of the zoo
    assert base["spurious_index"] == min(s["spurious_index"] for s in zoo.values())
    assert set(base["verdicts"]["spurious"].values()) == {"robust"}


def _schema2_index(out) -> float:
    """Schema 2's headline from the same audit: mean over attributes of mean |Δ| / σ of the clean margins."""
    groups: dict = {}
    for p in out.probes:
        if p["kind"] == "spurious" and not p.get("excluded_reason"):
            groups.setdefault(p["attribute"], []).append(p["mean_abs_delta"] / out.clean["margin_std"])
    return sum(sum(v) / len(v) for v in groups.values()) / len(groups)


def test_the_zoo_catches_what_schema_2_got_wrong(rb):
    """The same audits read with schema 2's unit make both mistakes this file guards against (so these tests
    can fail): a length bias added to a flattery-biased RM lowers its headline, and the pure length RM reads
    as more robust than a weakly flattery-biased one. The schema 3 headline gets both right."""
    records, kind = rb

    def both(rm):
        out = run_audit(records, load_suite("default"), ScoringEngine(rm, progress=False), seed=0, kind=kind,
                        max_examples=0)
        return out.summary["spurious_index"], _schema2_index(out)

    flattery, flattery_length = both(ZooRM(flattery=1.0)), both(ZooRM(flattery=1.0, length=1.0))
    weak, length = both(ZooRM(flattery=0.25)), both(load_reward_model("length"))
    assert flattery_length[1] < flattery[1] and length[1] < weak[1]  # schema 2: wrong way round
    assert flattery_length[0] > flattery[0] and length[0] > weak[0]  # schema 3: right way round
