"""Small text helpers shared by the probes (pure Python, no torch)."""

from __future__ import annotations

import re

WORD_RE = re.compile(r"[A-Za-z0-9']+")
SENTENCE_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
CODE_HINT_RE = re.compile(r"(^|\n)\s*(def |class |return\b|for .* in |if .*:|#include|function |public |fn |\}|import )")
MARKDOWN_RE = re.compile(r"(^|\n)\s*(#{1,6} |[-*+] |\d+\. )|\*\*[^*]+\*\*|__[^_]+__|`[^`]+`")
REFUSAL_RE = re.compile(
    r"\b(I('m| am) (sorry|afraid|not able|unable)|I (can(no|')t|won't|will not|must decline|do not feel comfortable)"
    r"|(can(no|')t|won't|will not|unable to) (help|assist|provide|comply|do that|support)"
    r"|not (appropriate|something I can)|as an AI\b|I don't think (I should|that's appropriate)"
    r"|illegal and (unethical|dangerous)|I must refuse|strongly (advise|recommend) against)",
    re.IGNORECASE,
)
STOPWORDS = frozenset(
    "a an the and or but if then so of to in on at by for with from as is are was were be been being it its this that "
    "these those i you he she we they me him her us them my your his our their not no do does did have has had can "
    "could would should will shall may might must there here what which who whom whose when where why how all any "
    "some each very just also than too into about over under again more most such only own same other".split()
)


def words(text: str) -> list[str]:
    return WORD_RE.findall(text)


def content_words(text: str) -> list[str]:
    return [w.lower() for w in words(text) if w.lower() not in STOPWORDS]


def sentences(text: str) -> list[str]:
    parts = [s.strip() for s in SENTENCE_RE.split(text.strip())]
    return [s for s in parts if s]


def looks_like_code(text: str) -> bool:
    return "```" in text or len(CODE_HINT_RE.findall(text)) >= 2


def has_markdown(text: str) -> bool:
    return bool(MARKDOWN_RE.search(text))


def is_refusal(text: str) -> bool:
    """A refusal: a refusal phrase in the first 300 characters (documented rule)."""
    return bool(REFUSAL_RE.search(text[:300]))


def topic_phrase(prompt: str, max_words: int = 8) -> str:
    """A short restatement of what the prompt asks (first clause, trimmed)."""
    first = sentences(prompt.replace("\n", " "))[:1] or [prompt]
    ws = first[0].rstrip("?.!").split()
    return " ".join(ws[:max_words]) + ("..." if len(ws) > max_words else "")
