"""reWordBench "naturalistic" noise: homoglyph substitution, character typos (neighbouring-key
substitution, insertion, deletion, swap of adjacent characters) and word deletion.

    from crome_audit.benchmarks.transforms.noise import typo_swap
    typo_swap("the quick brown fox", random.Random(0), {})

Budget: each rewrites at most ``word_budget(n) = max(1, floor(RATE * n))`` of the ``n`` whitespace-separated
words of a text (one edit per chosen word); only letter runs of 2+ ASCII letters are edited by the
character-level ones. They rewrite the prompt and both responses, each with its own seeded draw.

What they never edit: code and math. Code subsets (hep-*) are skipped as a whole (``transforms.CODE_SUBSETS``:
75-84 % of hep-python solutions stopped parsing under each of these before); inside other texts, letter
runs and words that overlap a fenced/inline code span, a LaTeX formula or command, or a URL
(:mod:`~crome_audit.benchmarks.transforms.spans`) are not candidates. The budget still counts all words.
"""

from __future__ import annotations

import math
import re

from . import Transform, register
from .spans import outside, protected_spans

RATE = 0.1
LETTERS_RE = re.compile(r"[A-Za-z]{2,}")
PART_RE = re.compile(r"\s*\S+")

HOMOGLYPHS = {  # Latin -> Cyrillic look-alikes
    "a": "\u0430", "c": "\u0441", "e": "\u0435", "o": "\u043e", "p": "\u0440", "x": "\u0445", "y": "\u0443",
    "i": "\u0456", "j": "\u0458", "s": "\u0455", "A": "\u0410", "B": "\u0412", "C": "\u0421", "E": "\u0415",
    "H": "\u041d", "I": "\u0406", "J": "\u0408", "K": "\u041a", "M": "\u041c", "O": "\u041e", "P": "\u0420",
    "S": "\u0405", "T": "\u0422", "X": "\u0425",
}
UNGLYPH = {v: k for k, v in HOMOGLYPHS.items()}

_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
NEIGHBOURS: dict[str, str] = {}
for r, row in enumerate(_ROWS):
    for c, ch in enumerate(row):
        near = [row[c + d] for d in (-1, 1) if 0 <= c + d < len(row)]
        for rr in (r - 1, r + 1):
            if 0 <= rr < len(_ROWS):
                near += [_ROWS[rr][cc] for cc in (c - 1, c, c + 1) if 0 <= cc < len(_ROWS[rr])]
        NEIGHBOURS[ch] = "".join(dict.fromkeys(near))


def word_budget(n_words: int) -> int:
    return max(1, math.floor(RATE * n_words)) if n_words else 0


def _case_like(src: str, ch: str) -> str:
    return ch.upper() if src.isupper() else ch


def _edit_words(text: str, rng, edit) -> str | None:
    """Apply ``edit(word, rng) -> new word | None`` to up to word_budget() random letter runs."""
    spans = protected_spans(text)
    runs = [m for m in LETTERS_RE.finditer(text) if outside(m.start(), m.end(), spans)]
    budget = word_budget(len(text.split()))
    if not runs or not budget:
        return text
    out, last = [], 0
    chosen = sorted(rng.sample(range(len(runs)), min(budget, len(runs))))
    for i in chosen:
        m = runs[i]
        new = edit(m.group(), rng)
        if new is None:
            continue
        out += [text[last:m.start()], new]
        last = m.end()
    return "".join(out) + text[last:]


def homoglyph(text, rng, ctx):
    def edit(w, rng):
        spots = [i for i, ch in enumerate(w) if ch in HOMOGLYPHS]
        if not spots:
            return None
        i = rng.choice(spots)
        return w[:i] + HOMOGLYPHS[w[i]] + w[i + 1:]
    return _edit_words(text, rng, edit)


def typo_substitute(text, rng, ctx):
    def edit(w, rng):
        i = rng.randrange(len(w))
        return w[:i] + _case_like(w[i], rng.choice(NEIGHBOURS[w[i].lower()])) + w[i + 1:]
    return _edit_words(text, rng, edit)


def typo_insert(text, rng, ctx):
    def edit(w, rng):
        i = rng.randrange(len(w))
        return w[:i + 1] + _case_like(w[i], rng.choice(NEIGHBOURS[w[i].lower()])) + w[i + 1:]
    return _edit_words(text, rng, edit)


def typo_delete(text, rng, ctx):
    def edit(w, rng):
        i = rng.randrange(len(w))
        return w[:i] + w[i + 1:]
    return _edit_words(text, rng, edit)


def typo_swap(text, rng, ctx):
    def edit(w, rng):
        spots = [i for i in range(len(w) - 1) if w[i] != w[i + 1]]
        if not spots:
            return None
        i = rng.choice(spots)
        return w[:i] + w[i + 1] + w[i] + w[i + 2:]
    return _edit_words(text, rng, edit)


def word_deletion(text, rng, ctx):
    matches = list(PART_RE.finditer(text))
    parts = [m.group() for m in matches]
    if len(parts) < 2:
        return text
    spans = protected_spans(text)
    free = [i for i, m in enumerate(matches) if outside(m.start() + len(m.group()) - len(m.group().lstrip()),
                                                         m.end(), spans)]
    drop = set(rng.sample(free, min(word_budget(len(parts)), len(parts) - 1, len(free))))
    out, keep_break = [], False  # a deleted word's line break stays, so lines and lists keep their shape
    for i, part in enumerate(parts):
        lead = part[: len(part) - len(part.lstrip())]
        if i in drop:
            keep_break = keep_break or "\n" in lead or i == 0
            out.append(lead if ("\n" in lead or i == 0) else "")
        elif keep_break and "\n" not in lead:
            out.append(part.lstrip())
            keep_break = False
        else:
            out.append(part)
            keep_break = False
    return "".join(out) + text[len(text.rstrip()):]


_BOTH = ("prompt", "responses")
register(Transform("homoglyph", "Homoglyph Sub.", "naturalistic", "meaning", _BOTH, homoglyph,
                   f"replace one letter with a Cyrillic look-alike in up to {RATE:.0%} of the words"))
register(Transform("typo_substitute", "Char. Sub. (neighbouring key)", "naturalistic", "meaning", _BOTH,
                   typo_substitute, f"replace one letter with a neighbouring QWERTY key in up to {RATE:.0%} "
                   "of the words"))
register(Transform("typo_insert", "Char. Insertion", "naturalistic", "meaning", _BOTH, typo_insert,
                   f"insert a neighbouring-key letter into up to {RATE:.0%} of the words"))
register(Transform("typo_delete", "Char. Deletion", "naturalistic", "meaning", _BOTH, typo_delete,
                   f"delete one letter from up to {RATE:.0%} of the words"))
register(Transform("typo_swap", "Char. Swap (neighbouring)", "naturalistic", "meaning", _BOTH, typo_swap,
                   f"swap two adjacent letters in up to {RATE:.0%} of the words"))
register(Transform("word_deletion", "Word Deletion", "naturalistic", "meaning", _BOTH, word_deletion,
                   f"delete up to {RATE:.0%} of the whitespace-separated words (at least one)"))
