"""Reward-model adapters behind one interface: ``score(prompts, responses) -> list[float]``.

Specs understood by :func:`load_reward_model`:
- ``length``: model-free baseline, reward = response length in word/punctuation tokens;
- ``noise``: model-free reference, reward = a deterministic hash of (prompt, response) in [0, 1);
- ``py:package.module:function`` or ``py:path/to/file.py:function``: a Python callable
  ``f(prompts, responses) -> list[float]`` over batches (prompts are strings, or message lists
  for conversational data);
- anything else: a Hugging Face sequence-classification RM (``num_labels=1``), a local folder or a hub id.
  Rewards are raw logits (never a sigmoid). Encoder cross-encoders and decoder RMs both work.

Adapters that tokenize expose ``encode`` + ``score_encoded`` so the engine can sort all texts by
length once and batch by a token budget.
"""

from __future__ import annotations

import abc
import hashlib
import importlib
import importlib.util
import inspect
import json
import os
import re
from pathlib import Path

from ..errors import InputError, ModelLoadError
from ..registry import Registry

RM_ADAPTERS = Registry("reward-model adapter")
WORD_RE = re.compile(r"\w+|[^\w\s]")


class RewardModel(abc.ABC):
    """Base class. Subclasses set ``name`` and ``fingerprint`` and implement ``score``."""

    name: str = "rm"
    fingerprint: str = ""
    default_batch_size: int = 64

    @abc.abstractmethod
    def score(self, prompts, responses) -> list[float]:
        """Implemented by each subclass."""

    def info(self) -> dict:
        """Plain-data description for results.json (adapter, formatting, truncation counts...)."""
        return {"adapter": type(self).__name__}


@RM_ADAPTERS.register("length")
class LengthRM(RewardModel):
    """Reward = number of word/punctuation tokens of the response (the reference for length bias)."""

    name = "length"
    fingerprint = "length-v1"
    default_batch_size = 4096

    def __init__(self, **_ignored):
        pass

    def score(self, prompts, responses) -> list[float]:
        return [float(len(WORD_RE.findall(r))) for r in responses]


@RM_ADAPTERS.register("noise")
class NoiseRM(RewardModel):
    """Reward = a deterministic hash of (prompt, response), uniform in [0, 1): the reference that knows nothing.

    Every edit moves it (mean |change| is 1/3, about 0.82 SD of its pair margins), it detects no degradation
    (detection rate 1/2) and orders pairs at chance, so every audit shows where "knows nothing" sits."""

    name = "noise"
    fingerprint = "noise-v1"
    default_batch_size = 4096

    def __init__(self, **_ignored):
        pass

    @staticmethod
    def reward(prompt, response: str) -> float:
        key = json.dumps(prompt, ensure_ascii=False, sort_keys=True) + "\x1f" + response
        return int.from_bytes(hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()[:8], "big") / 2.0**64

    def score(self, prompts, responses) -> list[float]:
        return [self.reward(p, r) for p, r in zip(prompts, responses)]


class CallableRM(RewardModel):
    """A user function ``f(prompts, responses) -> list[float]`` loaded from ``py:module:function``."""

    def __init__(self, spec: str, **_ignored):
        target = spec[3:]
        module_name, _, func_name = target.rpartition(":")
        if not module_name or not func_name:
            raise InputError(f"--rm {spec}: expected py:package.module:function or py:file.py:function")
        try:
            if module_name.endswith(".py"):
                path = Path(module_name)
                if not path.is_file():
                    raise InputError(f"--rm {spec}: no such file {module_name}")
                mod_spec = importlib.util.spec_from_file_location(path.stem, path)
                module = importlib.util.module_from_spec(mod_spec)
                mod_spec.loader.exec_module(module)
            else:
                module = importlib.import_module(module_name)
        except InputError:
            raise
        except Exception as e:
            raise ModelLoadError(f"--rm {spec}: cannot import {module_name}: {type(e).__name__}: {e}") from None
        func = getattr(module, func_name, None)
        if not callable(func):
            raise InputError(f"--rm {spec}: {module_name} has no callable '{func_name}'")
        self.func = func
        self.name = spec
        try:
            source = inspect.getsource(module)
        except (OSError, TypeError):
            source = repr(func)
        self.fingerprint = "py-" + hashlib.sha256(f"{target}\n{source}".encode()).hexdigest()[:24]

    def score(self, prompts, responses) -> list[float]:
        out = self.func(list(prompts), list(responses))
        try:
            out = [float(x) for x in out]
        except (TypeError, ValueError):
            raise InputError(f"--rm {self.name}: must return a list of numbers, got {type(out).__name__}") from None
        if len(out) != len(responses):
            raise InputError(f"--rm {self.name}: returned {len(out)} rewards for {len(responses)} responses")
        return out


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


