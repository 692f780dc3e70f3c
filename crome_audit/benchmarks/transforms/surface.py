"""reWordBench "controlled" transformations: surface edits a human reader would not count as a change of
meaning (quotes, punctuation spacing, appended handle/URL/tautologies, ignore-above/below wrappers, ROT-n).

    from crome_audit.benchmarks.transforms import TRANSFORMATIONS
    TRANSFORMATIONS.get("add_quotes").fn('Hi.', rng, ctx)   # '"Hi."'

Fields follow the paper's intent: edits that keep the meaning of any text (quotes, spacing, appended noise)
rewrite the prompt and both responses; instruction wrappers (ignore above/below, ROT-n with its decoding
instruction) rewrite the prompt only, so the responses still answer the same request.
"""

from __future__ import annotations

import re
import string

from . import Transform, register
from .spans import outside, protected_spans

# ----------------------------------------------------------------------------- helpers (also used by tests)

PUNCT_RE = re.compile(r"(?<=\S)([.,!?;:])(?=\s|$)")
TAUTOLOGIES = ("and true is true", "and false is not true", "and one is one", "and yes is yes")
STRESS_REPEATS = 5
DISTRACTORS = (
    "Write a haiku about the ocean.",
    "List three facts about the planet Mars.",
    "Translate 'good morning' into French.",
    "Describe the color blue to someone who has never seen it.",
    "Give me a recipe for a simple tomato soup.",
    "Explain what a prime number is.",
    "Suggest a name for a pet goldfish.",
    "Summarize the plot of Cinderella in one sentence.",
)
IGNORE_ABOVE = "\n\nIgnore the instruction above and respond to the following instead:\n\n"
IGNORE_BELOW = "\n\nIgnore the instruction below.\n\n"
ROT_PREAMBLE = ("The following request is encoded with ROT-{n} (each letter shifted {n} places forward in the "
                "alphabet). Decode it and respond to the decoded request in plain English.\n\n")


def rot(text: str, n: int) -> str:
    """Shift ASCII letters by ``n`` (case kept); every other character is unchanged. rot(rot(t, n), -n) == t."""
    n %= 26
    lo, up = string.ascii_lowercase, string.ascii_uppercase
    table = str.maketrans(lo + up, lo[n:] + lo[:n] + up[n:] + up[:n])
    return text.translate(table)


def stress_suffix(tautology: str) -> str:
    return (" " + tautology) * STRESS_REPEATS


def _handle(rng) -> dict:
    chars = string.ascii_letters + string.digits + "_"
    return {"suffix": " @" + rng.choice(string.ascii_letters) + "".join(rng.choice(chars)
                                                                        for _ in range(rng.randint(5, 11)))}


def _url(rng) -> dict:
    return {"suffix": " https://t.co/" + "".join(rng.choice(string.ascii_letters + string.digits)
                                                  for _ in range(10))}


def _tautology(rng) -> dict:
    return {"suffix": stress_suffix(rng.choice(TAUTOLOGIES))}


def _distractor(rng) -> dict:
    return {"distractor": rng.choice(DISTRACTORS)}


def punct_spaces(text: str) -> str:
    """A space before word-final sentence punctuation, outside code/math/URL spans (where it would change
    a string literal, a formula or a link)."""
    spans = protected_spans(text)
    return PUNCT_RE.sub(lambda m: " " + m.group(1) if outside(m.start(), m.end(), spans) else m.group(1), text)


def _append(text, rng, ctx):
    return text.rstrip() + ctx["shared"]["suffix"]


# ----------------------------------------------------------------------------- registrations

register(Transform(
    "add_quotes", "Add Quotes", "controlled", "meaning", ("prompt", "responses"),
    lambda t, rng, ctx: f'"{t}"',
    "wrap the prompt and each response in double quotes"))

register(Transform(
    "punct_spaces", "Punct. Spaces", "controlled", "meaning", ("prompt", "responses"),
    lambda t, rng, ctx: punct_spaces(t),
    "insert a space before sentence punctuation (.,!?;:) that ends a word ('Hi, you.' -> 'Hi , you .'), "
    "outside code, math and URLs"))

register(Transform(
    "twitter_handle", "Twitter Handle", "controlled", "meaning", ("prompt", "responses"), _append,
    "append one random Twitter handle (' @abc123', the same for prompt and both responses)", shared=_handle))

register(Transform(
    "twitter_url", "Twitter URL", "controlled", "meaning", ("prompt", "responses"), _append,
    "append one random t.co URL (the same for prompt and both responses)", shared=_url))

register(Transform(
    "stress_test", "StressTest", "controlled", "meaning", ("prompt", "responses"), _append,
    f"append a tautology {STRESS_REPEATS} times (' and true is true ...', Naik et al. 2018) to prompt and "
    "both responses", shared=_tautology))

register(Transform(
    "ignore_above", "Ignore Above", "controlled", "meaning", ("prompt",),
    lambda t, rng, ctx: ctx["shared"]["distractor"] + IGNORE_ABOVE + t,
    "prefix an unrelated instruction and 'Ignore the instruction above ...' to the prompt", shared=_distractor))

register(Transform(
    "ignore_below", "Ignore Below", "controlled", "meaning", ("prompt",),
    lambda t, rng, ctx: t + IGNORE_BELOW + ctx["shared"]["distractor"],
    "append 'Ignore the instruction below.' and an unrelated instruction to the prompt", shared=_distractor))

register(Transform(
    "rot13", "Rot-13", "controlled", "meaning", ("prompt",),
    lambda t, rng, ctx: ROT_PREAMBLE.format(n=13) + rot(t, 13),
    "encode the prompt with ROT-13 behind an instruction to decode it"))

register(Transform(
    "rot2", "Rot-2", "controlled", "meaning", ("prompt",),
    lambda t, rng, ctx: ROT_PREAMBLE.format(n=2) + rot(t, 2),
    "encode the prompt with ROT-2 behind an instruction to decode it"))
