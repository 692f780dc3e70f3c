"""Neutral edits: meaning-preserving lexical substitutions, given to the PREFERRED side of an offline causal pair.

    from crome_audit.train.paraphrase import neutral_edit
    edited = neutral_edit("I do not know. It is late.", target_tokens=4, rng=random.Random(0))
    edited.text     # e.g. "I don't know. It is late."   edited.spans: what was substituted

Why: an offline causal pair is (answer, degraded answer), and the degradation inserts or substitutes material
(a deferral, a repeated sentence, an off-topic passage, a flipped word). If only the dispreferred side is ever
edited, "was edited" predicts the label and a reward model learns "anything inserted is worse" (issue 18: the
3-seed Crome run learned markdown -0.41 sigma from it). With ``augment.neutral_edits`` (on by default) the
preferred side gets an edit of about the same size that keeps its meaning, so both sides carry substituted
material and the data audit's ``edit_span`` feature stops predicting the label (crome_audit/data_audit.py).
OFF by default for now: measured on HH-RLHF harmless it takes the synthetic set's edit-span AUC from 1.0 to 0.50
but its length AUC from 0.556 to 0.65 (expanding HH's many contractions shortens the preferred side in the length
unit) and some swaps are ungrammatical ("Why don't you" -> "Why do not you"); see docs/data-audit.md.

The edit: swaps from ``SWAPS`` (contractions both ways, a few exact synonyms), chosen to avoid every surface
feature the data audit counts (no hedge, opener, refusal or markdown words). Sizes are counted like the
degradations' (crome_audit.train.augment.edit_size: tokens of the replacement of each changed span):

- a small target (<= ``WORD_LEVEL_MAX`` tokens, e.g. a negation or an operator swap): single substitutions, the
  span is the swapped phrase;
- a larger one (a replaced sentence or passage): whole sentences are rewritten with every swap they hold.

Which ones: the selection whose size is closest to the target and whose result is closest in length to the
degraded copy (so neither the size of the edit nor the length tells the two sides apart).

Text inside code fences or inline code, and code lines, is never touched. Returns None when the answer holds no
swap (the augmenter then makes no causal pair from that answer).
"""

from __future__ import annotations

import random
import re

from .interventions import CODE_LINE_RE, Edited, n_tokens, replace_spans, sentence_spans

WORD_LEVEL_MAX = 4
LENGTH_WEIGHT = 10  # a token of length gap costs as much as 10 of edit size: length is the shortcut RMs learn first
# (a, b): a -> b and b -> a; ONE_WAY: a -> b only (the reverse is not always the same meaning or grammar)
SWAPS = [
    ("do not", "don't"), ("does not", "doesn't"), ("did not", "didn't"), ("is not", "isn't"),
    ("are not", "aren't"), ("was not", "wasn't"), ("were not", "weren't"), ("cannot", "can't"),
    ("will not", "won't"), ("would not", "wouldn't"), ("could not", "couldn't"), ("should not", "shouldn't"),
    ("have not", "haven't"), ("has not", "hasn't"), ("it is", "it's"), ("that is", "that's"),
    ("there is", "there's"), ("what is", "what's"), ("I am", "I'm"), ("you are", "you're"), ("we are", "we're"),
    ("they are", "they're"), ("I have", "I've"), ("you have", "you've"), ("I will", "I'll"),
    ("you will", "you'll"), ("I would", "I'd"), ("let us", "let's"),
    ("for example", "for instance"), ("large", "big"), ("anyone", "anybody"),
    ("someone", "somebody"), ("everyone", "everybody"), ("no one", "nobody"), ("a lot of", "lots of"),
    ("children", "kids"), ("totally", "completely"), ("important", "essential"), ("almost", "nearly"),
    ("huge", "enormous"), ("smart", "intelligent"), ("furthermore", "moreover"), ("therefore", "thus"),
    ("mom", "mother"), ("dad", "father"), ("mostly", "largely"),
]
ONE_WAY = [("such as", "like"), ("because", "since"), ("difficult", "hard"), ("begin", "start"),
           ("in order to", "to"), ("very", "really"), ("Additionally,", "Also,"), ("In addition,", "Also,"),
           ("assist", "help"), ("attempt", "try"), ("obtain", "get"), ("utilize", "use"), ("simply", "just"),
           ("sufficient", "enough"), ("glad", "happy"), ("wealthy", "rich")]
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


