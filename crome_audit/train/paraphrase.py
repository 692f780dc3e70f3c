"""Neutral edits: meaning-preserving lexical substitutions, given to the PREFERRED side of an offline causal pair.

    from crome_audit.train.paraphrase import neutral_edit
    edited = neutral_edit(answer, degraded, degraded_size, rng)   # -> Edited(text, spans), or None
    edited.text     # the answer with a few swaps ("do not" -> "don't", "large" -> "big", ...)

Why: an offline causal pair is (answer, degraded answer), and the degradation inserts or substitutes material
(a deferral, a repeated sentence, an off-topic passage, a flipped word). If only the dispreferred side is ever
edited, "was edited" predicts the label and a reward model learns "anything inserted is worse" (issue 18: the
3-seed Crome run learned markdown -0.41 sigma from it). With ``augment.neutral_edits`` (on by default)
the preferred side gets an edit of about the same size that keeps its meaning, so both sides carry substituted
material and the data audit's ``edit_span`` feature stops predicting the label (crome_audit/data_audit.py).

The edit is chosen to leave the pair **equal on every surface feature the data audit counts**: the neutral copy
has exactly the degraded copy's length in the length RM's unit (expanding one contraction and contracting another
cancel), and the same markdown, emoji, exclamation, opener, hedge and refusal counts (``surface_features``;
``ignore`` names a feature that is the pair's causal attribute, e.g. ``refusal`` for the safety family). An
answer that admits no such edit gets None, and the augmenter makes no causal pair from it rather than leak.

The swaps (``SWAPS`` both ways, ``ONE_WAY`` one way: contractions, a few exact synonyms) avoid every audited word
(no hedge, opener, refusal or markdown word) and are grammar-guarded: a negative contraction in a question
("Why don't you") is never expanded, a subject + auxiliary at a clause's end ("Yes, I am.") or "I have" as a main
verb is never contracted. Sizes are counted like the degradations' (crome_audit.train.augment.edit_size: tokens of
the replacement of each changed span):

- a small target (<= ``WORD_LEVEL_MAX`` tokens, e.g. a negation or an operator swap): single substitutions, the
  span is the swapped phrase;
- a larger one (a replaced sentence or passage): whole sentences are rewritten with some of their swaps.

Which size: the one equal to the degradation's when the answer allows it; otherwise the closest on the side that
``sign`` asks for (+1: larger, -1: smaller, 0: either), which the augmenter uses to keep "the preferred side's
edit is larger" and "... smaller" equally frequent within each family.

Text inside code fences or inline code, and code lines, is never touched.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass

from ..data_audit import surface_features
from .interventions import CODE_LINE_RE, Edited, n_tokens, replace_spans, sentence_spans

WORD_LEVEL_MAX = 4
SEARCH_WALKS = 48  # random orders tried when looking for a selection of swaps with the exact length change
LENGTH_SLACK = 1  # word-level edits: tokens the neutral copy's length may differ from the degraded copy's (the caller
# balances the sign); sentence-level ones match it exactly (their size gaps are large, a length gap would pair with them)
MAX_SENTENCE_SWAPS = 6  # per sentence, subsets of at most this many swaps are tried (63 at most)
# (a, b): a -> b and b -> a; ONE_WAY: a -> b only (the reverse is not always the same meaning or grammar)
SWAPS = [
    ("do not", "don't"), ("does not", "doesn't"), ("did not", "didn't"), ("is not", "isn't"),
    ("are not", "aren't"), ("was not", "wasn't"), ("were not", "weren't"), ("cannot", "can't"),
    ("will not", "won't"), ("would not", "wouldn't"), ("could not", "couldn't"), ("should not", "shouldn't"),
    ("have not", "haven't"), ("has not", "hasn't"), ("it is", "it's"), ("that is", "that's"),
    ("there is", "there's"), ("what is", "what's"), ("I am", "I'm"), ("you are", "you're"), ("we are", "we're"),
    ("they are", "they're"), ("I have", "I've"), ("you have", "you've"), ("I will", "I'll"),
    ("you will", "you'll"), ("I would", "I'd"),
    ("for example", "for instance"), ("large", "big"), ("anyone", "anybody"),
    ("someone", "somebody"), ("everyone", "everybody"), ("a lot of", "lots of"),
    ("children", "kids"), ("totally", "completely"), ("important", "essential"), ("almost", "nearly"),
    ("huge", "enormous"), ("smart", "intelligent"), ("furthermore", "moreover"), ("therefore", "thus"),
    ("mom", "mother"), ("dad", "father"), ("mostly", "largely"),
    # one word <-> two: length-changing swaps of one or two tokens, the size of a negation flip
    ("nobody", "no one"), ("indeed", "in fact"), ("slightly", "a bit"), ("although", "even though"),
    ("ensure", "make sure"),
    # one word <-> one word
    ("toward", "towards"), ("anyway", "anyhow"), ("afterwards", "afterward"), ("among", "amongst"),
    ("until", "till"), ("awful", "terrible"), ("scared", "afraid"), ("rude", "impolite"), ("stupid", "dumb"),
    ("purchase", "buy"), ("quickly", "rapidly"), ("entirely", "completely"), ("incorrect", "wrong"),
    ("method", "approach"), ("issue", "problem"), ("vehicle", "car"), ("demonstrates", "shows"),
]
ONE_WAY = [("such as", "like"), ("because", "since"), ("difficult", "hard"), ("begin", "start"),
           ("in order to", "to"), ("very", "really"), ("Additionally,", "Also,"), ("In addition,", "Also,"),
           ("assist", "help"), ("attempt", "try"), ("obtain", "get"), ("utilize", "use"), ("simply", "just"),
           ("sufficient", "enough"), ("glad", "happy"), ("wealthy", "rich"), ("let's", "let us"),
           ("is able to", "can"), ("are able to", "can"), ("whether or not", "whether"), ("get rid of", "remove"),
           ("a number of", "several"), ("prior to", "before"), ("due to the fact that", "because")]
_MAP: dict[str, str] = {}
for _a, _b in SWAPS:
    _MAP[_a.lower()] = _b
    _MAP[_b.lower()] = _a
for _a, _b in ONE_WAY:
    _MAP.setdefault(_a.lower(), _b)
_KEYS = sorted(_MAP, key=len, reverse=True)  # longest first: "is not" before "it is"
SWAP_RE = re.compile(r"(?<![\w'’])(" + "|".join(re.escape(k).replace("'", "['’]") for k in _KEYS) + r")(?![\w'’])",
                     re.IGNORECASE)
FENCE_RE = re.compile(r"```.*?(?:```|$)|`[^`\n]+`", re.DOTALL)
# grammar guards: "Why don't you" must not become "Why do not you"; "Yes, I am." not "Yes, I'm."; "I have a car"
# not "I've a car"
PRONOUN_AFTER_RE = re.compile(r"\s+(?:you|i|we|they|he|she|it|there|that|this|anyone|anybody|everyone|someone)\b",
                              re.IGNORECASE)
CLAUSE_END_RE = re.compile(r"\s*(?:[^\w\s'’]|$)")
PARTICIPLE_AFTER_RE = re.compile(r"\s+(?:been|got|gotten|had|done|seen|made|given|taken|heard|never|already|just|"
                                 r"always|ever|[a-z]+ed)\b", re.IGNORECASE)
SUBJECT_AUX = re.compile(r"^(?:it|that|there|what|i|you|we|they) (?:is|am|are|have|will|would)$", re.IGNORECASE)


def _swap(found: str) -> str:
    new = _MAP[found.lower().replace("’", "'")]
    if "’" in found:
        new = new.replace("'", "’")
    if found[0].isupper() and not new[0].isupper():
        new = new[0].upper() + new[1:]
    elif found[0].islower() and new[0].isupper() and not new.startswith("I"):
        new = new[0].lower() + new[1:]
    return new


def _grammatical(text: str, m: re.Match) -> bool:
    found, after = m.group(1).lower().replace("’", "'"), text[m.end():]
    if found.endswith("n't") and PRONOUN_AFTER_RE.match(after):  # an inverted question: "don't you", "isn't it"
        return False
    if SUBJECT_AUX.match(found):
        if CLAUSE_END_RE.match(after):  # "I know what it is." / "Yes, I am."
            return False
        if found.endswith(" have") and not PARTICIPLE_AFTER_RE.match(after):  # "I have a car": a main verb
            return False
    return True


def swap_hits(text: str) -> list[tuple[int, int, str]]:
    """Every substitution the text admits (start, end, replacement), outside code, grammar-guarded."""
    blocked = [m.span() for m in FENCE_RE.finditer(text)]
    pos = 0
    for line in text.split("\n"):
        if CODE_LINE_RE.match(line) and re.search(r"[=;{}()]", line):
            blocked.append((pos, pos + len(line)))
        pos += len(line) + 1
    return [(m.start(), m.end(), _swap(m.group(1))) for m in SWAP_RE.finditer(text)
            if not any(s <= m.start() < e for s, e in blocked) and _grammatical(text, m)]


@dataclass(frozen=True)
class Option:
    """One way to change one place of the answer: the span, its change in length, and its edit size."""

    span: tuple[int, int, str]
    delta: int
    size: int


def _word_units(text: str, hits) -> list[list[Option]]:
    return [[Option((s, e, new), n_tokens(new) - n_tokens(text[s:e]), n_tokens(new))] for s, e, new in hits]


def _sentence_units(text: str, hits, rng: random.Random) -> list[list[Option]]:
    """Per sentence holding swaps: one rewrite per reachable length change (subsets of its swaps)."""
    units = []
    for s, e in sentence_spans(text):
        inside = [(hs - s, he - s, new) for hs, he, new in hits if s <= hs and he <= e][:MAX_SENTENCE_SWAPS]
        if not inside:
            continue
        sentence, by_delta = text[s:e], {}
        for mask in range(1, 1 << len(inside)):
            new = replace_spans(sentence, [h for k, h in enumerate(inside) if mask >> k & 1])
            by_delta.setdefault(n_tokens(new) - n_tokens(sentence), []).append(new)
        units.append([Option((s, e, rng.choice(news)), delta, n_tokens(news[0]))
                      for delta, news in sorted(by_delta.items())])
    return units


def _selections(units: list[list[Option]], need_delta: int, rng: random.Random,
                slack: int) -> dict[tuple[int, int], list[Option]]:
    """Selections (one option from each of some units) whose length changes sum to within ``slack`` of
    ``need_delta``, by (length change, edit size): random orders, each unit's option steering the running sum
    toward ``need_delta``."""
    found: dict[tuple[int, int], list[Option]] = {}
    for _ in range(SEARCH_WALKS):
        order = list(units)
        rng.shuffle(order)
        delta = size = 0
        chosen: list[Option] = []
        for options in order:
            best = min(abs(need_delta - delta - o.delta) for o in options)
            pick = rng.choice([o for o in options if abs(need_delta - delta - o.delta) == best])
            chosen.append(pick)
            delta += pick.delta
            size += pick.size
            if abs(delta - need_delta) <= slack:
                found.setdefault((delta, size), list(chosen))
    return found


def _features(text: str, ignore) -> dict[str, float]:
    return {k: v for k, v in surface_features(text).items() if k not in ignore and k != "length"}


def _sign(x: int) -> int:
    return (x > 0) - (x < 0)


def neutral_edit(text: str, degraded: str, degraded_size: int, rng: random.Random, *,
                 accept: Callable[[int, int], bool] = lambda length_sign, size_sign: True,
                 ignore: tuple[str, ...] = ()) -> Edited | None:
    """A meaning-preserving edit of ``text`` with the same audited surface features as ``degraded`` (``ignore``
    aside), of its length (word-level edits: within ``LENGTH_SLACK`` tokens), whose substituted material is close to ``degraded_size``
    tokens; ``accept(length sign, size sign)`` (signs of neutral minus degraded) says which mismatches the caller can
    still balance. Preference: equal length, then equal size, then the smallest size gap. None when none exists."""
    hits = swap_hits(text)
    if not hits:
        return None
    word_level = degraded_size <= WORD_LEVEL_MAX
    units = _word_units(text, hits) if word_level else _sentence_units(text, hits, rng)
    need = n_tokens(degraded) - n_tokens(text)
    found = _selections(units, need, rng, LENGTH_SLACK if word_level else 0)
    want = _features(degraded, ignore)
    for delta, size in sorted(found, key=lambda k: (abs(k[0] - need), abs(k[1] - degraded_size), k[1])):
        if not accept(_sign(delta - need), _sign(size - degraded_size)):
            continue
        spans = sorted(o.span for o in found[(delta, size)])
        out = replace_spans(text, spans)
        if out != text and _features(out, ignore) == want:
            return Edited(out, spans)
    return None
