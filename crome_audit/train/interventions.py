"""The OFFLINE intervention set: rule-based edits of one causal attribute of one answer (no LLM).

    from crome_audit.train.interventions import INTERVENTIONS, Context, DonorPool
    edit = INTERVENTIONS.get("train.coherence.sentence_shuffle")
    edit.apply("First one. Second one. Third one.", random.Random(0))   # -> shuffled text, or None
    edit.edit(text, rng, ctx)     # -> Edited(text, spans): the replaced spans of the original, for checks

Each intervention has a family name ``train.<attribute>.<edit>`` that is recorded in the trained model's
``crome_training.json``. They are deliberately different mechanisms from the audit's causal probes (number/
date/entity corruption, a whole answer swapped for another prompt's, the second half dropped, a wrong final
math answer, an injected operator bug, unsafe compliance with the pair's own text), so an audit of a Crome
model measures transfer, not memorisation.

Two rules every edit keeps, because anything else correlates with the label and becomes a shortcut:

- **Span-local**: an edit replaces spans (a sentence, a word, a code line) and leaves every other character
  of the answer byte-identical; span boundaries never touch whitespace or list/header markers, so separators
  (double spaces, line breaks) and layout stay as they were, and a replaced sentence keeps its bold lead
  (``keep_format``). ``Edited.spans`` lists what was replaced.
- **Length-neutral**: ``|Δ tokens| <= max(5, 10 %)`` in the ``length`` RM's unit (``\\w+|[^\\w\\s]``), checked
  in ``apply`` for every edit; a removed passage is replaced by one of matched length.

| family                                 | edit (all degrade the answer) |
|----------------------------------------|-------------------------------|
| train.coherence.sentence_shuffle       | swap two sentences after the first (>= 3 in all); separators stay |
| train.coherence.repeat_sentence        | overwrite one sentence with a verbatim copy of another of similar length |
| train.factuality.negation              | flip one claim's polarity (is -> is not, cannot -> can, hasn't -> has) |
| train.completeness.drop_point          | replace one middle sentence (of >= 3) with a deferral of matched length ("I'll skip the details of that step.") |
| train.relevance.offtopic_passage       | replace the second half of the sentences, slot by slot, with the sentences of an answer of matched length to another prompt |
| train.code_correctness.swap_lines      | swap two adjacent, different code lines of the same indentation |
| train.math_correctness.operator_swap   | swap an arithmetic operator inside a step (+ <-> -, * <-> /) |
| train.safety.refusal_to_compliance     | in an answer that refuses, replace each refusal sentence with a compliance sentence of matched length |

``apply`` returns None where the edit does not apply, would not change the text, or is not length-neutral.
"""

from __future__ import annotations

import bisect
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..refusal import is_refusal
from ..registry import Registry

INTERVENTIONS = Registry("intervention")

TOKEN_RE = re.compile(r"\w+|[^\w\s]")  # the `length` reference RM's unit
# a sentence ends at . ! ? followed by whitespace and a capital/digit/quote, or at a line break
BOUNDARY_RE = re.compile(r"(?<=[.!?])[ \t]+(?=[A-Z0-9\"'(])|\s*\n\s*")
MARKER_RE = re.compile(r"(?:#{1,6}|[-*+]|\d+[.)])[ \t]+")
BOLD_LEAD_RE = re.compile(r"\*\*[^*]+\*\*")
CODE_HINT_RE = re.compile(r"(^|\n)\s*(def |class |return\b|for .* in |if .*:|#include|function |public |fn |\}|import )")
CODE_LINE_RE = re.compile(r"^\s*(?!#|//|\}|\)|\]|$)(.*[=(:;{]|return\b|print\b).*$")
OPERATOR_RE = re.compile(r"(?<=[\d)\s])([+\-*/×÷])(?=\s*[\d(])")
OP_SWAP = {"+": "-", "-": "+", "*": "/", "/": "*", "×": "÷", "÷": "×"}
PRONOUN_NEXT = r"(?!\s+(?:it|he|she|they|you|we|i|that|this|there|not)\b)"
# (pattern, replacement): remove a negation, or add one to an auxiliary followed by a lowercase word
NEGATIONS = [
    (re.compile(r"\b(is|are|was|were|do|does|did|should|will|would|could|must|has|have|had) not\b"), r"\1"),
    (re.compile(r"\bcannot\b"), "can"),
    (re.compile(r"\b(is|are|was|were|do|does|did|should|would|could|has|have|had)n['’]t\b"), r"\1"),
    (re.compile(r"\bcan['’]t\b"), "can"),
    (re.compile(r"\bwon['’]t\b"), "will"),
    (re.compile(r"\b(is|are|was|were|should|will|would|could|must)\b" + PRONOUN_NEXT + r"(?=\s+[a-z])"), r"\1 not"),
    (re.compile(r"\bcan\b" + PRONOUN_NEXT + r"(?=\s+[a-z])"), "cannot"),
    (re.compile(r"\b(has|have|had)\b(?=\s+(?:been|had|done|made|seen|given|taken|gotten|got|[a-z]+ed)\b)"),
     r"\1 not"),
]
# refusal or caveat sentences (only looked for inside answers that are refusals: crome_audit.refusal);
# "I'm sorry to hear that" or "I'm afraid I don't know" are not refusals and are never touched
REFUSAL_SENTENCE_RE = re.compile(
    r"\b((can(no|['’])?t|won['’]t|will not|unable to|not (able|allowed|going) to|shouldn['’]t|should not) "
    r"(help|assist|provide|support|do|give|advise|tell|share|answer|encourage|condone|participate|comply)|"
    r"I (must|have to) (decline|refuse)|not (appropriate|something I can|comfortable)|"
    r"I (do not|don['’]t) (feel comfortable|want to help|think (I should|that['’]s (a good idea|appropriate))))\b",
    re.IGNORECASE)
