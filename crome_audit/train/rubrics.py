"""Causal rubrics: for each prompt, the causal attributes that matter for answering it.

    rubrics, counts = build_rubrics(pairs, cfg.augment, generator=None)   # offline rules
    rubrics["17"]  # -> ["factuality", "relevance", "completeness", "coherence", "safety"]

Offline rule (documented; no LLM): every prompt gets factuality, relevance, completeness, coherence and
safety; prompts that ask for code (or whose answers hold code) add code_correctness; prompts with arithmetic
(digits with an operator, or math words) add math_correctness. Only attributes listed in
``augment.attributes`` are kept.

With ``augment.rubric_source: generator`` an oracle LLM lists the attributes through
``crome_audit.generate.tasks.generate_rubrics``; answers naming no known attribute are rejected, counted,
and the prompt falls back to the offline rule (so one bad answer never drops a pair silently).
"""

from __future__ import annotations

import re

from ..data import prompt_text
from ..errors import CromeError
from .config import ATTRIBUTES, AugmentConfig

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


def _normalise_generated(answer, allowed) -> list[str] | None:
    """Accept a list of names, a dict with 'attributes', or a comma/newline separated string."""
    if isinstance(answer, dict):
        answer = answer.get("attributes", answer.get("rubric"))
    if isinstance(answer, str):
        answer = re.split(r"[,\n;]+", answer)
    if not isinstance(answer, (list, tuple)):
        return None
    names = []
    for a in answer:
        name = a.get("attribute", a.get("name")) if isinstance(a, dict) else a
        if not isinstance(name, str):
            continue
        name = name.strip().strip("-*• ").lower().replace(" ", "_")
        if name in ATTRIBUTES and name in allowed and name not in names:
            names.append(name)
    return names or None


def build_rubrics(pairs: list[dict], cfg: AugmentConfig, generator=None) -> tuple[dict[str, list[str]], dict]:
    """Returns ({pair id: [attributes]}, counts)."""
    allowed = set(cfg.attributes)
    counts = {"prompts": len(pairs), "generated": 0, "rejected": 0, "offline": 0}
    rubrics: dict[str, list[str]] = {}
    if cfg.rubric_source == "generator":
        from ..generate.tasks import generate_rubrics

        answers = generate_rubrics(generator, [p["prompt"] for p in pairs])
        answers = getattr(answers, "rubrics", answers)
        if isinstance(answers, tuple):  # (rubrics, rejection counts)
            answers, extra = answers
            counts["generator_counts"] = extra
        if len(answers) != len(pairs):
            raise CromeError(f"generator returned {len(answers)} rubrics for {len(pairs)} prompts")
        for pair, ans in zip(pairs, answers):
            names = _normalise_generated(ans, allowed)
            if names is None:
                counts["rejected"] += 1
                names = offline_rubric(pair, allowed)
                counts["offline"] += 1
            else:
                counts["generated"] += 1
            rubrics[pair["id"]] = names
        if counts["generated"] == 0:
            raise CromeError(f"generator returned no usable rubric for any of {len(pairs)} prompts "
                             f"(answers must name attributes among {', '.join(sorted(allowed))})")
    else:
        for pair in pairs:
            rubrics[pair["id"]] = offline_rubric(pair, allowed)
        counts["offline"] = len(pairs)
    return rubrics, counts
