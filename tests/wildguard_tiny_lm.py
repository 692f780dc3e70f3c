"""A tiny random-init Llama causal LM with the local MiniLM tokenizer, for the WildGuard judge's
generation path (it cannot answer in WildGuard's format, which the tests rely on).

    from tests.wildguard_tiny_lm import build_tiny_causal_lm
    path = build_tiny_causal_lm(tmp_dir)
"""

from __future__ import annotations

from pathlib import Path


def build_tiny_causal_lm(out_dir, seed: int = 0) -> str:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from tests.tiny_models import local_tokenizer

    out = Path(out_dir)
    if (out / "config.json").is_file():
        return str(out)
    tok = local_tokenizer()
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                      num_key_value_heads=2, intermediate_size=64, max_position_embeddings=1024,
                      pad_token_id=tok.pad_token_id, eos_token_id=tok.sep_token_id, bos_token_id=tok.cls_token_id)
    LlamaForCausalLM(cfg).save_pretrained(out)
    tok.save_pretrained(out)
    return str(out)
