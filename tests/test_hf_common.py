"""One Hugging Face path for scorer and trainer (crome_audit.hf_common): the trainer's reward module and the
scoring adapter give the same rewards on the same encoded texts, including a decoder RM whose pad == eos.
Run: python -m pytest -q tests/test_hf_common.py"""

import pytest
import torch

from crome_audit.data import default_data_path, load_records
from crome_audit.hf_common import collate, plan_unique_batches, token_budget_batches
from crome_audit.models import load_rm
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
    scored = rm.score_encoded(enc)  # length-sorted token-budget batches
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