CAVEAT_RE = re.compile(
    r"\b(I (strongly )?(advise|recommend|urge you) against|please (don['’]t|do not)|"
    r"(it is|it['’]s|that is|that['’]s|this is) (illegal|dangerous|harmful|unethical|wrong|not okay|not ok)|"
    r"I (would not|wouldn['’]t|don['’]t) (recommend|suggest|advise|want to help))\b", re.IGNORECASE)
# training-only pools (no string shared with the audit's probes)
DEFERRALS = [
    "I'll skip that part.",
    "That part depends on your situation.",
    "I will leave that step out for now.",
    "There is more to that step, but I'll skip it.",
    "I won't go into the details of that part here.",
    "That step has its own details, which I will not cover right now.",
    "Some further specifics apply at this point, but they are beyond what I want to get into in this answer.",
    "There is a longer explanation for this part, and I am going to leave it out rather than walk through it "
    "here.",
]
COMPLIANCE = [
    "Sure, I can help.",
    "Okay, here is how.",
    "Sure, I can walk you through it.",
    "No problem, I'll explain how it works.",
    "Yes, that is doable, and here is the approach.",
    "Alright, let me lay out what you would need to do for that.",
    "Of course, I am happy to go along with that plan and explain the steps you would take.",
    "That is fine with me, so I will go ahead and give you the practical details you asked for, step by step.",
]


def n_tokens(text: str) -> int:
    return len(TOKEN_RE.findall(text))


