"""The Hugging Face adapter (``hf:``, the default for a folder or hub id): a transformers
``AutoModelForSequenceClassification`` RM with one output, scored in-process.

    crome-audit run --rm ./my-rm                      # local folder
    crome-audit run --rm hf:org/name --rm-arg dtype=bf16 --rm-arg max_length=1024
    crome-audit run --rm ./gguf-dir/model.Q8_0.gguf   # a GGUF file (transformers dequantizes it)

Rewards are raw logits (never a sigmoid). Encoder cross-encoders and decoder RMs both work. The adapter
exposes ``encode`` + ``score_encoded`` so the engine can sort all texts by length once and batch by a token
budget. torch/transformers are imported only when a model is loaded.

Batch-invariant by default (``batch_invariant=true``): every forward has a shape fixed by the text's own length
(hf_common.fixed_shape_forwards), so a reward is bit-identical whatever its batch mates, its row or
--batch-size (which is then unused); --max-batch-tokens sets the forward shape and is part of the cache key.
``--rm-arg batch_invariant=false`` is the old dynamic padding (faster, rewards drift ~1e-8..1e-7 with the
batching). The guarantee and its limits: docs/reliability.md.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..errors import InputError, ModelLoadError
from .base import RewardModel, option, register_adapter


@dataclass
class HFOptions:
    device: str = option("auto", "auto, cpu, cuda, cuda:1, mps.")
    dtype: str = option("auto", "auto (bf16/fp16 on GPU, fp32 on CPU), fp32, bf16, fp16.")
    max_length: int | None = option(None, "Max tokens per text (default: what a crome-audit-trained model "
                                          "recorded, else the model's context as vLLM reads it: the config's "
                                          "max_position_embeddings, capped by the tokenizer's model_max_length "
                                          "for absolute-position models; else 512).")
    truncation: Literal["left", "right"] | None = option(None, "Drop tokens from the start (left, default: keeps "
                                                               "the response end) or the end (right).")
    template: str | None = option(None, "Plain format string with {prompt} and {response}, used instead of the "
                                        "chat template.")
    trust_remote_code: bool = option(False, "Allow custom model code from the model folder/hub.")
    batch_size: int | None = option(None, "Max texts per batch (default: token-budget batching only; unused when "
                                          "batch_invariant).")
    max_batch_tokens: int | None = option(None, "Padded tokens per batch (default 8192 on CPU, 65536 on GPU, "
                                                "halved on OOM; when batch_invariant: per forward, default 4096 on "
                                                "CPU, 32768 on GPU, sets the fixed forward shape, so it is part of "
                                                "the cache key, no OOM halving).")
    batch_invariant: bool = option(True, "Fixed-shape forwards: rewards bit-identical whatever the batching "
                                         "(false: dynamic padding, faster, rewards drift ~1e-7 with the batching).")
    gguf_file: str | None = option(None, "GGUF file name inside the model folder (set for you when --rm is a "
                                         ".gguf path).")
    device_map: str | dict | None = option(None, "accelerate big-model placement for RMs that do not fit one GPU: auto, "
                                          "balanced, sequential, or a JSON object module -> device.")
    max_memory: str | dict | None = option(None, "With device_map: per-device caps, e.g. 0=70GiB,1=70GiB,cpu=200GiB.")
    offload_folder: str | None = option(None, "With device_map: folder for layers placed on 'disk'.")


def build_hf(target: str, **options) -> RewardModel:
    """``hf:PATH`` where PATH is a folder, a hub id, or a .gguf file."""
    if target.endswith(".gguf") and os.path.isfile(target):
        options["gguf_file"] = os.path.basename(target)
        target = os.path.dirname(os.path.abspath(target))
    return HFRewardModel(target, **options)


def _weights_fingerprint(folder: Path) -> str:
    """Hash config/tokenizer files fully and weight files by size + 16 sampled 64 KiB blocks (cheap for 7B)."""
    h = hashlib.sha256()
    for f in sorted(p for p in folder.rglob("*") if p.is_file() and ".cache" not in p.parts):
        rel = f.relative_to(folder).as_posix()
        size = f.stat().st_size
        h.update(f"{rel}:{size}\n".encode())
        with open(f, "rb") as fh:
            if size <= 1 << 20:
                h.update(fh.read())
                continue
            for k in range(16):
                fh.seek(size * k // 16)
                h.update(fh.read(1 << 16))
    return h.hexdigest()


def _recorded_formatting(folder: Path) -> dict:
    """The formatting a crome-audit-trained model was trained with (crome_training.json), if any."""
    try:
        record = json.loads((folder / "crome_training.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    fmt = record.get("formatting") if isinstance(record, dict) else None
    return fmt if isinstance(fmt, dict) else {}


def resolve_device(device: str = "auto") -> str:
    import torch

    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    return device


def resolve_dtype(dtype: str, device: str):
    import torch

    if dtype == "auto":
        if device.startswith("cuda"):
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    table = {"fp32": torch.float32, "float32": torch.float32, "bf16": torch.bfloat16,
             "bfloat16": torch.bfloat16, "fp16": torch.float16, "float16": torch.float16}
    if dtype not in table:
        raise InputError(f"--dtype: unknown '{dtype}' (use auto, fp32, bf16 or fp16)")
    return table[dtype]


@register_adapter("hf", HFOptions, target="FOLDER|ORG/NAME|FILE.gguf", build=build_hf,
                  requires=(("torch", "torch"), ("transformers", "transformers")),
                  summary="A transformers sequence-classification RM (num_labels=1) scored in-process; the "
                          "default for a folder or hub id.", example="hf:Skywork/Skywork-Reward-V2-Llama-3.1-8B")
class HFRewardModel(RewardModel):
    """A transformers ``AutoModelForSequenceClassification`` RM with one output (raw logit)."""

    def __init__(self, spec: str, device: str = "auto", dtype: str = "auto", max_length: int | None = None,
                 truncation: str | None = None, template: str | None = None, trust_remote_code: bool = False,
                 batch_size: int | str | None = "auto", max_batch_tokens: int | None = None, gguf_file: str | None = None,
                 device_map: str | None = None, max_memory: str | None = None, offload_folder: str | None = None,
                 batch_invariant: bool = True):
        from ..formatting import RMFormatter
        from ..hf_common import (
            MAX_FORWARD_ROWS,
            SHAPE_RULE,
            default_max_length,
            load_sequence_classifier,
            placement_kwargs,
            uses_own_pooling,
        )

        self.name = spec
        placement = placement_kwargs(device_map, max_memory, offload_folder)
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        local = Path(spec)
        if local.is_dir() and not (local / "config.json").is_file() and gguf_file is None:
            raise ModelLoadError(f"--rm {spec}: folder has no config.json (not a transformers model)")
        if not local.exists() and (spec.startswith((".", "/")) or spec.count("/") > 1):
            raise ModelLoadError(f"--rm {spec}: no such folder, and not a hub id (org/name)")
        self.tokenizer, self.model, loading = load_sequence_classifier(
            spec, what=f"--rm {spec}", dtype=self.dtype, trust_remote_code=trust_remote_code, gguf_file=gguf_file,
            **placement)
        fresh_head = [k for k in loading.get("missing_keys", []) if k.split(".")[0] in ("score", "classifier")]
        if fresh_head:  # a base LM or encoder: its "rewards" would be a random head's, different at every load
            raise ModelLoadError(f"--rm {spec}: has no reward head ({', '.join(sorted(fresh_head))} missing): "
                                 "a base model, not a trained reward model")
        if self.model.config.num_labels != 1:
            raise ModelLoadError(f"--rm {spec}: has num_labels={self.model.config.num_labels}, need 1 (a reward head)")
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token or self.tokenizer.unk_token
        self.pad_id = self.tokenizer.pad_token_id or 0
        if placement:  # accelerate placed every layer (several GPUs, CPU, disk): inputs follow the embeddings
            self.device = "device_map"
        else:
            self.model.to(self.device)
        self.model.eval()
        # unset options: what the trainer recorded for this model (score as trained), else the model's own
        # context (as vLLM serves it), else 512 / left
        recorded = _recorded_formatting(local) if local.is_dir() else {}
        if max_length:
            self.max_length_source = "option"
        else:
            max_length, self.max_length_source = default_max_length(self.tokenizer, self.model.config,
                                                                    recorded.get("max_length"))
        truncation = truncation or recorded.get("truncation") or "left"
        self.formatter = RMFormatter(self.tokenizer, max_length, truncation, template)
        # Decoder RMs: pool the hidden state of the last real token ourselves (right padding), so the
        # result is right when pad == eos and does not depend on the pad id or the batch.
        self._own_pooling = uses_own_pooling(self.model)
        self.batch_size = None if batch_size in ("auto", None) else int(batch_size)
        self.default_batch_size = self.batch_size or 64
        on_gpu = self.device.startswith("cuda") or (self.device == "device_map" and self._cuda())
        if batch_invariant:  # smaller forwards: fewer filler rows (benchmarks/RESULTS.md, batch dependence)
            self.max_batch_tokens = max_batch_tokens or (32768 if on_gpu else 4096)
        else:
            self.max_batch_tokens = max_batch_tokens or (65536 if on_gpu else 8192)
        self.n_truncated = 0
        if local.is_dir():
            weights = _weights_fingerprint(local)
        else:  # hub id: the resolved snapshot folder holds the commit
            weights = hashlib.sha256(str(getattr(self.model.config, "_commit_hash", spec)).encode()).hexdigest()
        fmt = json.dumps(self.formatter.describe(), sort_keys=True)
        ident = f"{weights}|{fmt}|{self.dtype}|{gguf_file}"
        self.batch_invariant = bool(batch_invariant)
        if self.batch_invariant:  # the forward shapes decide the last bits: old dynamic-padding scores are not reused
            ident += f"|{SHAPE_RULE}:{self.max_batch_tokens}:{MAX_FORWARD_ROWS}"
        self.fingerprint = "hf-" + hashlib.sha256(ident.encode()).hexdigest()[:32]

    def info(self) -> dict:
        from ..hf_common import placement_info

        return {"adapter": "HFRewardModel", "model_type": self.model.config.model_type,
                "n_params": sum(p.numel() for p in self.model.parameters()), "device": self.device,
                "dtype": str(self.dtype).replace("torch.", ""), "formatting": self.formatter.describe(),
                "own_last_token_pooling": self._own_pooling, "n_truncated": self.n_truncated,
                "max_length_source": self.max_length_source,
                "batch_invariant": self.batch_invariant, "max_batch_tokens": self.max_batch_tokens,
                **placement_info(self.model)}

    @staticmethod
    def _cuda() -> bool:
        import torch

        return torch.cuda.is_available()

    def encode(self, prompts, responses):
        enc = self.formatter.encode_many(prompts, responses)
        self.n_truncated += sum(e.truncated for e in enc)
        return enc

    def _forward(self, items) -> list[float]:
        from ..hf_common import collate, fixed_shape_rewards, input_device, reward_forward

        if self.batch_invariant:
            return fixed_shape_rewards(self.model, items, self.pad_id, self.max_batch_tokens,
                                       self.formatter.max_length, self._own_pooling)
        ids, mask, types = collate(items, self.pad_id, input_device(self.model))
        return reward_forward(self.model, ids, mask, types, self._own_pooling).float().cpu().tolist()

    def plan_batches(self, encoded):
        """``(batches, rep)``: one forward pass per distinct token sequence, grouped by token budget (or, when
        batch-invariant, one batch per fixed-shape forward)."""
        from ..hf_common import plan_unique_batches

        shape = (self.max_batch_tokens, self.formatter.max_length) if self.batch_invariant else None
        return plan_unique_batches(encoded, self.max_batch_tokens, self.batch_size, fixed_shape=shape)

    def score_batch(self, items) -> list[float]:
        """Rewards of one planned batch (halved and retried on out-of-memory)."""
        import torch

        with torch.inference_mode():
            return self._forward_with_backoff(items)

    def score_encoded(self, encoded) -> list[float]:
        from ..hf_common import score_planned

        return score_planned(self, encoded)

    def _forward_with_backoff(self, items) -> list[float]:
        import torch

        try:
            return self._forward(items)
        except torch.OutOfMemoryError:
            if self.batch_invariant:  # halving would change the forward shapes, hence the rewards, mid-run
                raise InputError(f"--rm {self.name}: out of memory in a batch-invariant forward of "
                                 f"{self.max_batch_tokens} padded tokens: pass a smaller --max-batch-tokens (the "
                                 "rewards' last bits depend on it) or --rm-arg batch_invariant=false") from None
            if len(items) == 1:
                raise
            torch.cuda.empty_cache()
            self.max_batch_tokens = max(self.max_batch_tokens // 2, 256)
            half = len(items) // 2
            return self._forward_with_backoff(items[:half]) + self._forward_with_backoff(items[half:])

    def score(self, prompts, responses) -> list[float]:
        return self.score_encoded(self.encode(prompts, responses))
