"""Turn (prompt, response) into the token ids a reward model reads. Shared by the RM adapter and the
trainer, so a model trained here is scored exactly as it was trained.

Policy (documented in docs/formatting.md):
1. ``template`` given (a Python format string with ``{prompt}`` and ``{response}``): that text.
2. else the tokenizer has a chat template: ``apply_chat_template(messages)``.
3. else a pair encoder (BERT-like, has CLS and SEP): text-pair encoding ``[CLS] prompt [SEP] response [SEP]``.
4. else the plain template ``PLAIN_TEMPLATE``.

Truncation to ``max_length`` tokens: ``left`` (default) drops tokens from the start (for pairs: from the
prompt first), keeping the end of the response where a verdict usually is; ``right`` drops from the end.
Every truncated item is counted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .data import as_messages, prompt_text
from .errors import InputError

FORMAT_VERSION = 3  # bump when encoding changes, so cached scores are not reused (3: single-pass templates)
PLAIN_TEMPLATE = "User: {prompt}\n\nAssistant: {response}"
PLACEHOLDER = re.compile(r"\{(prompt|response|response_a|response_b)\}")
# transformers warns "Token indices sequence length is longer than the specified maximum" whenever a text is
# tokenized whole; we tokenize whole on purpose and truncate ourselves, so the warning is false here
LONG_SEQUENCE_WARNING = "sequence-length-is-longer-than-the-specified-maximum"


def fill_template(template: str, prompt: str, response: str | None = None, **answers: str) -> str:
    """Put the values into ``{prompt}``/``{response}`` (and, for a pairwise judge, ``{response_a}``/``{response_b}``
    given as keywords) in one pass: text inside the values is never read as a placeholder (a prompt holding a
    literal "{response}" stays as written, an answer holding "{response_b}" does not receive answer B), and
    other braces in the template stay literal (no str.format). Every path that fills a template uses this
    function: the HF adapter, the served adapters (vLLM input form, SGLang, OpenRLHF), both judge modes and
    ``dpo:``. A placeholder without a value stays as written."""
    values = {"prompt": prompt, **({"response": response} if response is not None else {}), **answers}
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


@dataclass
class Encoded:
    input_ids: list[int]
    token_type_ids: list[int] | None
    truncated: bool


class RMFormatter:
    """Formats and tokenizes (prompt, response) pairs for one tokenizer."""

    def __init__(self, tokenizer, max_length: int = 512, truncation: str = "left", template: str | None = None):
        if truncation not in ("left", "right"):
            raise InputError(f"truncation must be 'left' or 'right', got '{truncation}'")
        if template is not None and ("{prompt}" not in template or "{response}" not in template):
            raise InputError("template must contain both {prompt} and {response}")
        if max_length < 8:
            raise InputError(f"max_length must be at least 8, got {max_length}")
        self.tokenizer = tokenizer
        warned = getattr(tokenizer, "deprecation_warnings", None)
        if isinstance(warned, dict):
            warned[LONG_SEQUENCE_WARNING] = True
        self.max_length = max_length
        self.truncation = truncation
        self.template = template
        if template is not None:
            self.mode = "template"
        elif getattr(tokenizer, "chat_template", None):
            self.mode = "chat_template"
        elif tokenizer.cls_token_id is not None and tokenizer.sep_token_id is not None:
            self.mode = "text_pair"
        else:
            self.mode = "plain"
        if self.mode == "text_pair":
            self._pair_layout = self._learn_pair_layout()
        elif self.mode != "chat_template":
            self._single = self._single_layout()

    def _learn_pair_layout(self):
        """Find where special tokens go around a text pair by encoding a probe pair once
        (works for BERT [CLS] a [SEP] b [SEP], RoBERTa <s> a </s></s> b </s>, ...)."""
        tok = self.tokenizer
        a = tok("a", add_special_tokens=False)["input_ids"]
        b = tok("b", add_special_tokens=False)["input_ids"]
        enc = tok("a", "b")
        ids, types = enc["input_ids"], enc.get("token_type_ids")
        ia = next(i for i in range(len(ids)) if ids[i : i + len(a)] == a)
        ib = next(i for i in range(ia + len(a), len(ids)) if ids[i : i + len(b)] == b)
        layout = {"prefix": ids[:ia], "middle": ids[ia + len(a) : ib], "suffix": ids[ib + len(b) :]}
        if types is not None:
            layout["type_a"], layout["type_b"] = types[ia], types[ib]
            layout["type_mid_end"] = types[ib - 1] if ib > 0 else types[ia]
        return layout

    def describe(self) -> dict:
        """What goes into the cache fingerprint: any change here changes the scores."""
        return {
            "version": FORMAT_VERSION,
            "mode": self.mode,
            "template": self.template or (PLAIN_TEMPLATE if self.mode == "plain" else None),
            "chat_template": getattr(self.tokenizer, "chat_template", None) if self.mode == "chat_template" else None,
            "max_length": self.max_length,
            "truncation": self.truncation,
        }

    def text(self, prompt, response: str) -> str:
        """The formatted text (for single-sequence modes)."""
        if self.mode == "chat_template":
            try:
                return self.tokenizer.apply_chat_template(as_messages(prompt, response), tokenize=False)
            except Exception as e:  # jinja2 SecurityError/TemplateError: the model folder's template, not our bug
                raise InputError(f"the chat template of the tokenizer failed: {type(e).__name__}: "
                                 f"{str(e).strip().splitlines()[0][:200] if str(e).strip() else ''} (fix the "
                                 "model's chat_template.jinja / tokenizer_config.json, or pass --template)") from None
        template = self.template or PLAIN_TEMPLATE
        return fill_template(template, prompt_text(prompt), response)

    def _single_layout(self) -> tuple[list[int], list[int]]:
        """Special tokens the tokenizer puts before/after a single text."""
        tok = self.tokenizer
        a = tok("a", add_special_tokens=False)["input_ids"]
        ids = tok("a")["input_ids"]
        i = next(i for i in range(len(ids)) if ids[i : i + len(a)] == a)
        return ids[:i], ids[i + len(a) :]

    def _cut(self, ids: list[int], budget: int) -> list[int]:
        if len(ids) <= budget:
            return ids
        if budget <= 0:
            return []
        return ids[len(ids) - budget :] if self.truncation == "left" else ids[:budget]

    def encode_many(self, prompts, responses) -> list[Encoded]:
        tok = self.tokenizer
        if self.mode == "text_pair":
            p_ids = tok([prompt_text(p) for p in prompts], add_special_tokens=False)["input_ids"]
            r_ids = tok(list(responses), add_special_tokens=False)["input_ids"]
            lay = self._pair_layout
            budget = self.max_length - len(lay["prefix"]) - len(lay["middle"]) - len(lay["suffix"])
            out = []
            for p, r in zip(p_ids, r_ids):
                truncated = len(p) + len(r) > budget
                if truncated:  # the prompt gives way first; the response keeps at least half
                    r = self._cut(r, max(budget - len(p), budget // 2))
                    p = self._cut(p, budget - len(r))
                ids = lay["prefix"] + p + lay["middle"] + r + lay["suffix"]
                types = None
                if "type_a" in lay:  # first segment incl. its specials is type_a, the rest type_b
                    n_first = len(lay["prefix"]) + len(p) + len(lay["middle"])
                    types = [lay["type_a"]] * n_first + [lay["type_b"]] * (len(r) + len(lay["suffix"]))
                out.append(Encoded(ids, types, truncated))
            return out
        texts = [self.text(p, r) for p, r in zip(prompts, responses)]
        all_ids = tok(texts, add_special_tokens=False)["input_ids"]
        # chat templates hold BOS etc. already; plain/template texts get the tokenizer's own special tokens
        # (e.g. BERT's [CLS] ... [SEP]) around the cut text, so truncation never drops them
        prefix, suffix = ([], []) if self.mode == "chat_template" else self._single
        bos = tok.bos_token_id
        budget = self.max_length - len(prefix) - len(suffix)
        out = []
        for ids in all_ids:
            truncated = len(ids) > budget
            if truncated:
                keep_bos = self.truncation == "left" and bos is not None and ids[0] == bos
                ids = ([bos] + self._cut(ids[1:], budget - 1)) if keep_bos else self._cut(ids, budget)
            out.append(Encoded(prefix + ids + suffix, None, truncated))
        return out
