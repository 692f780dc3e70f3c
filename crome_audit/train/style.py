"""Training-only style families (``train.style.*``): restyle an answer without touching its content, for the
offline style-neutral ties (answer ~ restyled answer) that teach invariance to length, markdown, flattery,
tone, emoji and whitespace -- the causally-aligned neutrals of Crome, without an LLM.

    from crome_audit.train.style import STYLES, style_tie
    STYLES.get("train.style.numbered_list").apply("One thing. Another thing.", random.Random(0))
    style_tie(answer, random.Random(0))      # -> (family, attribute, restyled) or None

Each family names the audit attribute it varies (``length``, ``formatting``, ``sycophancy``, ``tone``,
``emoji``, ``whitespace``) so the audit can mark those attributes as tied in training
(``crome_training.json: tied_attributes``). Their mechanisms and string pools differ from the audit's probes
in ``crome_audit/probes/spurious.py`` (tested: no pool string is shared), so an audit probe of a tied
attribute still measures transfer to a new surface form of that attribute:

| family                         | attribute  | audit probe it differs from | edit |
|--------------------------------|------------|-----------------------------|------|
| train.style.padding            | length     | length_filler (3 filler sentences appended after a blank line) | 1-2 content-free sentences inserted after an inner sentence |
| train.style.numbered_list      | formatting | format_markdown (header + bullets with bold first words) | sentences as a numbered list |
| train.style.bold_lead          | formatting | format_markdown | the first sentence in bold, or a bold label before it |
| train.style.flatten_markdown   | formatting | format_strip (keeps lines and header text) | a markdown answer as one paragraph of prose, header lines dropped (half of the ties of a markdown answer) |
| train.style.flattery           | sycophancy | sycophancy_opener / _agree | other praise, sometimes at the end instead of the start |
| train.style.tone_frame         | tone       | confident_tone / hedging_politeness | other frames ("Frankly, ...", "For what it's worth, ...") |
| train.style.emoji_lead         | emoji      | emoji (after sentences + at the end) | one emoji from another set at the start |
| train.style.line_breaks        | whitespace | whitespace_noise (doubled spaces, blank lines at the ends) | sentence separators turned into line breaks |

Punctuation is deliberately not tied, so its audit probe stays a held-out attribute; so is prompt echo
(``prompt_echo``, the question restated), which no family varies.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass

from ..probes.text import has_markdown
from ..registry import Registry
from .interventions import BOUNDARY_RE, looks_like_code, replace_spans, sentence_spans

STYLES = Registry("style family")

PADDING = [
    "That is the general picture.",
    "Those are the basics.",
    "That sums up the situation fairly well.",
    "There is some nuance, but that is the core of it.",
    "Hopefully that gives you a useful starting point.",
    "Those are the main facts as I understand them.",
    "That is how it usually works.",
    "I think that captures the essentials.",
]
LABELS = ["**Short answer:** ", "**In brief:** ", "**My take:** ", "**Answer:** "]
FLATTERY_OPEN = ["Thanks for bringing this up, it's a smart thing to wonder about. ",
                 "You're asking exactly the right thing here. ", "Good on you for looking into this. ",
                 "I appreciate how thoughtful this is. "]
FLATTERY_CLOSE = [" You clearly put real thought into asking this.", " Smart of you to ask, honestly.",
                  " It's great that you're curious about this."]
TONE_OPEN = ["Frankly, ", "Honestly, ", "To put it plainly, ", "For what it's worth, ", "As far as I can tell, ",
             "Speaking candidly, "]
EMOJI_LEAD = ["🙂", "👌", "🌟", "📌", "🤝", "😀"]


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text


@dataclass(frozen=True)
class StyleFamily:
    family: str
    attribute: str
    description: str
    fn: Callable[[str, random.Random], str | None]

    def apply(self, text: str, rng: random.Random) -> str | None:
        if not text.strip():
            return None
        out = self.fn(text, rng)
        return None if out is None or out == text or not out.strip() else out


def style(attribute: str, edit: str, description: str):
    def deco(fn):
        family = f"train.style.{edit}"
        STYLES.register(family)(StyleFamily(family, attribute, description, fn))
        return fn

    return deco


@style("length", "padding", "Insert 1-2 content-free sentences after an inner sentence.")
def _padding(text, rng):
    spans = sentence_spans(text)
    if looks_like_code(text) or len(spans) < 2:
        return None
    i = rng.randrange(len(spans) - 1)
    end = spans[i][1]
    sep = text[end:spans[i + 1][0]]  # reuse the answer's own separator after the inserted sentences
    pad = " ".join(rng.sample(PADDING, rng.choice([1, 2])))
    return text[:end] + sep + pad + text[end:]


@style("formatting", "numbered_list", "Lay the sentences out as a numbered list.")
def _numbered(text, rng):
    spans = sentence_spans(text)
    if has_markdown(text) or looks_like_code(text) or len(spans) < 2:
        return None
    lead = text[: spans[0][0]]
    tail = text[spans[-1][1]:]
    return lead + "\n".join(f"{k}. {text[s:e]}" for k, (s, e) in enumerate(spans, 1)) + tail


@style("formatting", "bold_lead", "Bold the first sentence, or put a bold label before it.")
def _bold(text, rng):
    spans = sentence_spans(text)
    if looks_like_code(text) or not spans or "**" in text:
        return None
    s, e = spans[0]
    if rng.random() < 0.5 and len(spans) > 1:
        return replace_spans(text, [(s, e, f"**{text[s:e]}**")])
    return text[:s] + rng.choice(LABELS) + text[s:]


@style("formatting", "flatten_markdown", "Rewrite a markdown answer as running prose (header lines dropped, list "
       "items joined into one paragraph, bold/italic marks removed).")
def _flatten(text, rng):
    if not has_markdown(text) or "```" in text:
        return None
    lines = [ln for ln in text.split("\n") if not re.match(r"\s*#{1,6}\s", ln)]
    items = [re.sub(r"^\s*([-*+]|\d+[.)])\s+", "", ln).strip() for ln in lines]
    prose = " ".join(i for i in items if i)
    prose = re.sub(r"\*\*([^*]+)\*\*|__([^_]+)__|(?<!\w)\*([^*]+)\*(?!\w)",
                   lambda m: m.group(1) or m.group(2) or m.group(3), prose)
    return prose if prose.strip() else None


@style("sycophancy", "flattery", "Add praise of the user, at the start or at the end.")
def _flattery(text, rng):
    if rng.random() < 0.5:
        return rng.choice(FLATTERY_OPEN) + text.lstrip()
    return text.rstrip() + rng.choice(FLATTERY_CLOSE)


@style("tone", "tone_frame", "Frame the answer with a candid or modest opener.")
def _tone(text, rng):
    if looks_like_code(text):
        return None
    return rng.choice(TONE_OPEN) + _lower_first(text.lstrip())


@style("emoji", "emoji_lead", "Put one emoji at the start.")
def _emoji(text, rng):
    return rng.choice(EMOJI_LEAD) + " " + text.lstrip()


@style("whitespace", "line_breaks", "Turn some sentence separators into line breaks.")
def _breaks(text, rng):
    if looks_like_code(text):
        return None
    seps = [m for m in BOUNDARY_RE.finditer(text) if "\n" not in m.group(0)]
    if not seps:
        return None
    picked = [m for m in seps if rng.random() < 0.5] or [rng.choice(seps)]
    return replace_spans(text, [(m.start(), m.end(), "\n") for m in picked])


def all_styles() -> list[StyleFamily]:
    return [STYLES.get(n) for n in STYLES.names()]


def style_tie(text: str, rng: random.Random, families: list[str] | None = None):
    """Restyle ``text`` with one applicable family picked by the rng: (family, attribute, restyled) or None."""
    cands = [STYLES.get(n) for n in (families or STYLES.names())]
    rng.shuffle(cands)
    if has_markdown(text) and rng.random() < 0.5:  # an answer that carries markdown: tie the style it carries
        cands.sort(key=lambda f: f.family != "train.style.flatten_markdown")
    for fam in cands:
        out = fam.apply(text, rng)
        if out is not None:
            return fam.family, fam.attribute, out
    return None
