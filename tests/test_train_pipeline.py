"""The pipeline end to end on a tiny random-init model: documented counts, one code path for crome/bt/rrm,
the saved folder scores identically to the trainer's own eval, stages skip when done, clear errors."""

import json
import math
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from crome_audit.cli import main
from crome_audit.data import default_data_path
from crome_audit.train.augment import heldout_neutrals
from crome_audit.train.evaluation import EvalSet
from tests.train_helpers import read_log, separable_pairs, write_recipe


def _run(args):
    result = CliRunner().invoke(main, args)
    return result.exit_code, result.output


def _jsonl(p):
    return [json.loads(x) for x in Path(p).read_text().splitlines() if x.strip()]


def test_crome_pipeline_counts_and_identical_scoring(tmp_path):
    recipe = write_recipe(
        tmp_path / "crome.yaml", method="crome",
        data={"path": default_data_path(), "limit": 60, "heldout_fraction": 0.25},
        augment={"max_causal_per_pair": 1, "neutral_ratio": 0.5},
        filter={"baseline": "auto", "baseline_steps": 2, "threshold": 0.9, "tie_threshold": 0.5},
        train={"max_steps": 4, "batch_size": 8, "save_steps": 2, "eval_steps": 2})
    out = tmp_path / "rm"
    code, text = _run(["train", "--config", recipe, "--out", str(out)])
    assert code == 0, text
    assert "data audit, training pairs: AUC" in text and "data audit, synthetic pairs: AUC" in text  # issue 18
    work = out / ".cache" / "pipeline"
    m = {s: json.loads((work / "stages" / f"{s}.json").read_text()) for s in
         ("rubrics", "augment", "filter", "train", "eval")}
    n_train = 45  # 60 pairs, 25 % held out
    assert m["rubrics"]["counts"]["prompts"] == n_train
    aug = m["augment"]["counts"]
    n_style = sum(v for k, v in aug["by_family"].items() if k.startswith("train.style."))  # offline style ties
    assert aug["by_family"]["train.neutral.irrelevant_query"] == round(0.5 * n_train)
    assert aug["neutral"] == round(0.5 * n_train) + n_style and 0 < n_style <= round(0.5 * n_train)
    assert aug["synthetic"] == aug["causal"] + aug["neutral"]
    assert 0 < aug["causal"] <= n_train  # at most max_causal_per_pair per pair
    synthetic = _jsonl(work / "augment.v1.jsonl")
    kept = _jsonl(work / "filter.v1.jsonl")
    f = m["filter"]["counts"]
    assert f["in"] == len(synthetic) and f["kept"] == len(kept) and f["kept"] + f["dropped"] == f["in"]
    for r in kept:  # the documented rule, re-checked from the recorded baseline scores
        assert (r["baseline_score"] > 0.5) if r["label"] == "tie" else (r["baseline_score"] < 0.9)
    t = m["train"]["counts"]
    assert t["originals"] == n_train and t["examples"] == n_train + f["kept"] and t["steps"] == 4
    info = json.loads((out / "crome_training.json").read_text())
    assert info["method"] == "crome" and info["generator"] is None and info["seed"] == 42
    assert info["intervention_families"] == sorted({r["family"] for r in kept})
    assert all(fam.startswith("train.") for fam in info["intervention_families"])
    assert info["tied_attributes"] == sorted({r["attribute"] for r in kept if r["family"].startswith("train.style.")})
    assert info["intervention_attributes"] == sorted({r["attribute"] for r in kept if r["kind"] == "causal"})
    assert info["data"]["n_train"] == n_train and info["data"]["n_heldout"] == 15 and len(info["data"]["sha256"]) == 64
    assert info["counts"]["filter"]["kept"] == f["kept"]
    log = read_log(out)
    assert [r["step"] for r in log if "eval" in r] == [2, 4]
    # the saved folder, loaded like any RM, scores exactly as the trainer's own eval did
    from crome_audit.models import load_reward_model

    split = json.loads((work / "split.json").read_text())
    from crome_audit.data import load_pairs

    pairs, _ = load_pairs(default_data_path(), limit=60)
    heldout = [p for p in pairs if p["id"] in set(split["heldout_ids"])]
    sub = EvalSet.build(heldout, heldout_neutrals(heldout, 1234), 256)
    rm = load_reward_model(str(out), max_length=64, dtype="fp32")
    mine = rm.score(sub.prompts, sub.responses)
    theirs = json.loads((work / "trainer_eval.json").read_text())["rewards"]
    assert len(mine) == len(theirs) == 4 * 15 + 2 * 15
    assert max(abs(a - b) for a, b in zip(mine, theirs)) < 1e-5
    ev = json.loads((out / "eval.json").read_text())
    assert ev["trainer_match"]["max_abs_diff"] < 1e-5 and ev["metrics"]["n_pairs"] == 15
    assert ev["metrics"]["accuracy"] == pytest.approx(sub.metrics(mine)["accuracy"])
    # a re-run skips every stage
    code, text = _run(["train", "--config", recipe, "--out", str(out)])
    assert code == 0 and text.count("skipped (already done)") == 5, text


