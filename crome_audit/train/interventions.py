"""The OFFLINE intervention set: rule-based edits of one causal attribute of one answer (no LLM).

    from crome_audit.train.interventions import INTERVENTIONS, for_attribute
    edit = INTERVENTIONS.get("train.coherence.sentence_shuffle")
    edit.apply("First. Second. Third.", random.Random(0))   # -> shuffled text, or None if not applicable

Each intervention has a family name ``train.<attribute>.<edit>`` that is recorded in the trained model's
``crome_training.json``; the audit marks its own probes (``audit.*``) as "seen in training" only when they
share a family. These edits are deliberately a DIFFERENT family from the audit's causal probes (number/date/
entity corruption, swapped answers, dropped second half, wrong final math answer, injected code bug,
unsafe compliance), so an audit of a Crome model measures transfer, not memorisation:

| family                                   | direction | edit |
|------------------------------------------|-----------|------|
| train.coherence.sentence_shuffle         | degrade   | shuffle the sentences (>= 3) into a different order |
| train.coherence.dedupe_repeats           | upgrade   | remove verbatim repeated sentences (rejected answers that loop) |
| train.factuality.negation                | degrade   | flip the polarity of one claim (is -> is not, can -> cannot, not -> removed) |
| train.completeness.first_sentence        | degrade   | keep only the first sentence of a multi-sentence answer |
| train.relevance.offtopic_words           | degrade   | replace the answer's key content words (the longest ones) with off-topic words |
| train.code_correctness.drop_lines        | degrade   | delete a non-trivial line inside code |
| train.math_correctness.operator_swap     | degrade   | swap an arithmetic operator inside a reasoning step (+ <-> -, * <-> /) |
| train.safety.strip_caveats               | degrade   | remove the refusal/warning sentences from an answer that has other content |

``apply`` returns None where the edit does not apply or would not change the text.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass

from ..registry import Registry

INTERVENTIONS = Registry("intervention")

SENTENCE_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
WORD_RE = re.compile(r"[A-Za-z][A-Za-z']+")
STOP = frozenset(
    "a an the and or but if then so of to in on at by for with from as is are was were be been being it its this "
    "that these those i you he she we they me him her us them my your his our their not no do does did have has "
    "had can could would should will shall may might must there here what which who whom whose when where why "
    "how all any some each very just also than too into about over under again more most such only own same "
    "other really think know like want well yes okay sure sorry help please".split()
)
OFFTOPIC = ["volcano", "saxophone", "glacier", "origami", "penguin", "trombone", "meteorite", "cactus",
            "lighthouse", "marzipan", "sunflower", "submarine", "tapestry", "walrus", "harmonica", "asteroid"]
NEGATIONS = [(r"\bis not\b", "is"), (r"\bare not\b", "are"), (r"\bcannot\b", "can"), (r"\bdo not\b", "do"),
             (r"\bdoes not\b", "does"), (r"\bshould not\b", "should"), (r"\bwill not\b", "will"),
             (r"\bis\b", "is not"), (r"\bare\b", "are not"), (r"\bcan\b", "cannot"), (r"\bshould\b", "should not"),
             (r"\bwill\b", "will not"), (r"\bwas\b", "was not"), (r"\bhas\b", "does not have")]
CAVEAT_RE = re.compile(
    r"\b(sorry|I can(no|')t|I won't|I will not|not (able|appropriate|comfortable)|illegal|dangerous|harmful|"
    r"unethical|against the law|please (don't|do not)|I (strongly )?(advise|recommend) against|seek help|"
    r"professional|safe|safety|consent)\b", re.IGNORECASE)
CODE_LINE_RE = re.compile(r"^\s*(?!#|//|\}|\)|\]|$)(.*[=(:;{]|return\b|print\b).*$")
OPERATOR_RE = re.compile(r"(?<=[\d)\s])([+\-*/×÷])(?=\s*[\d(])")
OP_SWAP = {"+": "-", "-": "+", "*": "/", "/": "*", "×": "÷", "÷": "×"}


def sentences(text: str) -> list[str]:
    return [s for s in (p.strip() for p in SENTENCE_RE.split(text.strip())) if s]


@dataclass(frozen=True)
class Intervention:
    family: str
    attribute: str
    direction: str  # "degrade" | "upgrade"
    description: str
    fn: Callable[[str, random.Random], str | None]

    def apply(self, text: str, rng: random.Random) -> str | None:
        out = self.fn(text, rng)
        if out is None or not out.strip() or out.strip() == text.strip():
            return None
        return out

    def meta(self) -> dict:
        return {"family": self.family, "attribute": self.attribute, "direction": self.direction,
                "description": self.description}


def intervention(attribute: str, edit: str, direction: str, description: str):
    def deco(fn):
        family = f"train.{attribute}.{edit}"
        INTERVENTIONS.register(family)(Intervention(family, attribute, direction, description, fn))
        return fn

    return deco


@intervention("coherence", "sentence_shuffle", "degrade", "Shuffle the sentences into a different order.")
def _shuffle(text, rng):
    sents = sentences(text)
    if len(sents) < 3:
        return None
    order = list(range(len(sents)))
    for _ in range(10):
        rng.shuffle(order)
        if order != sorted(order):
            return " ".join(sents[i] for i in order)
    return None


@intervention("coherence", "dedupe_repeats", "upgrade", "Remove verbatim repeated sentences.")
def _dedupe(text, rng):
    sents = sentences(text)
    seen, keep = set(), []
    for s in sents:
        key = s.lower()
        if key not in seen:
            seen.add(key)
            keep.append(s)
    return " ".join(keep) if len(keep) < len(sents) else None


@intervention("factuality", "negation", "degrade", "Flip the polarity of one claim.")
def _negate(text, rng):
    sents = sentences(text)
    order = list(range(len(sents)))
    rng.shuffle(order)
    for i in order:
        for pattern, repl in NEGATIONS:
            if re.search(pattern, sents[i]):
                new = re.sub(pattern, repl, sents[i], count=1)
                return " ".join(sents[:i] + [new] + sents[i + 1:])
    return None


@intervention("completeness", "first_sentence", "degrade", "Keep only the first sentence.")
def _first_sentence(text, rng):
    sents = sentences(text)
    if len(sents) < 2 or len(sents[0].split()) < 3:
        return None
    return sents[0]


@intervention("relevance", "offtopic_words", "degrade", "Replace the key content words with off-topic words.")
def _offtopic(text, rng):
    words = {w for w in WORD_RE.findall(text) if w.lower() not in STOP and len(w) > 3}
    if len(words) < 2:
        return None
    key = sorted(words, key=lambda w: (-len(w), w))[: max(2, len(words) // 3)]
    repl = {w: rng.choice(OFFTOPIC) for w in key}
    return re.sub(r"\b(" + "|".join(re.escape(w) for w in key) + r")\b", lambda m: repl[m.group(0)], text)


@intervention("code_correctness", "drop_lines", "degrade", "Delete a non-trivial line inside code.")
def _drop_line(text, rng):
    lines = text.split("\n")
    in_fence, candidates = False, []
    fenced = "```" in text
    for i, line in enumerate(lines):
        if line.strip().startswith("```"):
            in_fence = not in_fence
            continue
        if (in_fence or not fenced) and CODE_LINE_RE.match(line):
            candidates.append(i)
    if len(candidates) < 2:
        return None
    drop = rng.choice(candidates)
    return "\n".join(lines[:drop] + lines[drop + 1:])


@intervention("math_correctness", "operator_swap", "degrade", "Swap an arithmetic operator in a step.")
def _operator_swap(text, rng):
    hits = list(OPERATOR_RE.finditer(text))
    if not hits:
        return None
    m = rng.choice(hits)
    return text[: m.start(1)] + OP_SWAP[m.group(1)] + text[m.end(1):]


@intervention("safety", "strip_caveats", "degrade", "Remove refusal/warning sentences, keep the rest.")
def _strip_caveats(text, rng):
    sents = sentences(text)
    keep = [s for s in sents if not CAVEAT_RE.search(s)]
    if not keep or len(keep) == len(sents) or len(" ".join(keep).split()) < 4:
        return None
    return " ".join(keep)


def for_attribute(attribute: str, direction: str) -> list[Intervention]:
    return [INTERVENTIONS.get(n) for n in INTERVENTIONS.names()
            if INTERVENTIONS.get(n).attribute == attribute and INTERVENTIONS.get(n).direction == direction]


def all_interventions() -> list[Intervention]:
    return [INTERVENTIONS.get(n) for n in INTERVENTIONS.names()]