def _swap(found: str) -> str:
    new = _MAP[found.lower().replace("’", "'")]
    if "’" in found:
        new = new.replace("'", "’")
    if found[0].isupper() and not new[0].isupper():
        new = new[0].upper() + new[1:]
    elif found[0].islower() and new[0].isupper() and not new.startswith("I"):
        new = new[0].lower() + new[1:]
    return new


def swap_hits(text: str) -> list[tuple[int, int, str]]:
    """Every substitution the text admits (start, end, replacement), outside code."""
    blocked = [m.span() for m in FENCE_RE.finditer(text)]
    pos = 0
    for line in text.split("\n"):
        if CODE_LINE_RE.match(line) and re.search(r"[=;{}()]", line):
            blocked.append((pos, pos + len(line)))
        pos += len(line) + 1
    return [(m.start(), m.end(), _swap(m.group(1))) for m in SWAP_RE.finditer(text)
            if not any(s <= m.start() < e for s, e in blocked)]


def _best_selection(text: str, cands: list[tuple[int, int, str]], target: int, target_length: int | None,
                    rng: random.Random, tries: int = 8):
    """Among prefixes of a few seeded shuffles of ``cands``, the one whose substituted size is closest to
    ``target`` and whose result is closest in length to ``target_length`` (the degraded copy's): neither
    the edit's size nor the answer's length may then tell the two sides apart."""
    base = n_tokens(text)
    best, best_cost = None, None
    for _ in range(tries):
        order = list(cands)
        rng.shuffle(order)
        size = delta = 0
        for k, (s, e, new) in enumerate(order, start=1):
            size += n_tokens(new)
            delta += n_tokens(new) - n_tokens(text[s:e])
            cost = abs(size - target) + (LENGTH_WEIGHT * abs(base + delta - target_length)
                                         if target_length is not None else 0)
            if best_cost is None or cost < best_cost:
                best, best_cost = order[:k], cost
    return best or []


def _length_keeping_variant(sentence: str, hits, rng: random.Random) -> str:
    """The sentence with the subset of its swaps (at least one) that changes its length least: expanding one
    contraction and contracting another cancel, so whole-sentence paraphrases do not drift the answer's length."""
    hits = hits[:6]  # 63 subsets at most
    variants = []
    for mask in range(1, 1 << len(hits)):
        chosen = [h for k, h in enumerate(hits) if mask >> k & 1]
        new = replace_spans(sentence, chosen)
        variants.append((abs(n_tokens(new) - n_tokens(sentence)), new))
    best = min(v[0] for v in variants)
    return rng.choice([v[1] for v in variants if v[0] == best])


def neutral_edit(text: str, target_tokens: int, rng: random.Random, target_length: int | None = None) -> Edited | None:
    """A meaning-preserving edit of ``text`` whose substituted material is about ``target_tokens`` tokens (and,
    given ``target_length``, whose length in tokens is about that)."""
    hits = swap_hits(text)
    if not hits:
        return None
    if target_tokens <= WORD_LEVEL_MAX:
        cands = hits
    else:
        cands = []
        for s, e in sentence_spans(text):
            inside = [(hs - s, he - s, new) for hs, he, new in hits if s <= hs and he <= e]
            if inside:
                cands.append((s, e, _length_keeping_variant(text[s:e], inside, rng)))
    spans = _best_selection(text, cands, target_tokens, target_length, rng)
    out = replace_spans(text, spans)
    return Edited(out, sorted(spans)) if out != text else None
