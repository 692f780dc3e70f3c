"""Batch dependence of HF rewards (issue 11 defect 5) and what a fixed-shape batching would cost.

Today a text's reward depends on its batch: the rows and the padded width of the batch change the float32
kernels' reduction order. Rounding cannot remove that (a value near a rounding boundary still flips). This
script measures, on the tiny BERT and Llama RMs:

- ``current``: rewards differ between --batch-size auto and 3 (count, max |diff|), and after rounding to
  6 significant digits;
- ``fixed-shape``: every text is run in a batch of shape (R(W), W), W = its length rounded up to a multiple
  of 32, R(W) = clamp(4096 // W, 1, 64) rows (a last partial batch padded with copies of its first text,
  whose outputs are dropped): the shape depends on the text alone, but its row position and its batch mates
  still change a few rewards (counted after shuffling the texts and after scoring half of them);
- ``per-text``: batch size 1, shape (1, own length): exact by construction (counted after shuffling).

    PYTHONPATH=. python benchmarks/bench_batch_invariance.py

A prototype: the adapter change itself belongs in crome_audit/models (HFRewardModel.batches/_forward).
"""

from __future__ import annotations

import random
import tempfile
import time

BUCKET = 32
TOKENS = 4096
MAX_ROWS = 64


def fixed_shape_scores(rm, encoded) -> list[float]:
    import torch

    groups: dict[int, list[int]] = {}
    for i, e in enumerate(encoded):
        width = -(-len(e.input_ids) // BUCKET) * BUCKET
        groups.setdefault(width, []).append(i)
    out = [0.0] * len(encoded)
    with torch.inference_mode():
        for width, idx in groups.items():
            rows = max(1, min(MAX_ROWS, TOKENS // width))
            for start in range(0, len(idx), rows):
                chunk = idx[start:start + rows]
                items = [encoded[i] for i in chunk] + [encoded[chunk[0]]] * (rows - len(chunk))
                ids = torch.full((rows, width), rm.pad_id, dtype=torch.long)
                mask = torch.zeros((rows, width), dtype=torch.long)
                types = torch.zeros((rows, width), dtype=torch.long) if items[0].token_type_ids else None
                for r, e in enumerate(items):
                    ids[r, :len(e.input_ids)] = torch.tensor(e.input_ids)
                    mask[r, :len(e.input_ids)] = 1
                    if types is not None:
                        types[r, :len(e.token_type_ids)] = torch.tensor(e.token_type_ids)
                if rm._own_pooling:
                    hidden = getattr(rm.model, rm.model.base_model_prefix)(input_ids=ids, attention_mask=mask)
                    hidden = hidden.last_hidden_state
                    logits = rm.model.score(hidden[torch.arange(rows), mask.sum(dim=1) - 1])
                else:
                    kwargs = {"token_type_ids": types} if types is not None else {}
                    logits = rm.model(input_ids=ids, attention_mask=mask, **kwargs).logits
                for i, v in zip(chunk, logits[:, 0].float().tolist()):
                    out[i] = v
    return out


def main() -> None:
    from crome_audit.data import load_pairs
    from crome_audit.models import load_reward_model
    from tests.tiny_models import build_tiny_decoder_rm, build_tiny_encoder_rm

    pairs, _ = load_pairs(limit=200)
    prompts = [p["prompt"] for p in pairs] * 2
    responses = [p["chosen"] for p in pairs] + [p["rejected"] for p in pairs]
    print(f"{'model':<6}{'mode':<13}{'texts':>6}{'differ':>8}{'max |diff|':>12}{'differ@6sig':>12}{'seconds':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, build in (("bert", build_tiny_encoder_rm), ("llama", build_tiny_decoder_rm)):
            path = build(f"{tmp}/{name}")
            runs, times = [], []
            for bs in ("auto", 3):
                rm = load_reward_model(path, batch_size=bs, max_length=256)
                t = time.perf_counter()
                runs.append(rm.score(prompts, responses))
                times.append(time.perf_counter() - t)
            a, b = runs
            diff = [abs(x - y) for x, y in zip(a, b)]
            six = sum(float(f"{x:.6g}") != float(f"{y:.6g}") for x, y in zip(a, b))
            print(f"{name:<6}{'current':<13}{len(a):>6}{sum(d > 0 for d in diff):>8}{max(diff):>12.2e}{six:>12}"
                  f"{times[0]:>9.2f}")
            rm = load_reward_model(path, max_length=256)
            enc = rm.encode(prompts, responses)
            order = list(range(len(enc)))
            random.Random(0).shuffle(order)
            t = time.perf_counter()
            first = fixed_shape_scores(rm, enc)
            seconds = time.perf_counter() - t
            shuffled = fixed_shape_scores(rm, [enc[i] for i in order])
            half = fixed_shape_scores(rm, enc[: len(enc) // 2])  # other batch mates for the first half
            back = [0.0] * len(enc)
            for k, i in enumerate(order):
                back[i] = shuffled[k]
            differ = sum(x != y for x, y in zip(first, back)) + sum(x != y for x, y in zip(first, half))
            print(f"{name:<6}{'fixed-shape':<13}{len(a):>6}{differ:>8}{'':>12}{'':>12}{seconds:>9.2f}")
            rm = load_reward_model(path, batch_size=1, max_length=256)  # shape (1, own length): the text alone
            t = time.perf_counter()
            alone = rm.score(prompts, responses)
            seconds = time.perf_counter() - t
            alone_shuffled = rm.score([prompts[i] for i in order], [responses[i] for i in order])
            differ = sum(alone[i] != alone_shuffled[k] for k, i in enumerate(order))
            print(f"{name:<6}{'per-text':<13}{len(a):>6}{differ:>8}{'':>12}{'':>12}{seconds:>9.2f}")


if __name__ == "__main__":
    main()
