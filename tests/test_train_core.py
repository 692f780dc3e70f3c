"""Trainer building blocks without training: config, interventions, rubrics, augment, losses."""

import json
import random

import pytest
import torch

from crome_audit.errors import ConfigError
from crome_audit.train.augment import IQN_FAMILY, RRM_PREF, RRM_TIE, augment_pairs, heldout_neutrals
from crome_audit.train.config import AugmentConfig, help_text, load_config
from crome_audit.train.interventions import INTERVENTIONS, all_interventions
from crome_audit.train.losses import bt_loss, pair_losses, tie_loss
from crome_audit.train.rubrics import build_rubrics
from crome_audit.train.trainer import plan_epoch

TEXT = ("Paris is the capital of France. It has many museums and the river Seine. "
        "Tourists can visit the Louvre every day except Tuesday.")


def test_config_unknown_key_did_you_mean(tmp_path):
    p = tmp_path / "r.yaml"
    p.write_text("method: crome\ndata: {path: x.jsonl}\nmodel: {base_model: tiny-random:bert}\n"
                 "train: {lerning_rate: 1}\n")
    with pytest.raises(ConfigError, match=r"r.yaml: unknown key 'train.lerning_rate' \(did you mean 'learning_rate'"):
        load_config(p)
    with pytest.raises(ConfigError, match="did you mean 'augment'"):
        load_config(raw={"augmnt": {}, "data": {"path": "x"}, "model": {"base_model": "m"}})
    with pytest.raises(ConfigError, match="model.base_model is required"):
        load_config(raw={"data": {"path": "x"}})
    with pytest.raises(ConfigError, match=r"method: must be one of crome, bt, rrm, got 'crom' \(did you mean 'crome'"):
        load_config(raw={"method": "crom", "data": {"path": "x"}, "model": {"base_model": "m"}})


def test_config_overrides_and_help():
    cfg = load_config(raw={"data": {"path": "x"}, "model": {"base_model": "m"}},
                      overrides=["train.max_steps=7", "augment.attributes=[coherence, safety]", "method=rrm"])
    assert cfg.train.max_steps == 7 and cfg.augment.attributes == ["coherence", "safety"] and cfg.method == "rrm"
    helps = help_text()
    assert all(helps.values()), [k for k, v in helps.items() if not v]  # every field documented


def test_interventions_apply_and_families():
    rng = random.Random(0)
    names = INTERVENTIONS.names()
    assert all(n.startswith("train.") and n.count(".") == 2 for n in names)
    shuffled = INTERVENTIONS.get("train.coherence.sentence_shuffle").apply(TEXT, rng)
    assert shuffled != TEXT and sorted(shuffled.split()) == sorted(TEXT.split())
    dropped = INTERVENTIONS.get("train.completeness.drop_point").apply(TEXT, rng)
    assert dropped.startswith("Paris is the capital of France.") and "museums" not in dropped
    neg = INTERVENTIONS.get("train.factuality.negation").apply(TEXT, rng)
    assert " not " in neg or "cannot" in neg
    from crome_audit.train.interventions import Context, DonorPool

    donors = DonorPool([("other", "Penguins live in the Southern Hemisphere and eat fish and krill. "
                                   "They swim fast in very cold water.")])
    off = INTERVENTIONS.get("train.relevance.offtopic_passage").apply(TEXT, rng, Context("mine", donors))
    assert "Penguins" in off and "Tourists" not in off
    assert INTERVENTIONS.get("train.math_correctness.operator_swap").apply("So 3 + 4 = 7.", rng) == "So 3 - 4 = 7."
    code = "```python\ndef f(x):\n    y = x * 2\n    z = y + 1\n    return z\n```"
    swapped = INTERVENTIONS.get("train.code_correctness.swap_lines").apply(code, rng)
    assert swapped != code and sorted(swapped.split("\n")) == sorted(code.split("\n"))
    rep = INTERVENTIONS.get("train.coherence.repeat_sentence").apply(TEXT, rng)
    from crome_audit.train.interventions import sentences

    assert rep != TEXT and len(set(sentences(rep))) == len(sentences(rep)) - 1
    # not applicable -> None (never an unchanged "augmentation")
    assert INTERVENTIONS.get("train.coherence.sentence_shuffle").apply("One sentence.", rng) is None
    assert INTERVENTIONS.get("train.math_correctness.operator_swap").apply("no numbers", rng) is None
    # a different family from the audit probes (audit.*), and every attribute has a degradation
    from crome_audit.probes import PROBES

    probe_families = {PROBES.get(n)().family for n in PROBES.names()}
    assert not probe_families & set(names)
    assert {i.attribute for i in all_interventions() if i.direction == "degrade"} == set(AugmentConfig().attributes)


