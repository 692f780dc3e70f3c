"""One Hugging Face path for scorer and trainer (crome_audit.hf_common): the trainer's reward module and the
scoring adapter give the same rewards on the same encoded texts, including a decoder RM whose pad == eos.
Run: python -m pytest -q tests/test_hf_common.py"""

import pytest
import torch

from crome_audit.data import default_data_path, load_records
from crome_audit.formatting import Encoded
from crome_audit.hf_common import (
    bucket_width,
    collate,
    fixed_shape_forwards,
    forward_rows,
    plan_unique_batches,
    token_budget_batches,
)
from crome_audit.models import load_reward_model, load_rm, parse_rm_args
from crome_audit.train.trainer import _collate, _reward_module


@pytest.mark.parametrize("kind", ["decoder", "encoder"])
def test_trainer_module_scores_like_the_adapter(kind, tiny_decoder_rm, tiny_encoder_rm):
    rm = load_rm(tiny_decoder_rm if kind == "decoder" else tiny_encoder_rm, device="cpu")
    records, _, _ = load_records(default_data_path(), None, 12, False)
    prompts, responses = [r["prompt"] for r in records], [r["chosen"] for r in records]
    enc = rm.encode(prompts, responses)
    module = _reward_module(rm.model).eval()
    with torch.no_grad():
        ids, mask, types = _collate(enc, rm.pad_id, "cpu")  # one padded batch, as in training
        trained = module(ids, mask, types).tolist()
    scored = rm.score_encoded(enc)  # fixed-shape forwards (batch-invariant scoring)
    assert scored == pytest.approx(trained, abs=1e-5)
    if kind == "decoder":
        assert rm.tokenizer.pad_token_id == rm.tokenizer.eos_token_id and module.own_pooling


def test_batching_helpers():
    class E:
        def __init__(self, ids):
            self.input_ids, self.token_type_ids = ids, None

    lengths = [5, 1, 9, 3, 9]
    batches = token_budget_batches(lengths, max_batch_tokens=18)
    assert sorted(i for b in batches for i in b) == list(range(5))
    assert all(max(lengths[i] for i in b) * len(b) <= 18 for b in batches)
    assert token_budget_batches(lengths, 10**6, batch_size=2) == [[2, 4], [0, 3], [1]]
    enc = [E([1, 2]), E([3]), E([1, 2])]
    batches, rep = plan_unique_batches(enc, 100)
    assert rep == [0, 1, 0] and sorted(i for b in batches for i in b) == [0, 1]
    ids, mask, types = collate(enc, pad_id=0)
    assert ids.tolist() == [[1, 2], [3, 0], [1, 2]] and mask.tolist() == [[1, 1], [1, 0], [1, 1]] and types is None


def test_fixed_shape_rule():
    """The forward shape of a text is a function of its own length: width bucket x rows of that width."""
    assert [bucket_width(n) for n in (1, 16, 17, 128, 129, 200, 256, 257, 1000, 1030)] == \
        [16, 16, 32, 128, 160, 224, 256, 320, 1024, 1280]
    assert bucket_width(600, max_width=600) == 600 and bucket_width(599, max_width=600) == 600
    assert all(n <= bucket_width(n) <= max(n + 15, n * 1.25) for n in range(1, 3000))
    assert forward_rows(16, 2048) == 32 and forward_rows(512, 2048) == 4 and forward_rows(4096, 2048) == 1
    # rows x width (the M of every matrix product) a multiple of 512: no text falls into a GEMM tail block, where
    # its reward depended on its row (measured with M = 480 before this rule)
    assert all(forward_rows(w, t) * w % 512 == 0 for w in range(16, 4097, 16) for t in (512, 4096, 32768))
    lengths = [5, 16, 16, 3, 40, 30, 16, 500, 12]
    forwards = fixed_shape_forwards(lengths, shape_tokens=32)
    assert sorted(i for idx, _, _ in forwards for i in idx) == list(range(len(lengths)))
    for idx, rows, width in forwards:
        assert len(idx) <= rows == forward_rows(width, 32)
        assert {bucket_width(lengths[i]) for i in idx} == {width}
        # a forward is all "full" (no padding: transformers drops the mask) or all padded
        assert len({lengths[i] == width for i in idx}) == 1
    mixed = fixed_shape_forwards([16, 5, 16, 3], shape_tokens=1024)
    assert [(idx, rows, width) for idx, rows, width in mixed] == [([1, 3], 32, 16), ([0, 2], 32, 16)]


