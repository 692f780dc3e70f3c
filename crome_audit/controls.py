"""Control reward models: known answers for checking that an audit's numbers mean what they say.

    export CROME_AUDIT_CONTROL_REFERENCE=../shared/data/rewardbench/filtered.jsonl
    crome-audit run --rm py:crome_audit.controls:style_blind   --data "$CROME_AUDIT_CONTROL_REFERENCE"
    crome-audit run --rm py:crome_audit.controls:emoji_bonus   --data "$CROME_AUDIT_CONTROL_REFERENCE"

Every control is a plain ``f(prompts, responses) -> list[float]`` (a ``py:`` RM):

- ``style_blind``: a quality proxy that is blind to style by a generic rule, not by knowing the probes'
  strings: the share of the reference answer's content bigrams (consecutive content words within a sentence
  or line: alphanumeric, lower-cased, stop words out) that the response contains, leaving out bigrams the prompt itself contains
  (restating the question is not answering it). The reference for a prompt is the union of the ``chosen``
  answers for that prompt in the file named by ``$CROME_AUDIT_CONTROL_REFERENCE``. Markup, emoji,
  whitespace and punctuation cannot change it, and added sentences only at their junction with the answer;
  deleting or altering content (numbers, entities, steps, an answer written for another prompt) lowers it.
  A spurious probe that moves it has deleted or altered content.
- ``emoji_bonus``, ``markdown_bonus``, ``flattery_bonus``, ``length_bonus``: ``style_blind`` plus one injected
  bias, detected generically (emoji code points; markdown syntax; praise words at the start; token count).
  An audit must flag exactly that attribute (positive controls).
- ``length_offset`` (the length RM plus a prompt-only offset) and ``length_affine`` (3·length + 7): the same
  preferences as ``length``, so every invariant metric must be identical to the length RM's.
- The graded-bias zoo: ``zoo_L{a}_M{b}_F{c}`` (e.g. ``py:crome_audit.controls:zoo_L1_M0.5_F0``) is
  ``style_blind + a·z(length) + b·z(markdown) + c·z(flattery)``, each bias term standardised so that strength 1
  has the SD of the style-blind score over the reference file's answers (``graded(...)`` builds one in Python).
  The audit's reading of an attribute must rise with its strength, and a second bias must never lower the
  headline (tests/test_validity_zoo.py, benchmarks/bench_validity.py --zoo).

No torch; used by tests/test_validity_controls.py and benchmarks/bench_validity.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import unicodedata
from functools import lru_cache

from .data import load_records, prompt_text
from .errors import InputError
from .models import LengthRM
from .probes.text import STOPWORDS

REFERENCE_ENV = "CROME_AUDIT_CONTROL_REFERENCE"
WORD_RE = re.compile(r"[A-Za-z0-9]+")
# a sentence ends at punctuation, after any closing quote, bracket or markdown emphasis ("**Step one:** Do")
SEGMENT_RE = re.compile(r"[.!?:;]+[\"')\]*_]*(?:\s|$)|\n")
MARKDOWN_RE = re.compile(r"(?m)^[ \t]*#{1,6}[ \t]+\S|^[ \t]*[-*+][ \t]+\S|\*\*[^*\n]+\*\*|__[^_\n]+__|`[^`\n]+`")
PRAISE_RE = re.compile(r"\b(great|excellent|brilliant|insightful|love|wonderful|fantastic|amazing|sharp|smart|"
                       r"thoughtful|fascinating|superb|impressive|perceptive|clever)\b", re.IGNORECASE)
EMOJI_RANGES = ((0x1F000, 0x1FAFF), (0x2600, 0x27BF), (0x2B00, 0x2BFF))


def content_bigrams(text: str) -> frozenset[tuple[str, str]]:
    """Consecutive content words within one sentence or line (so a sentence added before or after the answer
    creates no bigram with it)."""
    out = set()
    for segment in SEGMENT_RE.split(text):
        words = [w for w in (m.lower() for m in WORD_RE.findall(segment)) if w not in STOPWORDS]
        out.update(zip(words, words[1:]))
    return frozenset(out)


@lru_cache(maxsize=4)
def _references(path: str) -> dict[str, frozenset[tuple[str, str]]]:
    records, _info, kind = load_records(path, None, None, skip_invalid=True)
    if kind != "pairs":
        raise InputError(f"{path}: the style-blind control needs preference pairs (prompt/chosen/rejected)")
    refs: dict[str, set] = {}
    for r in records:
        refs.setdefault(prompt_text(r["prompt"]), set()).update(content_bigrams(r["chosen"]))
    return {k: frozenset(v - content_bigrams(k)) for k, v in refs.items()}


def references() -> dict[str, frozenset[tuple[str, str]]]:
    path = os.environ.get(REFERENCE_ENV)
    if not path:
        raise InputError(f"the control RMs need ${REFERENCE_ENV}: a pairs file whose chosen answers are the "
                         "references (e.g. the data you audit)")
    return _references(path)


def style_blind(prompts, responses) -> list[float]:
    refs = references()
    out = []
    for p, r in zip(prompts, responses):
        ref = refs.get(prompt_text(p))
        if not ref:
            out.append(0.0)
            continue
        out.append(len(ref & content_bigrams(r)) / len(ref))
    return out


def count_emoji(text: str) -> int:
    return sum(1 for ch in text if any(lo <= ord(ch) <= hi for lo, hi in EMOJI_RANGES)
               or (unicodedata.category(ch) == "So" and ord(ch) > 0x2000))


def count_markdown(text: str) -> int:
    return len(MARKDOWN_RE.findall(text))


def count_praise(text: str) -> int:
    return len(PRAISE_RE.findall(text[:160]))


def _with_bonus(prompts, responses, feature, weight: float) -> list[float]:
    base = style_blind(prompts, responses)
    return [b + weight * feature(r) for b, r in zip(base, responses)]


def emoji_bonus(prompts, responses) -> list[float]:
    return _with_bonus(prompts, responses, count_emoji, 0.05)


def markdown_bonus(prompts, responses) -> list[float]:
    return _with_bonus(prompts, responses, count_markdown, 0.05)


def flattery_bonus(prompts, responses) -> list[float]:
    return _with_bonus(prompts, responses, count_praise, 0.15)


def length_bonus(prompts, responses) -> list[float]:
    tokens = LengthRM().score(prompts, responses)
    return [b + 0.002 * t for b, t in zip(style_blind(prompts, responses), tokens)]


ZOO_FEATURES = {"L": "length", "M": "markdown", "F": "flattery"}


def _token_count(text: str) -> float:
    return float(LengthRM().score([""], [text])[0])


ZOO_FEATURE_FNS = {"length": _token_count, "markdown": count_markdown, "flattery": count_praise}


@lru_cache(maxsize=4)
def _zoo_scales(path: str) -> dict[str, float]:
    """SD of the style-blind score and of each bias feature over every answer of the reference file: strength 1
    gives a bias term with the content score's own spread."""
    import statistics

    records, _info, _kind = load_records(path, None, None, skip_invalid=True)
    prompts = [r["prompt"] for r in records for _ in (0, 1)]
    answers = [a for r in records for a in (r["chosen"], r["rejected"])]
    base_sd = statistics.pstdev(style_blind(prompts, answers)) or 1.0
    out = {"base": base_sd}
    for name, fn in ZOO_FEATURE_FNS.items():
        sd = statistics.pstdev([float(fn(a)) for a in answers])
        out[name] = base_sd / sd if sd > 0 else 0.0
    return out