def test_bt_and_rrm_same_code_path(tmp_path):
    data = separable_pairs(tmp_path / "pairs.jsonl", n=40)
    for method, expect in (("bt", 0), ("rrm", 72)):
        recipe = write_recipe(tmp_path / f"{method}.yaml", method=method, data={"path": data},
                              filter={"enabled": False})
        code, text = _run(["augment", "--config", recipe, "--out", str(tmp_path / method)])
        assert code == 2 and "needs stage 'rubrics' first" in text  # stages alone, in order
        for stage in ("rubrics", "augment", "filter"):
            code, text = _run([stage, "--config", recipe, "--out", str(tmp_path / method)])
            assert code == 0, text
        counts = json.loads((tmp_path / method / ".cache/pipeline/stages/augment.json").read_text())["counts"]
        assert counts["synthetic"] == expect  # rrm: 36 training pairs x (1 preference + 1 tie)
        kept = _jsonl(tmp_path / method / ".cache/pipeline/filter.v1.jsonl")
        assert len(kept) == expect
    assert {r["label"] for r in kept} == {"pref", "tie"}


def test_bad_configs_exit_2_with_one_line(tmp_path):
    data = separable_pairs(tmp_path / "pairs.jsonl", n=40)
    cases = [
        ({"train": {"max_stepz": 3}}, "unknown key 'train.max_stepz' (did you mean 'max_steps'"),
        ({"model": {"base_model": str(tmp_path / "no-such-model")}}, "no such folder"),
        ({"data": {"path": str(tmp_path / "reward-bench" / "x.jsonl")}}, "refusing to train on RewardBench"),
        ({"train": {"debug_nan_at_step": 2}}, "training loss became nan at step 2"),
    ]
    for i, (sections, message) in enumerate(cases):
        sections.setdefault("data", {"path": data})
        recipe = write_recipe(tmp_path / f"bad{i}.yaml", **sections)
        code, text = _run(["train", "--config", recipe, "--out", str(tmp_path / f"out{i}")])
        assert code == 2, (message, text)
        assert message in text and text.count("\n") == 1 and "Traceback" not in text
        assert not (tmp_path / f"out{i}" / "model.safetensors").exists()  # nothing half-written


def test_nan_free_filter_scores(tmp_path):
    """Filter scores are probabilities (the documented sigmoid), finite, in (0, 1)."""
    recipe = write_recipe(tmp_path / "c.yaml", method="crome",
                          data={"path": separable_pairs(tmp_path / "p.jsonl", n=40)},
                          augment={"attributes": ["completeness", "relevance"], "neutral_ratio": 0.25},
                          filter={"baseline_steps": 1, "threshold": 1.0, "tie_threshold": 0.5})
    code, text = _run(["train", "--config", recipe, "--out", str(tmp_path / "o"), "--until", "filter"])
    assert code == 0, text
    kept = _jsonl(tmp_path / "o/.cache/pipeline/filter.v1.jsonl")
    assert kept and all(math.isfinite(r["baseline_score"]) and 0 < r["baseline_score"] < 1 for r in kept)
    fams = {r["family"] for r in kept if not r["family"].startswith("train.style.")}
    assert fams <= {"train.completeness.drop_point", "train.relevance.offtopic_passage",
                    "train.neutral.irrelevant_query"}


def test_lora_decoder_with_checkpointing_saves_merged_model(tmp_path):
    """Decoder RM (pad token distinct from EOS, last-token pooling) + LoRA (peft) + gradient checkpointing:
    the adapters are merged into a plain folder that scores exactly like the trainer's eval."""
    data = separable_pairs(tmp_path / "pairs.jsonl", n=40)
    recipe = write_recipe(tmp_path / "lora.yaml", data={"path": data},
                          model={"base_model": "tiny-random:llama", "lora": True, "lora_r": 4,
                                 "lora_target_modules": ["q_proj", "v_proj"], "gradient_checkpointing": True},
                          train={"max_steps": 3, "batch_size": 8, "learning_rate": 1e-2})
    out = tmp_path / "rm"
    code, text = _run(["train", "--config", recipe, "--out", str(out)])
    assert code == 0, text
    assert not list(out.glob("adapter_*"))  # merged, not an adapter folder
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["pad_token_id"] != cfg["eos_token_id"]
    ev = json.loads((out / "eval.json").read_text())
    assert ev["trainer_match"]["max_abs_diff"] < 1e-5 and ev["rm"]["own_last_token_pooling"]
    info = json.loads((out / "crome_training.json").read_text())
    assert "peft" in info["versions"] and info["config"]["model"]["lora"] is True
    from crome_audit.models import load_reward_model
    from crome_audit.train.base_models import load_base_model
    from crome_audit.train.config import load_config

    base, _, _ = load_base_model(load_config(recipe).model, seed=42)
    trained = load_reward_model(str(out), max_length=64, dtype="fp32").model
    q = "model.layers.0.self_attn.q_proj.weight"
    assert not torch.equal(base.state_dict()[q], trained.state_dict()[q])  # LoRA delta merged in
    k = "model.layers.0.self_attn.k_proj.weight"
    assert torch.equal(base.state_dict()[k], trained.state_dict()[k])  # untouched module unchanged