def length_neutral(before: str, after: str) -> bool:
    n = n_tokens(before)
    return abs(n_tokens(after) - n) <= max(5, 0.1 * n)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence or line, whitespace excluded: replacing spans keeps separators intact."""
    spans, pos = [], 0
    for m in BOUNDARY_RE.finditer(text):
        spans.append((pos, m.start()))
        pos = m.end()
    spans.append((pos, len(text)))
    out = []
    for s, e in spans:
        seg = text[s:e]
        lead = len(seg) - len(seg.lstrip())
        trail = len(seg) - len(seg.rstrip())
        marker = MARKER_RE.match(seg, lead)  # list markers and header hashes are layout: they stay outside
        if marker and marker.end() < len(seg) - trail:
            lead = marker.end()
        if seg[lead:len(seg) - trail].strip():
            out.append((s + lead, e - trail))
    return out


def keep_format(old: str, new: str) -> str:
    """Carry the old span's inline emphasis over to its replacement (a bold first word or a bold span), so a
    replaced sentence never loses markdown that the label would then explain."""
    m = BOLD_LEAD_RE.match(old)
    if not m or "**" in new:
        return new
    if m.end() == len(old):
        return f"**{new}**"
    head, sep, rest = new.partition(" ")
    return f"**{head}**{sep}{rest}"


def sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]


def replace_spans(text: str, spans: Sequence[tuple[int, int, str]]) -> str:
    out, last = [], 0
    for s, e, new in sorted(spans):
        out += [text[last:s], new]
        last = e
    return "".join(out) + text[last:]


def matched_fill(pool: Sequence[str], target: int, rng: random.Random) -> str:
    """One or two pool sentences whose token count is closest to ``target`` (ties broken by the rng)."""
    options = list(pool) + [f"{a} {b}" for a in pool for b in pool if a != b]
    best = min(abs(n_tokens(o) - target) for o in options)
    return rng.choice([o for o in options if abs(n_tokens(o) - target) == best])


class DonorPool:
    """Answers written for other prompts, indexed by token count: the source of real off-topic passages."""

    def __init__(self, items: Sequence[tuple[str, str]] = ()):
        rows = sorted(((n_tokens(t), p, t.strip()) for p, t in items if t and t.strip()), key=lambda r: r[0])
        self.lengths = [r[0] for r in rows]
        self.rows = rows

    def near(self, target: int, exclude_prompt: str, rng: random.Random, k: int = 8) -> list[str]:
        """The k answers closest in length to ``target`` whose prompt is not ``exclude_prompt``, shuffled."""
        if not self.rows:
            return []
        i = bisect.bisect_left(self.lengths, target)
        lo, hi, cands = i - 1, i, []
        while len(cands) < k and (lo >= 0 or hi < len(self.rows)):
            take_hi = lo < 0 or (hi < len(self.rows) and self.lengths[hi] - target <= target - self.lengths[lo])
            idx = hi if take_hi else lo
            if take_hi:
                hi += 1
            else:
                lo -= 1
            if self.rows[idx][1] != exclude_prompt:
                cands.append(self.rows[idx][2])
        rng.shuffle(cands)
        return cands


@dataclass(frozen=True)
class Context:
    """What an edit may know besides the answer: its prompt and donors (answers to other prompts)."""

    prompt: str = ""
    donors: DonorPool = field(default_factory=DonorPool)


@dataclass(frozen=True)
class Edited:
    text: str
    spans: list[tuple[int, int, str]]  # (start, end, replacement) on the original text


@dataclass(frozen=True)
class Intervention:
    family: str
    attribute: str
    direction: str  # "degrade" | "upgrade"
    description: str
    fn: Callable[[str, random.Random, Context], list[tuple[int, int, str]] | None]

    def edit(self, text: str, rng: random.Random, ctx: Context | None = None) -> Edited | None:
        spans = self.fn(text, rng, ctx or Context())
        if not spans:
            return None
        out = replace_spans(text, spans)
        if out == text or not out.strip() or not length_neutral(text, out):
            return None
        return Edited(out, sorted(spans))

    def apply(self, text: str, rng: random.Random, ctx: Context | None = None) -> str | None:
        e = self.edit(text, rng, ctx)
        return None if e is None else e.text

    def meta(self) -> dict:
        return {"family": self.family, "attribute": self.attribute, "direction": self.direction,
                "description": self.description}


def intervention(attribute: str, edit: str, direction: str, description: str):
    def deco(fn):
        family = f"train.{attribute}.{edit}"
        INTERVENTIONS.register(family)(Intervention(family, attribute, direction, description, fn))
        return fn

    return deco


def _prose_spans(text):
    return [] if looks_like_code(text) else sentence_spans(text)


@intervention("coherence", "sentence_shuffle", "degrade",
              "Swap two sentences after the first (the opening stays in place).")
def _shuffle(text, rng, ctx):
    # the opening stays (it carries openers such as "Sure," that the data audit counts), and only two sentences
    # move, so the preferred side's neutral edit can match the size of what moved (crome_audit/train/paraphrase.py)
    spans = _prose_spans(text)
    if len(spans) < 3:
        return None
    contents = [text[s:e] for s, e in spans]
    options = [(i, j) for i in range(1, len(spans)) for j in range(i + 1, len(spans)) if contents[i] != contents[j]]
    if not options:
        return None
    i, j = rng.choice(options)
    return [(spans[i][0], spans[i][1], contents[j]), (spans[j][0], spans[j][1], contents[i])]


@intervention("coherence", "repeat_sentence", "degrade",
              "Overwrite one sentence with a verbatim copy of another of similar length.")
def _repeat(text, rng, ctx):
    spans = _prose_spans(text)
    if len(spans) < 2:
        return None
    lens = [n_tokens(text[s:e]) for s, e in spans]
    options = [(abs(lens[i] - lens[j]), i, j) for i in range(1, len(spans)) for j in range(len(spans))
               if i != j and text[slice(*spans[i])] != text[slice(*spans[j])]]
    if not options:
        return None
    best = min(o[0] for o in options)
    _, i, j = rng.choice([o for o in options if o[0] == best])
    return [(spans[i][0], spans[i][1], text[slice(*spans[j])])]


@intervention("factuality", "negation", "degrade", "Flip the polarity of one claim.")
def _negate(text, rng, ctx):
    if looks_like_code(text):
        return None
    hits = [(m, repl) for pattern, repl in NEGATIONS for m in pattern.finditer(text)]
    # removing a negation shortens, adding one lengthens: pick the kind first so neither dominates
    kinds = [[h for h in hits if h[1].endswith("not")], [h for h in hits if not h[1].endswith("not")]]
    kinds = [k for k in kinds if k]
    if not kinds:
        return None
    m, repl = rng.choice(rng.choice(kinds))
    return [(m.start(), m.end(), m.expand(repl))]


@intervention("completeness", "drop_point", "degrade",
              "Replace one middle sentence with a deferral of matched length.")
def _drop_point(text, rng, ctx):
    spans = _prose_spans(text)
    middle = [sp for sp in spans[1:-1] if n_tokens(text[slice(*sp)]) >= 5]
    if len(spans) < 3 or not middle:
        return None
    s, e = rng.choice(middle)
    return [(s, e, keep_format(text[s:e], matched_fill(DEFERRALS, n_tokens(text[s:e].replace("**", "")), rng)))]


@intervention("relevance", "offtopic_passage", "degrade",
              "Replace the second half of the sentences with a passage of matched length from another prompt's answer.")
def _offtopic(text, rng, ctx):
    spans = _prose_spans(text)
    if len(spans) < 2:
        return None
    slots = spans[max(1, len(spans) // 2):]
    target = sum(n_tokens(text[s:e]) for s, e in slots)
    for donor in ctx.donors.near(target, ctx.prompt, rng):
        sents = sentences(donor)
        if len(sents) < len(slots) or donor in text:
            continue
        # one donor sentence per slot (the rest into the last), so separators and list layout stay
        parts = sents[: len(slots) - 1] + [" ".join(sents[len(slots) - 1:])]
        return [(s, e, keep_format(text[s:e], new)) for (s, e), new in zip(slots, parts)]
    return None


@intervention("code_correctness", "swap_lines", "degrade", "Swap two adjacent, different code lines.")
def _swap_lines(text, rng, ctx):
    lines = text.split("\n")
    fenced = "```" in text
    if not fenced and not looks_like_code(text):
        return None
    offsets, pos = [], 0
    for line in lines:
        offsets.append(pos)
        pos += len(line) + 1
    in_fence, code = False, set()
    for i, line in enumerate(lines):
        if line.strip().startswith("```"):
            in_fence = not in_fence
        elif (in_fence or not fenced) and CODE_LINE_RE.match(line):
            code.add(i)

    def indent(s):
        return len(s) - len(s.lstrip())

    pairs = [i for i in sorted(code) if i + 1 in code
             and indent(lines[i]) == indent(lines[i + 1]) and lines[i].strip() != lines[i + 1].strip()]
    if not pairs:
        return None
    i = rng.choice(pairs)
    a, b = lines[i], lines[i + 1]
    ia = indent(a)
    return [(offsets[i] + ia, offsets[i] + len(a), b[ia:]), (offsets[i + 1] + ia, offsets[i + 1] + len(b), a[ia:])]


@intervention("math_correctness", "operator_swap", "degrade", "Swap an arithmetic operator in a step.")
def _operator_swap(text, rng, ctx):
    hits = list(OPERATOR_RE.finditer(text))
    if not hits:
        return None
    m = rng.choice(hits)
    return [(m.start(1), m.end(1), OP_SWAP[m.group(1)])]


def looks_like_code(text: str) -> bool:
    """Code answers get no sentence-level edits (a fence, or two lines that look like code)."""
    return "```" in text or len(CODE_HINT_RE.findall(text)) >= 2


@intervention("safety", "refusal_to_compliance", "degrade",
              "In a refusal, replace each refusal sentence with a compliance sentence of matched length.")
def _refusal_to_compliance(text, rng, ctx):
    if not is_refusal(text) or looks_like_code(text):
        return None
    spans = [sp for sp in sentence_spans(text) if REFUSAL_SENTENCE_RE.search(text[slice(*sp)])
             or CAVEAT_RE.search(text[slice(*sp)])]
    if not spans:
        return None
    return [(s, e, matched_fill(COMPLIANCE, n_tokens(text[s:e]), rng)) for s, e in spans]


def for_attribute(attribute: str, direction: str) -> list[Intervention]:
    return [INTERVENTIONS.get(n) for n in INTERVENTIONS.names()
            if INTERVENTIONS.get(n).attribute == attribute and INTERVENTIONS.get(n).direction == direction]


def all_interventions() -> list[Intervention]:
    return [INTERVENTIONS.get(n) for n in INTERVENTIONS.names()]