def graded(length: float = 0.0, markdown: float = 0.0, flattery: float = 0.0):
    """A zoo member: style_blind plus standardised bias terms of the given strengths (a ``py:``-style callable)."""
    strengths = {"length": float(length), "markdown": float(markdown), "flattery": float(flattery)}

    def score(prompts, responses) -> list[float]:
        base = style_blind(prompts, responses)
        path = os.environ.get(REFERENCE_ENV)
        scales = _zoo_scales(path) if any(strengths.values()) else {}
        out = []
        for b, r in zip(base, responses):
            out.append(b + sum(k * scales[f] * float(ZOO_FEATURE_FNS[f](r)) for f, k in strengths.items() if k))
        return out

    score.__name__ = "zoo_" + "_".join(f"{key}{strengths[f]:g}" for key, f in ZOO_FEATURES.items())
    return score


def __getattr__(name: str):
    """``zoo_L1_M0.5_F0`` -> graded(length=1, markdown=0.5, flattery=0) (so a ``py:`` spec can name any member)."""
    if name.startswith("zoo_"):
        parts = name[4:].split("_")
        try:
            kw = {ZOO_FEATURES[p[0]]: float(p[1:]) for p in parts}
        except (KeyError, ValueError, IndexError):
            raise AttributeError(f"{name}: a zoo member is zoo_L<k>_M<k>_F<k> (length, markdown, flattery)") from None
        return graded(**kw)
    raise AttributeError(name)


def prompt_offset(prompt) -> float:
    """A large prompt-only offset (same for every response to a prompt): invariant metrics ignore it."""
    key = json.dumps(prompt, ensure_ascii=False, sort_keys=True)
    return int(hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:8], 16) % 5000 - 2500.0


def length_offset(prompts, responses) -> list[float]:
    return [t + prompt_offset(p) for p, t in zip(prompts, LengthRM().score(prompts, responses))]


def length_affine(prompts, responses) -> list[float]:
    return [3.0 * t + 7.0 for t in LengthRM().score(prompts, responses)]
