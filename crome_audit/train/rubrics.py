"""Causal rubrics: for each prompt, the causal attributes that matter for answering it.

    rubrics, counts = build_rubrics(pairs, cfg.augment, generator=None)   # offline rules
    rubrics["17"]  # -> ["factuality", "relevance", "completeness", "coherence", "safety"]

Offline rule (documented; no LLM): every prompt gets factuality, relevance, completeness, coherence and
safety; prompts that ask for code (or whose answers hold code) add code_correctness; prompts with arithmetic
(digits with an operator, or math words) add math_correctness. Only attributes listed in
``augment.attributes`` are kept.

With ``augment.rubric_source: generator`` an oracle LLM lists the attributes through
``crome_audit.generate.tasks.generate_rubrics``; answers naming no known attribute are rejected, counted,
and the prompt falls back to the offline rule (so one bad answer never drops a pair silently). A generator
whose every answer is unusable stops the stage (InputError, exit 2).
"""

from __future__ import annotations

import re

from ..data import prompt_text
from ..errors import InputError
from .config import AugmentConfig

CODE_RE = re.compile(r"\b(code|python|javascript|function|program|script|sql|regex|bug|compile|class)\b|```",
                     re.IGNORECASE)
MATH_RE = re.compile(r"\d\s*[-+*/×÷^=]\s*\d|\b(calculate|compute|solve|sum|equation|how many|percent)\b",
                     re.IGNORECASE)
BASE = ("factuality", "relevance", "completeness", "coherence", "safety")


def offline_rubric(pair: dict, allowed) -> list[str]:
    text = prompt_text(pair["prompt"])
    attrs = list(BASE)
    if CODE_RE.search(text) or "```" in pair.get("chosen", ""):
        attrs.append("code_correctness")
    if MATH_RE.search(text):
        attrs.append("math_correctness")
    return [a for a in attrs if a in allowed]


def build_rubrics(pairs: list[dict], cfg: AugmentConfig, generator=None) -> tuple[dict[str, list[str]], dict]:
    """Returns ({pair id: [attributes]}, counts)."""
    allowed = set(cfg.attributes)
    counts = {"prompts": len(pairs), "generated": 0, "rejected": 0, "offline": 0}
    rubrics: dict[str, list[str]] = {}
    if cfg.rubric_source == "generator":
        from ..generate.tasks import generate_rubrics

        results = generate_rubrics(generator, [p["prompt"] for p in pairs], attributes=list(cfg.attributes))
        counts["generator_counts"] = results.counts
        for pair, names in zip(pairs, results.rubrics):
            if not names:  # unusable output: the offline rule, counted
                counts["rejected"] += 1
                counts["offline"] += 1
                names = offline_rubric(pair, allowed)
            else:
                counts["generated"] += 1
            rubrics[pair["id"]] = names
        if counts["generated"] == 0:
            raw = results[0].raw[:80] if len(results) else ""
            raise InputError(f"generator returned no usable rubric for any of {len(pairs)} prompts (the answer must "
                             f"be a JSON list of attributes among {', '.join(sorted(allowed))}; first answer: "
                             f"{raw!r}); check the generator model/server")
    else:
        for pair in pairs:
            rubrics[pair["id"]] = offline_rubric(pair, allowed)
        counts["offline"] = len(pairs)
    return rubrics, counts