def _pairs():
    return [{"id": str(i), "prompt": f"How do I do thing {i}? Please calculate 2 + {i}.",
             "chosen": TEXT, "rejected": f"No. Thing {i} is bad. I will not say."} for i in range(10)]


def test_rubrics_and_augment_counts_deterministic():
    # neutral_edits off: TEXT holds no swap, and this counts the degradations themselves (the neutral twins are
    # tested on real data in tests/test_data_audit_synthetic.py)
    cfg = AugmentConfig(max_causal_per_pair=2, neutral_ratio=0.5, seed=3, style_ties=False, neutral_edits=False)
    pairs = _pairs()
    rubrics, counts = build_rubrics(pairs, cfg)
    assert counts["offline"] == 10 and "math_correctness" in rubrics["0"]
    recs, summary = augment_pairs("crome", pairs, rubrics, cfg)
    again, _ = augment_pairs("crome", pairs, rubrics, cfg)
    assert recs == again
    assert summary["causal"] == 20  # 2 degradations per pair (TEXT supports several attributes)
    assert summary["neutral"] == 5 == summary["by_family"][IQN_FAMILY]
    for r in recs:
        if r["label"] == "tie":  # the attached prompt is a different one
            src = next(p for p in pairs if p["id"] == r["source_id"])
            assert r["prompt"] != src["prompt"]
        else:
            assert r["family"].startswith("train.") and r["chosen"] != r["rejected"]
    rrm, s = augment_pairs("rrm", pairs, {}, AugmentConfig(rrm_per_pair=1))
    assert s["by_family"] == {RRM_PREF: 10, RRM_TIE: 10}
    assert augment_pairs("bt", pairs, {}, cfg)[0] == []
    assert len(heldout_neutrals(pairs, 0)) == 10


def test_losses():
    d = torch.linspace(-3, 3, 7, requires_grad=True)
    zero = torch.zeros(7)
    assert torch.allclose(bt_loss(d, zero), -torch.nn.functional.logsigmoid(d))
    tl = tie_loss(d, zero)
    assert torch.allclose(tl, tie_loss(-d, zero))  # symmetric
    assert tl.argmin().item() == 3 and abs(tl[3].item() - 0.6931) < 1e-3
    tl.sum().backward()
    assert torch.allclose(d.grad, torch.sigmoid(d.detach()) - 0.5, atol=1e-6)  # pulls d toward 0
    tie = torch.tensor([False, True])
    out = pair_losses(torch.tensor([2.0, 2.0]), torch.tensor([0.0, 0.0]), tie, margin=torch.tensor([1.0, 1.0]),
                      tie_weight=2.0, center_coef=0.1)
    assert abs(out[0].item() - (-torch.nn.functional.logsigmoid(torch.tensor(1.0)).item() + 0.4)) < 1e-5
    assert abs(out[1].item() - (2 * tie_loss(torch.tensor(2.0), torch.tensor(0.0)).item() + 0.4)) < 1e-5


def test_plan_epoch_groups_by_length_and_is_deterministic():
    lengths = [random.Random(i).randint(5, 500) for i in range(400)]
    a = plan_epoch(lengths, 8, seed=1, epoch=0, group_by_length=True)
    assert a == plan_epoch(lengths, 8, seed=1, epoch=0, group_by_length=True)
    assert len(a) == 50 and sorted(i for b in a for i in b) == list(range(400))
    flat = plan_epoch(lengths, 8, seed=1, epoch=0, group_by_length=False)

    def padding(batches):
        return sum(max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b) for b in batches)

    assert padding(a) < 0.2 * padding(flat)


def test_generator_config_recorded_without_secrets():
    from crome_audit.train.pipeline import public_generator_config

    rec = public_generator_config({"backend": "openai", "model": "m", "base_url": "http://127.0.0.1:1/v1",
                                   "api_key_env": "MY_KEY"})
    assert rec["model"] == "m" and rec["api_key_env"] == "MY_KEY" and "max_new_tokens" in rec  # defaults filled
    assert public_generator_config(None) is None
    masked = public_generator_config({"backend": "openai", "model": "m", "api_key": "sk-x-secret",
                                      "extra_body": {"api_key": "sk-y-secret", "top_k": 2}})
    assert "sk-x-secret" not in json.dumps(masked) and "sk-y-secret" not in json.dumps(masked)
    assert masked["api_key"] == "***" and masked["extra_body"] == {"api_key": "***", "top_k": 2}
    ok = public_generator_config({"backend": "openai", "model": "m", "extra_body": {"api_key": "sk-z-secret"},
                                  "base_url": "http://u:pw-secret@127.0.0.1:1/v1"})
    assert ok["extra_body"] == {"api_key": "***"} and ok["base_url"] == "http://***@127.0.0.1:1/v1"