class HFRewardModel(RewardModel):
    """A transformers ``AutoModelForSequenceClassification`` RM with one output (raw logit)."""

    def __init__(self, spec: str, device: str = "auto", dtype: str = "auto", max_length: int | None = None,
                 truncation: str | None = None, template: str | None = None, trust_remote_code: bool = False,
                 batch_size: int | str = "auto", max_batch_tokens: int | None = None, gguf_file: str | None = None):
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        from ..formatting import RMFormatter

        self.name = spec
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        local = Path(spec)
        if local.is_dir() and not (local / "config.json").is_file() and gguf_file is None:
            raise ModelLoadError(f"--rm {spec}: folder has no config.json (not a transformers model)")
        if not local.exists() and (spec.startswith((".", "/")) or spec.count("/") > 1):
            raise ModelLoadError(f"--rm {spec}: no such folder, and not a hub id (org/name)")
        kwargs = {"trust_remote_code": trust_remote_code}
        if gguf_file:
            kwargs["gguf_file"] = gguf_file
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(spec, **kwargs)
            self.model, loading = AutoModelForSequenceClassification.from_pretrained(
                spec, num_labels=1, dtype=self.dtype, output_loading_info=True, **kwargs)
        except Exception as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ModelLoadError(f"--rm {spec}: cannot load as a sequence-classification RM: {first}") from None
        fresh_head = [k for k in loading.get("missing_keys", []) if k.split(".")[0] in ("score", "classifier")]
        if fresh_head:  # a base LM or encoder: its "rewards" would be a random head's, different at every load
            raise ModelLoadError(f"--rm {spec}: has no reward head ({', '.join(sorted(fresh_head))} missing): "
                                 "a base model, not a trained reward model")
        if self.model.config.num_labels != 1:
            raise ModelLoadError(f"--rm {spec}: has num_labels={self.model.config.num_labels}, need 1 (a reward head)")
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token or self.tokenizer.unk_token
        self.pad_id = self.tokenizer.pad_token_id or 0
        self.model.to(self.device).eval()
        # unset options: what the trainer recorded for this model (score as trained), else 512 / left
        recorded = _recorded_formatting(local) if local.is_dir() else {}
        max_length = max_length or recorded.get("max_length") or 512
        truncation = truncation or recorded.get("truncation") or "left"
        self.formatter = RMFormatter(self.tokenizer, max_length, truncation, template)
        # Decoder RMs: pool the hidden state of the last real token ourselves (right padding), so the
        # result is right when pad == eos and does not depend on the pad id or the batch.
        self._own_pooling = isinstance(getattr(self.model, "score", None), torch.nn.Linear)
        self.batch_size = None if batch_size == "auto" else int(batch_size)
        self.default_batch_size = self.batch_size or 64
        self.max_batch_tokens = max_batch_tokens or (65536 if self.device == "cuda" else 8192)
        self.n_truncated = 0
        if local.is_dir():
            weights = _weights_fingerprint(local)
        else:  # hub id: the resolved snapshot folder holds the commit
            weights = hashlib.sha256(str(getattr(self.model.config, "_commit_hash", spec)).encode()).hexdigest()
        fmt = json.dumps(self.formatter.describe(), sort_keys=True)
        self.fingerprint = "hf-" + hashlib.sha256(f"{weights}|{fmt}|{self.dtype}|{gguf_file}".encode()).hexdigest()[:32]

    def info(self) -> dict:
        return {"adapter": "HFRewardModel", "model_type": self.model.config.model_type,
                "n_params": sum(p.numel() for p in self.model.parameters()), "device": self.device,
                "dtype": str(self.dtype).replace("torch.", ""), "formatting": self.formatter.describe(),
                "own_last_token_pooling": self._own_pooling, "n_truncated": self.n_truncated}

    def encode(self, prompts, responses):
        enc = self.formatter.encode_many(prompts, responses)
        self.n_truncated += sum(e.truncated for e in enc)
        return enc

    def batches(self, encoded) -> list[list[int]]:
        """Indices grouped into batches by token budget, longest first (dynamic padding)."""
        order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i].input_ids))
        batches, cur, cur_max = [], [], 0
        for i in order:
            n = len(encoded[i].input_ids)
            new_max = max(cur_max, n)
            too_many = self.batch_size is not None and len(cur) >= self.batch_size
            if cur and (new_max * (len(cur) + 1) > self.max_batch_tokens or too_many):
                batches.append(cur)
                cur, new_max = [], n
            cur.append(i)
            cur_max = new_max
        if cur:
            batches.append(cur)
        return batches

    def _forward(self, items) -> list[float]:
        import torch

        width = max(len(e.input_ids) for e in items)
        ids = torch.full((len(items), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(items), width), dtype=torch.long)
        types = torch.zeros((len(items), width), dtype=torch.long) if items[0].token_type_ids else None
        for row, e in enumerate(items):
            ids[row, : len(e.input_ids)] = torch.tensor(e.input_ids)
            mask[row, : len(e.input_ids)] = 1
            if types is not None:
                types[row, : len(e.token_type_ids)] = torch.tensor(e.token_type_ids)
        ids, mask = ids.to(self.device), mask.to(self.device)
        if self._own_pooling:
            base = getattr(self.model, self.model.base_model_prefix)
            hidden = base(input_ids=ids, attention_mask=mask).last_hidden_state
            last = mask.sum(dim=1) - 1
            pooled = hidden[torch.arange(len(items), device=hidden.device), last]
            logits = self.model.score(pooled)
        else:
            kwargs = {"token_type_ids": types.to(self.device)} if types is not None else {}
            logits = self.model(input_ids=ids, attention_mask=mask, **kwargs).logits
        return logits[:, 0].float().cpu().tolist()

    def score_encoded(self, encoded) -> list[float]:
        import torch

        # texts that tokenize to the same ids are one forward pass: true ties come out exactly equal
        first: dict[tuple, int] = {}
        for i, e in enumerate(encoded):
            first.setdefault((tuple(e.input_ids), tuple(e.token_type_ids or ())), i)
        uniq = list(first.values())
        scores: dict[int, float] = {}
        with torch.inference_mode():
            for batch in self.batches([encoded[i] for i in uniq]):
                out_batch = self._forward_with_backoff([encoded[uniq[j]] for j in batch])
                for j, r in zip(batch, out_batch):
                    scores[uniq[j]] = r
        return [scores[first[(tuple(e.input_ids), tuple(e.token_type_ids or ()))]] for e in encoded]

    def _forward_with_backoff(self, items) -> list[float]:
        import torch

        try:
            return self._forward(items)
        except torch.OutOfMemoryError:
            if len(items) == 1:
                raise
            torch.cuda.empty_cache()
            self.max_batch_tokens = max(self.max_batch_tokens // 2, 256)
            half = len(items) // 2
            return self._forward_with_backoff(items[:half]) + self._forward_with_backoff(items[half:])

    def score(self, prompts, responses) -> list[float]:
        return self.score_encoded(self.encode(prompts, responses))


def load_reward_model(spec: str, **options) -> RewardModel:
    """Build an adapter from a spec string (see module docstring). Options go to the HF adapter."""
    if not spec or not spec.strip():
        raise InputError("--rm: empty reward-model spec")
    if spec.startswith("py:"):
        return CallableRM(spec)
    if spec in RM_ADAPTERS:
        return RM_ADAPTERS.get(spec)(**options)
    if spec.endswith(".gguf") and os.path.isfile(spec):
        options["gguf_file"] = os.path.basename(spec)
        spec = os.path.dirname(os.path.abspath(spec))
    return HFRewardModel(spec, **options)
