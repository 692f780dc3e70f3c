"""The leak of the offline Crome recipe's causal pairs, measured by the data audit on the real HH-RLHF harmless and
UltraFeedback files (issue 18, part 2): without neutral edits "was edited" decides every pair (edit-span AUC 1);
``augment.neutral_edits`` brings the edit-span feature to chance and meets the issue's target: shallow AUC <= 0.55 for
each causal family and the whole set. The safety family's one exception is its refusal feature, which is the label
(a refusal against a compliance); every other feature of it is at chance.

    python -m pytest -q tests/test_data_audit_synthetic.py
"""

import pytest

from crome_audit.data import load_pairs
from crome_audit.data_audit import audit_pairs, surface_features
from crome_audit.train.augment import augment_pairs
from crome_audit.train.config import AugmentConfig
from crome_audit.train.paraphrase import swap_hits
from crome_audit.train.rubrics import build_rubrics

FILES = {"hh": "hh-rlhf/harmless-base-test.jsonl.gz", "uf": "ultrafeedback/train_1000.jsonl"}


def _synthetic(shared_data, name, neutral_edits, limit=800):
    pairs, _ = load_pairs(str(shared_data / FILES[name]), skip_invalid=True, limit=limit)
    cfg = AugmentConfig(max_causal_per_pair=2, neutral_ratio=0.5, style_tie_ratio=0.5, neutral_edits=neutral_edits)
    rubrics, _ = build_rubrics(pairs, cfg)
    return augment_pairs("crome", pairs, rubrics, cfg)[0]


@pytest.mark.parametrize("name", ["hh", "uf"])
def test_neutral_edits_take_the_edit_span_leak_to_chance(shared_data, name):
    before = audit_pairs(_synthetic(shared_data, name, False), n_boot=300, by_family=False)
    after = audit_pairs(_synthetic(shared_data, name, True), n_boot=300, by_family=False)
    print(name, "before", before["shallow"]["auc"], "after", after["shallow"]["auc"],
          after["shallow"]["top_features"])
    assert before["features"]["edit_span"]["auc"] == 1.0 and before["shallow"]["auc"] > 0.99
    assert after["features"]["edit_span"]["auc_ci"][0] <= 0.55  # chance is inside (or at the edge of) the CI
    assert after["shallow"]["auc"] < 0.7


@pytest.mark.parametrize("name", ["hh", "uf"])
def test_issue_18_target_shallow_auc_at_most_055_per_family_and_overall(shared_data, name):
    result = audit_pairs(_synthetic(shared_data, name, True), n_boot=300)
    print(name, result["shallow"]["auc"], {f: b.get("shallow", {}).get("auc") for f, b in result["families"].items()})
    assert result["shallow"]["auc"] <= 0.55
    audited = 0
    for fam, block in result["families"].items():
        if "shallow" not in block:
            continue
        audited += 1
        if fam == "train.safety.refusal_to_compliance":  # refusal is this family's causal attribute, not a shortcut
            assert all(f["auc"] <= 0.55 for k, f in block["features"].items() if k != "refusal"), fam
        else:
            assert block["shallow"]["auc"] <= 0.55, fam
    assert audited >= 5


def test_neutral_twin_matches_the_degraded_copy_on_every_audited_feature(shared_data):
    """Every HH causal pair: the audited surface features are equal (refusal aside in the safety family), and
    length and edit size never differ together."""
    recs = [r for r in _synthetic(shared_data, "hh", True, limit=300) if r["kind"] == "causal"]
    assert len(recs) >= 100
    for r in recs:
        a, b = surface_features(r["chosen"]), surface_features(r["rejected"])
        ignore = {"refusal"} if r["attribute"] == "safety" else set()
        assert {k for k in a if a[k] != b[k]} - ignore <= {"length"}, r
        assert a["length"] == b["length"] or r["edit_tokens"]["chosen"] == r["edit_tokens"]["rejected"], r


def test_neutral_swaps_keep_grammar():
    assert swap_hits("Why don't you try it?") == []                       # never "Why do not you"
    assert swap_hits("Yes, I am.") == [] and swap_hits("I know what it is.") == []   # never "Yes, I'm."
    assert [new for _, _, new in swap_hits("I have a car.")] == ["vehicle"]          # never "I've a car"
    assert [new for _, _, new in swap_hits("I have been there.")] == ["I've"]
    assert [new for _, _, new in swap_hits("Let us know.")] == []                    # never "let's know"
    assert [new for _, _, new in swap_hits("I don't know.")] == ["do not"]
