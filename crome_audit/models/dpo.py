"""DPO implicit rewards: a DPO-trained policy is a reward model (Rafailov et al. 2023).

    crome-audit run --rm dpo:./zephyr-dpo,./zephyr-sft                 # r = log pi(y|x) - log pi_ref(y|x)
    crome-audit run --rm dpo:./zephyr-dpo --rm-arg mode=avg            # reference-free, mean log pi(y|x)
    rm = load_rm("dpo:./policy,./ref")                                 # Python

Reward of response ``y`` to prompt ``x``:
- with a reference (``dpo:POLICY,REF``): ``mode=sum`` (default) ``sum_t log pi(y_t|x,y_<t) - log pi_ref(...)``
  over the response tokens: the DPO implicit reward up to beta, which no index of ours depends on; ``mode=avg``
  divides that by the number of response tokens;
- without one (``dpo:POLICY``): ``mode=avg`` (default, RewardBench's reference-free default) the mean token
  log-probability of the response, ``mode=sum`` the total.

Which tokens are the response: the prompt is rendered alone (chat template with ``add_generation_prompt``,
else the text of the ``--template`` / plain template before ``{response}``) and with the response; both are
tokenized and every token after their common prefix is a response token (so a merge across the boundary
counts as response, and the template's closing tokens such as EOS count as the model's own ending). Scored
in batches with right padding; only response positions go through the float32 log-softmax. Truncation
(``max_length``, default: the models' context length, else 1024) drops tokens from the start: the prompt first,
then the start of the response (counted in ``n_truncated``; the dropped response tokens are then not scored).

Options (``--rm-arg KEY=VALUE``): mode, max_length, template, device, dtype, batch_size, max_batch_tokens,
trust_remote_code, device_map, max_memory.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..data import as_messages, prompt_text
from ..errors import InputError, ModelLoadError
from ..formatting import PLAIN_TEMPLATE, fill_template
from ..hf_common import (
    collate,
    first_line,
    input_device,
    placement_info,
    placement_kwargs,
    plan_unique_batches,
    score_planned,
)
from .base import RewardModel, option, register_adapter

DPO_FORMAT_VERSION = 2  # bump when encoding changes, so cached scores are not reused (2: single-pass templates)
MODES = ("sum", "avg")


@dataclass
class DPOEncoded:
    """Full sequence ids; the last ``n_response`` of them are scored."""

    input_ids: list[int]
    n_response: int
    truncated: bool
    token_type_ids: None = None


class CausalFormatter:
    """(prompt, response) -> the ids of prompt+response and how many trailing ids are the response."""

    def __init__(self, tokenizer, max_length: int = 1024, template: str | None = None):
        if template is not None and ("{prompt}" not in template or "{response}" not in template):
            raise InputError("template must contain both {prompt} and {response}")
        if max_length < 8:
            raise InputError(f"max_length must be at least 8, got {max_length}")
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.template = template
        self.mode = "template" if template else ("chat_template" if getattr(tokenizer, "chat_template", None)
                                                 else "plain")
        self.n_boundary_merges = 0

    def describe(self) -> dict:
        return {"version": DPO_FORMAT_VERSION, "mode": self.mode,
                "template": self.template or (PLAIN_TEMPLATE if self.mode == "plain" else None),
                "chat_template": self.tokenizer.chat_template if self.mode == "chat_template" else None,
                "max_length": self.max_length, "truncation": "left"}

    def texts(self, prompt, response: str) -> tuple[str, str]:
        """(prompt alone, prompt + response) as the model reads them."""
        tok = self.tokenizer
        if self.mode == "chat_template":
            msgs = as_messages(prompt, response)
            context = tok.apply_chat_template(msgs[:-1], tokenize=False, add_generation_prompt=True)
            return context, tok.apply_chat_template(msgs, tokenize=False)
        template = self.template or PLAIN_TEMPLATE
        # the context is the template up to its first {response} placeholder (split in the template, never in
        # a value), filled in the same single pass as the whole text, so it is a prefix of it
        before = template.split("{response}", 1)[0]
        return fill_template(before, prompt_text(prompt)), fill_template(template, prompt_text(prompt), response)

    def encode_many(self, prompts, responses) -> list[DPOEncoded]:
        tok = self.tokenizer
        pairs = [self.texts(p, r) for p, r in zip(prompts, responses)]
        ctx_ids = tok([c for c, _ in pairs], add_special_tokens=False)["input_ids"]
        full_ids = tok([f for _, f in pairs], add_special_tokens=False)["input_ids"]
        # chat templates write BOS themselves; plain text gets the tokenizer's BOS (never a trailing EOS/SEP)
        bos = [tok.bos_token_id] if self.mode != "chat_template" and tok.bos_token_id is not None else []
        out = []
        for c, f in zip(ctx_ids, full_ids):
            c, f = bos + c, bos + f
            lcp = 0
            for a, b in zip(c, f):
                if a != b:
                    break
                lcp += 1
            if lcp < len(c):
                self.n_boundary_merges += 1
            lcp = max(lcp, 1)  # the first token has nothing to predict it
            n_resp = len(f) - lcp
            truncated = len(f) > self.max_length
            if truncated:
                f = f[len(f) - self.max_length:]
                n_resp = min(n_resp, self.max_length - 1)
            out.append(DPOEncoded(f, n_resp, truncated))
        return out


def response_logprobs(model, items: list[DPOEncoded], pad_id: int, avg: bool, rows: int | None = None,
                      width: int | None = None) -> list[float]:
    """Sum (or mean) of log p(token) over each item's response tokens, one batched forward pass (of shape
    ``(rows, width)`` when given: spare rows are copies, never read)."""
    import torch

    ids, mask, _ = collate(items, pad_id, input_device(model), rows=rows, width=width)
    logits = model(input_ids=ids, attention_mask=mask).logits  # [B, T, V]
    rows, cols = [], []
    for b, e in enumerate(items):
        n = len(e.input_ids)
        for t in range(n - e.n_response, n):  # token t is predicted at position t-1
            rows.append(b)
            cols.append(t)
    if not rows:
        return [0.0] * len(items)
    dev = logits.device
    rows_t = torch.tensor(rows, device=dev)
    cols_t = torch.tensor(cols, device=dev)
    picked = logits[rows_t, cols_t - 1].float()  # only response positions go through fp32 log-softmax
    targets = ids.to(dev)[rows_t, cols_t]
    lp = picked.gather(1, targets[:, None])[:, 0] - torch.logsumexp(picked, dim=1)
    sums = torch.zeros(len(items), dtype=torch.float64, device=dev).index_add_(0, rows_t, lp.double())
    out = sums.cpu().tolist()
    if avg:
        out = [s / e.n_response if e.n_response else 0.0 for s, e in zip(out, items)]
    return out


def _load_causal_lm(path: str, what: str, dtype, trust_remote_code: bool, placement: dict):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    local = Path(path)
    if local.is_dir() and not (local / "config.json").is_file():
        raise ModelLoadError(f"{what}: folder has no config.json (not a transformers model)")
    if not local.exists() and (path.startswith((".", "/")) or path.count("/") > 1):
        raise ModelLoadError(f"{what}: no such folder, and not a hub id (org/name)")
    try:
        tok = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype, trust_remote_code=trust_remote_code,
                                                     **placement)
    except Exception as e:
        raise ModelLoadError(f"{what}: cannot load as a causal LM: {first_line(e)}") from None
    return tok, model


def _identity(path: str, model) -> str:
    from .hf import _weights_fingerprint

    local = Path(path)
    if local.is_dir():
        return _weights_fingerprint(local)
    return hashlib.sha256(str(getattr(model.config, "_commit_hash", path)).encode()).hexdigest()


@dataclass
class DPOOptions:
    mode: Literal["sum", "avg"] | None = option(None, "sum or avg of the response-token log-ratios (default: sum "
                                                      "with a reference, avg without one).")
    device: str = option("auto", "auto, cpu, cuda, cuda:1, mps (ignored with device_map).")
    dtype: str = option("auto", "auto (bf16/fp16 on GPU, fp32 on CPU), fp32, bf16, fp16.")
    max_length: int | None = option(None, "Max tokens per prompt+response (default: the models' context length, "
                                          "else 1024; the start is dropped).")
    template: str | None = option(None, "Plain format string with {prompt} and {response}, used instead of the "
                                        "chat template.")
    trust_remote_code: bool = option(False, "Allow custom model code from the model folder/hub.")
    batch_size: int | None = option(None, "Max texts per batch (default: token-budget batching only).")
    max_batch_tokens: int | None = option(None, "Padded tokens per batch (default 4096 on CPU, 16384 on GPU); when "
                                                "batch_invariant, the fixed forward shape (part of the cache key).")
    batch_invariant: bool = option(True, "Fixed-shape forwards: rewards bit-identical whatever the batching "
                                         "(false: dynamic padding, faster, rewards drift in the last bits).")
    device_map: str | dict | None = option(None, "accelerate big-model placement: auto, balanced, sequential, or a JSON "
                                          "object module -> device (layers spread over GPUs/CPU).")
    max_memory: str | dict | None = option(None, "With device_map: per-device caps, e.g. 0=70GiB,1=70GiB,cpu=200GiB.")


@register_adapter("dpo", DPOOptions, target="POLICY[,REFERENCE]",
                  requires=(("torch", "torch"), ("transformers", "transformers")),
                  summary="DPO implicit reward: summed (or mean) response-token log-probability ratio of a "
                          "policy to its reference; reference-free without one.",
                  example="dpo:HuggingFaceH4/zephyr-7b-beta,HuggingFaceH4/mistral-7b-sft-beta")
class DPORewardModel(RewardModel):
    """Implicit reward of a DPO policy, with or without its reference model (see module docstring)."""

    def __init__(self, spec: str, mode: str | None = None, device: str = "auto", dtype: str = "auto",
                 max_length: int | None = None, template: str | None = None, trust_remote_code: bool = False,
                 batch_size: int | str | None = None, max_batch_tokens: int | None = None, device_map=None,
                 max_memory=None, batch_invariant: bool = True):
        from ..hf_common import MAX_FORWARD_ROWS, SHAPE_RULE
        from .hf import resolve_device, resolve_dtype

        body = spec[len("dpo:"):] if spec.startswith("dpo:") else spec
        parts = [p.strip() for p in body.split(",")]
        if not parts[0] or len(parts) > 2 or (len(parts) == 2 and not parts[1]):
            raise InputError(f"--rm {spec}: expected dpo:POLICY or dpo:POLICY,REFERENCE")
        self.policy_path = parts[0]
        self.ref_path = parts[1] if len(parts) == 2 else None
        mode = mode or ("sum" if self.ref_path else "avg")
        if mode not in MODES:
            from ..registry import suggest

            raise InputError(f"--rm {spec}: mode '{mode}' unknown{suggest(mode, MODES)}")
        self.mode = mode
        self.name = spec if spec.startswith("dpo:") else f"dpo:{spec}"
        placement = placement_kwargs(device_map, max_memory)
        self.device = resolve_device(device) if not placement else "device_map"
        self.dtype = resolve_dtype(dtype, resolve_device(device))
        self.tokenizer, self.policy = _load_causal_lm(self.policy_path, f"--rm {spec}: policy {self.policy_path}",
                                                      self.dtype, trust_remote_code, placement)
        self.ref = None
        if self.ref_path:
            ref_tok, self.ref = _load_causal_lm(self.ref_path, f"--rm {spec}: reference {self.ref_path}",
                                                self.dtype, trust_remote_code, placement)
            if ref_tok.get_vocab() != self.tokenizer.get_vocab():
                raise ModelLoadError(f"--rm {spec}: policy and reference tokenizers differ (a DPO reference "
                                     "must share the policy's vocabulary)")
        for m in (self.policy, self.ref):
            if m is not None:
                if not placement:
                    m.to(self.device)
                m.eval()
        tok = self.tokenizer
        self.pad_id = tok.pad_token_id if tok.pad_token_id is not None else (tok.eos_token_id or 0)
        if not max_length:  # the model's own context (policy and reference: the shorter), as for hf:
            from ..hf_common import model_context_length

            limits = [model_context_length(tok, m.config) for m in (self.policy, self.ref) if m is not None]
            limits = [n for n in limits if n is not None]
            max_length = min(limits) if limits else 1024
        self.formatter = CausalFormatter(tok, max_length, template)
        self.batch_size = None if batch_size in ("auto", None) else int(batch_size)
        self.default_batch_size = self.batch_size or 16
        on_gpu = self.device == "device_map" or str(self.device).startswith("cuda")
        self.max_batch_tokens = max_batch_tokens or (16384 if on_gpu else 4096)
        self.n_truncated = 0
        ident = {"policy": _identity(self.policy_path, self.policy),
                 "ref": _identity(self.ref_path, self.ref) if self.ref is not None else None,
                 "mode": self.mode, "fmt": self.formatter.describe(), "dtype": str(self.dtype)}
        self.batch_invariant = bool(batch_invariant)
        if self.batch_invariant:  # the forward shapes decide the last bits (as for hf:): old scores not reused
            ident["shape"] = f"{SHAPE_RULE}:{self.max_batch_tokens}:{MAX_FORWARD_ROWS}"
        self.fingerprint = "dpo-" + hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:32]

    def info(self) -> dict:
        return {"adapter": "DPORewardModel", "policy": self.policy_path, "reference": self.ref_path,
                "batch_invariant": self.batch_invariant, "max_batch_tokens": self.max_batch_tokens,
                "mode": self.mode, "reward": ("log pi - log pi_ref" if self.ref is not None else "log pi")
                + (" per response token" if self.mode == "avg" else " summed over response tokens"),
                "model_type": self.policy.config.model_type, "device": self.device,
                "dtype": str(self.dtype).replace("torch.", ""), "formatting": self.formatter.describe(),
                "n_truncated": self.n_truncated, "n_boundary_merges": self.formatter.n_boundary_merges,
                **placement_info(self.policy)}

    def encode(self, prompts, responses) -> list[DPOEncoded]:
        enc = self.formatter.encode_many(prompts, responses)
        self.n_truncated += sum(e.truncated for e in enc)
        return enc

    def plan_batches(self, encoded):
        """``(batches, rep)``: one pass per distinct token sequence, grouped by token budget (or, when
        batch-invariant, one batch per fixed-shape forward, as hf: does)."""
        shape = (self.max_batch_tokens, self.formatter.max_length) if self.batch_invariant else None
        return plan_unique_batches(encoded, self.max_batch_tokens, self.batch_size, fixed_shape=shape)

    def score_batch(self, items) -> list[float]:
        """Implicit rewards of one planned batch: policy (minus reference) response log-probabilities."""
        import torch

        from ..hf_common import bucket_width, forward_rows

        avg = self.mode == "avg"
        shape = {}
        if self.batch_invariant:  # a planned batch is one fixed-shape forward: its texts share one width
            width = bucket_width(max(len(e.input_ids) for e in items), self.formatter.max_length)
            shape = {"rows": forward_rows(width, self.max_batch_tokens), "width": width}
        with torch.inference_mode():
            r = response_logprobs(self.policy, items, self.pad_id, avg, **shape)
            if self.ref is not None:
                r = [a - b for a, b in zip(r, response_logprobs(self.ref, items, self.pad_id, avg, **shape))]
        return r

    def score_encoded(self, encoded) -> list[float]:
        return score_planned(self, encoded)

    def score(self, prompts, responses) -> list[float]:
        return self.score_encoded(self.encode(prompts, responses))
