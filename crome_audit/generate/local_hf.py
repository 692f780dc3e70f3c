"""Local backend: a transformers causal LM in this process, batched generation with left padding.

    gen = LocalHFGenerator(GeneratorConfig(backend="local", model="/path/SmolLM2-135M-Instruct.Q4_1.gguf"))
    gen.generate([[{"role": "user", "content": "Name a colour."}]], n=2, temperature=0.8)

``model`` is a folder, a hub id, or a .gguf file (``gguf_file=`` inside a folder/repo; transformers
de-quantizes it). Prompts go through the tokenizer's chat template, are sorted by length and batched
(``batch_size``), left-padded with a pad token distinct from EOS (SmolLM2 ships pad == eos, which
would make padding indistinguishable from a finished answer).

Sampling is seeded per row: a logits processor adds Gumbel noise drawn from the row's own generator
(seeded with the sample's seed) and decoding takes the argmax, which samples exactly from the
temperature/top-p distribution. So a sample does not depend on which other rows share its batch,
and the same inputs give the same outputs. Temperature 0 is plain greedy decoding.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..errors import ModelLoadError
from .base import Generator, Unit
from .config import GeneratorConfig

PAD_CANDIDATES = ("<|finetune_right_pad_id|>", "<|pad|>", "<pad>", "[PAD]", "<|endoftext|>", "<unk>")


def _file_fingerprint(path: Path) -> str:
    """Size + 16 sampled 64 KiB blocks (cheap for multi-GB files)."""
    h = hashlib.sha256()
    size = path.stat().st_size
    h.update(f"{path.name}:{size}\n".encode())
    with open(path, "rb") as fh:
        for k in range(16):
            fh.seek(size * k // 16)
            h.update(fh.read(1 << 16))
    return h.hexdigest()


def make_seeded_sampler(seeds: list[int], temperature: float, top_p: float):
    """A LogitsProcessor: temperature + top-p, then per-row Gumbel noise from per-row generators."""
    import torch
    from transformers import LogitsProcessor

    class SeededGumbelSampler(LogitsProcessor):
        def __init__(self):
            self.generators = [torch.Generator().manual_seed(int(s)) for s in seeds]

        def __call__(self, input_ids, scores):
            scores = scores.float() / temperature
            if top_p < 1.0:
                sorted_scores, order = torch.sort(scores, descending=True, dim=-1)
                cum = sorted_scores.softmax(dim=-1).cumsum(dim=-1)
                drop_sorted = cum - sorted_scores.softmax(dim=-1) >= top_p  # keep the token crossing top_p
                drop = drop_sorted.scatter(-1, order, drop_sorted)
                scores = scores.masked_fill(drop, float("-inf"))
            vocab = scores.shape[-1]
            u = torch.stack([torch.rand(vocab, generator=g, dtype=torch.float64) for g in self.generators])
            gumbel = -torch.log(-torch.log(u.clamp_min(1e-300)))
            return scores + gumbel.to(scores.device, scores.dtype)

    return SeededGumbelSampler()


class LocalHFGenerator(Generator):
    backend = "local"

    def __init__(self, config: GeneratorConfig):
        spec = config.model
        local = Path(spec)  # check the path before the (slow) torch import
        if not local.exists() and (spec.startswith((".", "/")) or spec.count("/") > 1):
            raise ModelLoadError(f"generator local:{spec}: no such file or folder, and not a hub id (org/name)")
        if local.is_dir() and config.gguf_file and not (local / config.gguf_file).is_file():
            raise ModelLoadError(f"generator local:{spec}: no GGUF file '{config.gguf_file}' in that folder")
        super().__init__(config)
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from ..models import resolve_device, resolve_dtype

        self.device = resolve_device(config.device)
        self.dtype = resolve_dtype(config.dtype, self.device)
        kwargs = {"trust_remote_code": config.trust_remote_code}
        if config.gguf_file:
            kwargs["gguf_file"] = config.gguf_file
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(spec, **kwargs)
            self.model = AutoModelForCausalLM.from_pretrained(spec, dtype=self.dtype, **kwargs)
        except Exception as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ModelLoadError(f"generator local:{spec}: cannot load as a causal LM: {first}") from None
        self.model.to(self.device).eval()
        gen_cfg = self.model.generation_config
        eos = gen_cfg.eos_token_id if gen_cfg.eos_token_id is not None else self.tokenizer.eos_token_id
        self.eos_ids = [eos] if isinstance(eos, int) else list(eos or [])
        self.pad_id = self._choose_pad()
        self.tokenizer.padding_side = "left"
        self.max_positions = getattr(self.model.config, "max_position_embeddings", None) or 1 << 30
        if config.gguf_file:
            weights = _file_fingerprint(local / config.gguf_file) if local.is_dir() else config.gguf_file
        elif local.is_dir():
            from ..models import _weights_fingerprint

            weights = _weights_fingerprint(local)
        else:
            weights = str(getattr(self.model.config, "_commit_hash", spec))
        self._identity = {"backend": self.backend, "model": spec, "gguf_file": config.gguf_file,
                          "weights": weights[:32], "dtype": str(self.dtype).replace("torch.", "")}

    def _choose_pad(self) -> int:
        """A pad id distinct from every EOS id (adding a token only if the vocabulary has none)."""
        tok = self.tokenizer
        if tok.pad_token_id is not None and tok.pad_token_id not in self.eos_ids:
            return tok.pad_token_id
        vocab = tok.get_vocab()
        for cand in PAD_CANDIDATES:
            tid = vocab.get(cand)
            if tid is not None and tid not in self.eos_ids and tid != tok.bos_token_id:
                tok.pad_token = cand
                return tid
        tok.add_special_tokens({"pad_token": "<|crome_pad|>"})
        self.model.resize_token_embeddings(len(tok))
        return tok.pad_token_id

    def identity(self) -> dict:
        return dict(self._identity)

    def describe(self) -> dict:
        return {**super().describe(), "device": self.device, "batch_size": self.config.batch_size}

    def prompt_ids(self, messages: list[dict]) -> list[int]:
        tok = self.tokenizer
        if tok.chat_template:  # the template writes any BOS itself
            text = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
            return tok(text, add_special_tokens=False)["input_ids"]
        # base models: a plain transcript, BOS first if the model has one (never a trailing EOS/[SEP])
        text = "".join(f"{m['role'].capitalize()}: {m['content']}\n" for m in messages) + "Assistant:"
        ids = tok(text, add_special_tokens=False)["input_ids"]
        bos = tok.bos_token_id
        return [bos, *ids] if bos is not None and bos not in self.eos_ids else ids

    def _generate_batch(self, batch: list[tuple[Unit, list[int]]]) -> list[str]:
        import torch
        from transformers import GenerationConfig, LogitsProcessorList

        unit0 = batch[0][0]
        width = max(len(ids) for _, ids in batch)
        input_ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, (_, ids) in enumerate(batch):  # left padding: the prompt ends at the last column
            input_ids[row, width - len(ids):] = torch.tensor(ids)
            mask[row, width - len(ids):] = 1
        cfg = GenerationConfig(max_new_tokens=unit0.max_new_tokens, do_sample=False, num_beams=1,
                               pad_token_id=self.pad_id, eos_token_id=self.eos_ids or None)
        processors = LogitsProcessorList()
        if unit0.temperature > 0:
            processors.append(make_seeded_sampler([u.seed for u, _ in batch], unit0.temperature, unit0.top_p))
        with torch.inference_mode():
            out = self.model.generate(input_ids=input_ids.to(self.device), attention_mask=mask.to(self.device),
                                      generation_config=cfg, logits_processor=processors)
        return self.tokenizer.batch_decode(out[:, width:].cpu(), skip_special_tokens=True)

    def _run(self, units, emit):
        import torch

        saved = torch.get_num_threads()
        if self.config.num_threads:
            torch.set_num_threads(self.config.num_threads)
        try:
            return self._run_batches(units, emit)
        finally:
            torch.set_num_threads(saved)

    def _run_batches(self, units, emit):
        failures, ready = [], []
        for u in units:
            ids = self.prompt_ids(u.messages)
            if len(ids) + u.max_new_tokens > self.max_positions:
                failures.append((u, f"prompt of {len(ids)} tokens + {u.max_new_tokens} new tokens exceeds the "
                                    f"model's {self.max_positions} positions"))
            else:
                ready.append((u, ids))
        # group by sampling parameters, longest prompts first, so batches hold similar lengths
        ready.sort(key=lambda x: (x[0].max_new_tokens, x[0].temperature, x[0].top_p, -len(x[1])))
        bs = self.config.batch_size
        i = 0
        while i < len(ready):
            head = ready[i][0]
            j = i
            while (j < len(ready) and j - i < bs and
                   (ready[j][0].max_new_tokens, ready[j][0].temperature, ready[j][0].top_p)
                   == (head.max_new_tokens, head.temperature, head.top_p)):
                j += 1
            batch = ready[i:j]
            for (u, _), text in zip(batch, self._generate_batch(batch)):
                emit(u, text)
            i = j
        return failures
