"""reWordBench input transformations (Wu et al. 2025, arXiv 2503.11751), implemented from the paper's
descriptions (no public code or data exists). Pure text: no torch, no model, seeded.

Each transformation is a :class:`Transform` registered in ``TRANSFORMATIONS`` with metadata: the paper's
name, its group (controlled / naturalistic / domain), what it preserves (meaning or ranking), which fields
it rewrites (``prompt`` and/or ``responses`` = both chosen and rejected) and which RewardBench
sections/subsets it applies to.

    from crome_audit.benchmarks.transforms import TRANSFORMATIONS, transform_pair
    t = TRANSFORMATIONS.get("rot13")
    new = transform_pair(t, {"id": "1", "subset": "mt-bench-easy", "prompt": "...", "chosen": "...",
                             "rejected": "..."}, seed=0)      # None when t does not apply to the pair

Code is never edited by a text transformation: on the code subsets (``CODE_SUBSETS``, HumanEvalPack's
hep-*, whose prompts hold signatures and doctests and whose responses are function bodies), only
code-aware transformations (``code=True``: minify, comment, append) and prompt-only wrappers/encodings
apply; every other transformation that rewrites responses returns None there (the pair keeps its original
outcome in the benchmark). Inside other texts the noise transformations skip code and math spans
(:func:`~crome_audit.benchmarks.transforms.spans.protected_spans`).

Randomness: every call draws from ``random.Random(f"{seed}:{name}:{pair key}:{field}")`` (string seeds
hash with SHA-512, so results are identical across processes and do not depend on the order of pairs).
Message-list prompts: the transformation rewrites the content of the last user turn only.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from ...errors import InputError
from ...registry import Registry

TRANSFORMATIONS = Registry("reWordBench transformation")
FIELDS = ("prompt", "responses")
#: subsets whose responses are code (subset names or prefixes ending in '*')
CODE_SUBSETS = ("hep-*",)
GROUPS = ("controlled", "naturalistic", "domain")

# A text function gets (text, rng, ctx) and returns the new text, or None when it cannot apply
# (e.g. code that does not parse). ctx = {"field": "prompt"|"chosen"|"rejected", "subset", "section", "shared"}
# where ``shared`` is one rng-drawn dict per pair (so both responses can get the same appended string).
TextFn = Callable[[str, random.Random, dict], "str | None"]


@dataclass(frozen=True)
class Transform:
    name: str = field(metadata={"help": "registry name (snake_case)"})
    paper_name: str = field(metadata={"help": "the transformation's name in the reWordBench paper"})
    group: str = field(metadata={"help": "controlled | naturalistic | domain (the paper's three groups)"})
    preserves: str = field(metadata={"help": "'meaning' or 'ranking': what the transformation keeps"})
    fields: tuple[str, ...] = field(metadata={"help": "rewritten fields: 'prompt' and/or 'responses'"})
    fn: TextFn | None = field(repr=False, metadata={"help": "the text function (text, rng, ctx) -> text | None; "
                                                     "None for LLM-made transformations"})
    description: str = field(default="", metadata={"help": "one line for docs and results.json"})
    sections: tuple[str, ...] | None = field(default=None, metadata={"help": "RewardBench sections; None = all"})
    subsets: tuple[str, ...] | None = field(default=None, metadata={"help": "subset names or prefixes ending "
                                                                    "in '*'; None = all"})
    shared: Callable[[random.Random], dict] | None = field(
        default=None, repr=False, metadata={"help": "draws per-pair values shared by all fields"})
    llm: bool = field(default=False, metadata={"help": "made by a generator LLM (run by the benchmark, "
                                                      "never by transform_pair)"})
    code: bool = field(default=False, metadata={"help": "code-aware: rewrites code responses itself (keeps the "
                                                        "program); others never touch code subsets' responses"})

    def applies_to(self, subset: str | None, section: str | None) -> bool:
        if self.sections is not None and section not in self.sections:
            return False
        if "responses" in self.fields and not self.code and is_code_subset(subset):
            return False  # a text edit of a function body is not meaning-preserving (it breaks the program)
        if self.subsets is not None:
            return _matches(subset, self.subsets)
        return True

    def meta(self) -> dict:
        return {"paper_name": self.paper_name, "group": self.group, "preserves": self.preserves,
                "fields": list(self.fields), "sections": list(self.sections) if self.sections else None,
                "subsets": list(self.subsets) if self.subsets else None, "description": self.description,
                "llm": self.llm, "code": self.code,
                "skips_code_subsets": "responses" in self.fields and not self.code}


def _matches(subset: str | None, patterns) -> bool:
    subset = subset or ""
    return any(subset.startswith(s[:-1]) if s.endswith("*") else subset == s for s in patterns)


def is_code_subset(subset: str | None) -> bool:
    return _matches(subset, CODE_SUBSETS)


def register(t: Transform) -> Transform:
    if t.group not in GROUPS or t.preserves not in ("meaning", "ranking") or not set(t.fields) <= set(FIELDS):
        raise ValueError(f"transformation {t.name}: bad metadata")
    TRANSFORMATIONS.register(t.name)(t)
    return t


def rng_for(seed: int, name: str, key: str, part: str) -> random.Random:
    return random.Random(f"{seed}:{name}:{key}:{part}")


def pair_key(pair: dict) -> str:
    return f"{pair.get('subset', '')}:{pair.get('id', '')}"


def _apply_prompt(t: Transform, prompt, rng, ctx):
    if isinstance(prompt, str):
        return t.fn(prompt, rng, ctx)
    msgs = [dict(m) for m in prompt]
    for m in reversed(msgs):
        if m.get("role") == "user":
            new = t.fn(m["content"], rng, ctx)
            if new is None:
                return None
            m["content"] = new
            return msgs
    return None


def transform_pair(t: Transform, pair: dict, seed: int = 0) -> dict | None:
    """The transformed copy of ``pair``, or None when ``t`` does not apply to it (wrong section/subset, or
    the text function could not apply, or nothing changed)."""
    if t.llm:
        raise ValueError(f"{t.name} is LLM-made: the benchmark runs it through a generator")
    if not t.applies_to(pair.get("subset"), pair.get("section")):
        return None
    key = pair_key(pair)
    shared = t.shared(rng_for(seed, t.name, key, "shared")) if t.shared else {}
    base = {"subset": pair.get("subset"), "section": pair.get("section"), "shared": shared}
    out = dict(pair)
    if "prompt" in t.fields:
        new = _apply_prompt(t, pair["prompt"], rng_for(seed, t.name, key, "prompt"), {**base, "field": "prompt"})
        if new is None:
            return None
        out["prompt"] = new
    if "responses" in t.fields:
        for side in ("chosen", "rejected"):
            new = t.fn(pair[side], rng_for(seed, t.name, key, side), {**base, "field": side})
            if new is None:
                return None
            out[side] = new
    if all(out[f] == pair[f] for f in ("prompt", "chosen", "rejected")):
        return None
    return out


def deterministic_names() -> list[str]:
    _load()
    return [n for n in TRANSFORMATIONS.names() if not TRANSFORMATIONS.get(n).llm]


def parse_names(spec) -> list[str]:
    """``None``/"all" -> every registered name; "a,b" or ["a", "b"] -> those (validated, did-you-mean)."""
    _load()
    if spec is None or spec == "all" or spec == ["all"]:
        return TRANSFORMATIONS.names()
    names = [s.strip() for s in spec.split(",")] if isinstance(spec, str) else [str(s).strip() for s in spec]
    names = [n for n in names if n]
    if not names:
        raise InputError("transformations: empty list (give comma-separated names, or 'all')")
    for n in names:
        TRANSFORMATIONS.get(n)
    return list(dict.fromkeys(names))


def _load() -> None:
    from . import code, llm, math_safety, noise, surface  # noqa: F401  (registration side effects)


_load()
