"""Small text helpers shared by the probes (pure Python, no torch): tokens, sentences, prose edits.

    from crome_audit.probes.text import n_tokens, refill
    n_tokens("Hello, world!")   # 4: the unit of the ``length`` RM
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from .code import code_spans

# The ``length`` RM's unit (crome_audit.models.LengthRM): a causal probe is length-matched when it keeps this count.
TOKEN_RE = re.compile(r"\w+|[^\w\s]")
WORD_RE = re.compile(r"[A-Za-z0-9']+")
SENTENCE_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
MARKDOWN_RE = re.compile(r"(^|\n)\s*(#{1,6} |[-*+] |\d+\. )|\*\*[^*]+\*\*|__[^_]+__|`[^`]+`")
LIST_MARKER_RE = re.compile(r"^[ \t]*(?:\d+[.)]|[-*+\u2022]|(?:Step|STEP|step) \d+[.:)]?)[ \t]+")
STOPWORDS = frozenset(
    "a an the and or but if then so of to in on at by for with from as is are was were be been being it its this that "
    "these those i you he she we they me him her us them my your his our their not no do does did have has had can "
    "could would should will shall may might must there here what which who whom whose when where why how all any "
    "some each very just also than too into about over under again more most such only own same other".split()
)


def n_tokens(text: str) -> int:
    return len(TOKEN_RE.findall(text))


def words(text: str) -> list[str]:
    return WORD_RE.findall(text)


def content_words(text: str) -> list[str]:
    return [w.lower() for w in words(text) if w.lower() not in STOPWORDS]


def sentences(text: str) -> list[str]:
    parts = [s.strip() for s in SENTENCE_RE.split(text.strip())]
    return [s for s in parts if s]


def has_markdown(text: str) -> bool:
    return bool(MARKDOWN_RE.search(text))


def topic_phrase(prompt: str, max_words: int = 8) -> str:
    """A short restatement of what the prompt asks (first clause, trimmed)."""
    first = sentences(prompt.replace("\n", " "))[:1] or [prompt]
    ws = first[0].rstrip("?.!").split()
    return " ".join(ws[:max_words]) + ("..." if len(ws) > max_words else "")


def content_bounds(text: str) -> tuple[int, int]:
    """(start, end) of ``text`` without its leading and trailing whitespace."""
    return len(text) - len(text.lstrip()), len(text.rstrip())


def sub_outside_code(pattern: re.Pattern, repl, text: str, spans: list[tuple[int, int]] | None = None) -> str:
    """``pattern.sub(repl, text)`` on the whole text (so ``^`` means a line start), skipping every match
    that touches a code span."""
    spans = code_spans(text) if spans is None else spans
    out, pos = [], 0
    for m in pattern.finditer(text):
        if any(a < m.end() and m.start() < b for a, b in spans) or (m.start() == m.end() and
                                                                    any(a <= m.start() < b for a, b in spans)):
            continue
        out += [text[pos : m.start()], repl(m)]
        pos = m.end()
    return "".join(out) + text[pos:]


def filler_words(passage: str) -> Iterator[str]:
    """The words of a filler passage, cycled forever."""
    ws = re.findall(r"[A-Za-z]+", passage)
    while True:
        yield from ws


def refill(text: str, start: int, end: int, stream: Iterator[str]) -> str:
    """Replace every word/number token of text[start:end] by the next filler word, keeping punctuation,
    list markers, LaTeX commands and every whitespace byte: the token count (``n_tokens``) and the layout
    are unchanged."""
    out, pos = [], start
    for line_m in re.finditer(r"[^\n]*", text[start:end]):
        if line_m.start() == line_m.end():
            continue  # an empty line (or the empty match after each line) holds no word
        a, b = start + line_m.start(), start + line_m.end()
        marker = LIST_MARKER_RE.match(text[a:b]) if (a == 0 or text[a - 1] == "\n") else None
        lo = a + marker.end() if marker else a
        for m in re.finditer(r"\w+", text[lo:b]):
            s, e = lo + m.start(), lo + m.end()
            if text[s - 1 : s] == "\\":
                continue  # a LaTeX command (\frac) is layout, like punctuation
            word = next(stream)
            word = word[:1].upper() + word[1:] if m.group(0)[:1].isupper() else word.lower()
            out += [text[pos:s], word]
            pos = e
    return text[:start] + "".join(out) + text[pos:]
