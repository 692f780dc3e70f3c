"""The LLM path of the pipeline with a real (tiny, random-init) local transformers generator: it answers
garbage, so the rubric and rewrite stages must reject every output and stop with a clear message (exit 2)."""

import pytest
from click.testing import CliRunner

from crome_audit.cli import main
from tests.tiny_models import CHAT_TEMPLATE, local_tokenizer
from tests.train_helpers import separable_pairs, write_recipe


@pytest.fixture(scope="module")
def garbage_lm(tmp_path_factory):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    out = tmp_path_factory.mktemp("garbage-lm")
    tok = local_tokenizer()
    tok.eos_token, tok.bos_token = "[SEP]", "[CLS]"
    tok.chat_template = CHAT_TEMPLATE
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                      num_key_value_heads=2, intermediate_size=64, max_position_embeddings=1024,
                      pad_token_id=tok.pad_token_id, eos_token_id=tok.sep_token_id, bos_token_id=tok.cls_token_id)
    LlamaForCausalLM(cfg).save_pretrained(out)
    tok.save_pretrained(out)
    return str(out)


@pytest.mark.parametrize("stage,augment,message", [
    ("rubrics", {"rubric_source": "generator"}, "generator returned no usable rubric for any of"),
    ("augment", {"rewrites": "generator", "upgrades": False}, "generator produced no valid rewrite for any of"),
])
def test_generator_returning_garbage_stops_with_exit_2(tmp_path, garbage_lm, stage, augment, message):
    data = separable_pairs(tmp_path / "pairs.jsonl", n=12)
    recipe = write_recipe(tmp_path / "r.yaml", method="crome", data={"path": data, "heldout_fraction": 0.25},
                          augment={**augment, "attributes": ["relevance", "completeness"]},
                          generator={"backend": "local", "model": garbage_lm, "max_new_tokens": 8,
                                     "progress": False, "cache_dir": str(tmp_path / "gen-cache")})
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["train", "--config", recipe, "--out", str(out)])
    assert res.exit_code == 2, res.output
    assert message in res.output and "Traceback" not in res.output
    assert not (out / ".cache/pipeline/stages" / f"{stage}.json").exists()  # the failed stage left no manifest
    if stage == "augment":
        assert (out / ".cache/pipeline/stages/rubrics.json").exists()  # earlier stages completed and are kept