def test_collate_to_a_fixed_shape():
    class E:
        def __init__(self, ids):
            self.input_ids, self.token_type_ids = ids, [0] * len(ids)

    ids, mask, types = collate([E([5, 6]), E([7])], pad_id=0, rows=4, width=3)
    assert ids.tolist() == [[5, 6, 0], [7, 0, 0], [5, 6, 0], [5, 6, 0]]  # filler rows: copies of the first
    assert mask.tolist() == [[1, 1, 0], [1, 0, 0], [1, 1, 0], [1, 1, 0]] and types.shape == (4, 3)
    with pytest.raises(ValueError):
        collate([E([5, 6])], pad_id=0, rows=1, width=1)


def _texts(n=60):
    """Sample texts of many lengths, some cut at max_length, some exactly a bucket width long."""
    records, _, _ = load_records(default_data_path(), None, n, False)
    prompts = [r["prompt"] for r in records] * 2
    responses = [r["chosen"] for r in records] + [r["rejected"][: 7 * i] for i, r in enumerate(records)]
    return prompts, responses


@pytest.mark.parametrize("which", ["tiny_encoder_rm", "tiny_decoder_rm"])
def test_a_reward_does_not_depend_on_its_batch_mates_or_row(which, request):
    """Bit-identical rewards for each text alone, in random mixes of 1-20 texts (other mates, other rows, some
    forwards full without padding), the whole set, and at other --batch-size values. Dynamic padding fails
    this (a sanity check below: the test can see a difference)."""
    import random

    path = request.getfixturevalue(which)
    rm = load_reward_model(path, max_length=96, max_batch_tokens=512)  # small forwards: a quick test
    prompts, responses = _texts(20)
    enc = rm.encode(prompts, responses)
    longest = max(enc, key=lambda e: len(e.input_ids))
    for n in (32, 48):  # texts exactly a bucket width long: forwards without any padding
        enc.append(Encoded(longest.input_ids[:n], longest.token_type_ids and longest.token_type_ids[:n], False))
    lengths = [len(e.input_ids) for e in enc]
    assert 96 in lengths and any(n == bucket_width(n) < 96 for n in lengths) and len(set(lengths)) > 15
    alone = [rm.score_batch([e])[0] for e in enc]
    assert rm.score_encoded(enc) == alone
    assert load_reward_model(path, max_length=96, max_batch_tokens=512, batch_size=3).score(prompts, responses) \
        == alone[:len(prompts)]
    rng = random.Random(0)
    for _ in range(6):
        idx = rng.sample(range(len(enc)), rng.randint(1, 20))
        assert rm.score_batch([enc[i] for i in idx]) == [alone[i] for i in idx]
    dynamic = load_reward_model(path, max_length=96, max_batch_tokens=512, batch_invariant=False)
    assert dynamic.score_encoded(enc) != [dynamic.score_batch([e])[0] for e in enc]
    assert dynamic.score_encoded(enc) == pytest.approx(alone, abs=1e-5)  # the same model, only last bits move


def test_the_cache_key_records_the_forward_shapes(tiny_decoder_rm, tmp_path):
    """Fixed-shape rewards differ in the last bits from dynamic-padding ones: a cache filled by one mode is not
    read by the other; --max-batch-tokens (sets the shapes) is in the key, --batch-size (unused) is not."""
    from crome_audit.cache import ScoreCache
    from crome_audit.engine import ScoringEngine

    def fp(*args, **kw):
        return load_reward_model(tiny_decoder_rm, parse_rm_args(args), **kw).fingerprint

    default = fp()
    assert fp("batch_invariant=false") != default
    assert fp(max_batch_tokens=1024) != default and fp(batch_size=3) == default
    assert load_reward_model(tiny_decoder_rm, parse_rm_args(["batch_invariant=false"])).batch_invariant is False
    prompts, responses = _texts(20)
    cache = ScoreCache(tmp_path / "c.sqlite")
    old = ScoringEngine(load_reward_model(tiny_decoder_rm, batch_invariant=False), cache=cache, progress=False)
    old.score(prompts, responses)
    new = ScoringEngine(load_reward_model(tiny_decoder_rm), cache=cache, progress=False)
    new.score(prompts, responses)
    assert new.stats["cache_hits"] == 0 and new.stats["scored"] == new.stats["unique"] > 0
