"""Spans of a text that meaning-preserving noise must not edit: code and math inside prose.

    from crome_audit.benchmarks.transforms.spans import protected_spans, outside
    protected_spans("Use `x.sort()` or $a+b$.")      # [(4, 14), (18, 23)]
    outside(5, 9, [(4, 14)])                          # False: (5, 9) overlaps a protected span

A typo inside a fenced code block, an inline code span, a LaTeX formula or command, or a URL changes what
the text says (the program no longer runs, the formula or link is another one), so the naturalistic noise
transformations and ``punct_spaces`` edit only the rest. Detected by markup, not by guessing: fenced blocks
(```` ``` ```` or ``~~~``, an unclosed fence runs to the end), `` `inline` `` code, ``$$...$$``, ``$...$``,
``\\[...\\]``, ``\\(...\\)``, ``\\command`` and ``http(s)://`` URLs. Whole code responses (RewardBench's hep-*)
never reach these functions: the transformations skip code subsets (``transforms.CODE_SUBSETS``).
"""

from __future__ import annotations

import re

PATTERNS = (
    re.compile(r"^[ \t]*(`{3,}|~{3,})[^\n]*\n.*?(?:^[ \t]*\1[ \t]*$|\Z)", re.M | re.S),  # fenced code block
    re.compile(r"`[^`\n]+`"),                                                          # inline code
    re.compile(r"\$\$.+?\$\$", re.S),                                                   # display math
    re.compile(r"\\\[.+?\\\]", re.S),
    re.compile(r"\\\(.+?\\\)", re.S),
    re.compile(r"(?<!\\)\$[^$\n]+?(?<!\\)\$"),                                          # inline math
    re.compile(r"\\[A-Za-z]+"),                                                         # LaTeX command
    re.compile(r"https?://\S+"),                                                        # URL
)


def protected_spans(text: str) -> list[tuple[int, int]]:
    """Sorted, merged ``(start, end)`` spans of code, math and URLs in ``text``."""
    found = sorted((m.start(), m.end()) for p in PATTERNS for m in p.finditer(text) if m.end() > m.start())
    merged: list[tuple[int, int]] = []
    for start, end in found:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def outside(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    """True when ``[start, end)`` overlaps none of ``spans``."""
    return all(end <= s or start >= e for s, e in spans)


def map_outside(text: str, fn) -> str:
    """Apply ``fn(segment) -> segment`` to the parts of ``text`` outside its protected spans."""
    out, last = [], 0
    for start, end in protected_spans(text):
        out += [fn(text[last:start]), text[start:end]]
        last = end
    return "".join(out) + fn(text[last:])
