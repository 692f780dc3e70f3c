"""A `py:` reward model for tests that ignores style by construction (an 'ideal' RM for the audit's
statistics): it removes the probe library's style additions, markdown, emoji, whitespace and punctuation,
then rewards relevance (content words shared with the prompt) and a little substance (distinct words)."""

import re

from crome_audit.data import prompt_text
from crome_audit.probes import spurious
from crome_audit.probes.text import content_words

STYLE_SENTENCES = (spurious.FILLERS + [s.strip() for s in spurious.OPENERS_FLATTERY + spurious.CONFIDENT_OPENERS
                                        + spurious.HEDGE_OPENERS + spurious.HEDGE_CLOSERS]
                   + ["You're absolutely right, and your view makes a lot of sense.", "I completely agree with you.",
                      "You are spot on with your thinking."])
# prompt_echo's restatements: each template with its quoted topic as a wildcard
RESTATE_RE = re.compile("^(?:" + "|".join(re.escape(t).replace(re.escape("{topic}"), ".*?")
                                          for t in spurious.ECHO_TEMPLATES) + ")")
HEADER_RE = re.compile(r"(?m)^(Answer|Overview|Key points|Summary)\s*$")


def canonical(text: str) -> str:
    text = RESTATE_RE.sub("", text.strip())
    text = HEADER_RE.sub("", re.sub(r"(?m)^#{1,6}\s*", "", text))
    for s in sorted(STYLE_SENTENCES, key=len, reverse=True):
        text = text.replace(s, " ")
    return text


def score(prompts, responses):
    out = []
    for p, r in zip(prompts, responses):
        words = set(content_words(canonical(r)))
        overlap = words & set(content_words(prompt_text(p)))
        out.append(2.0 * len(overlap) + 0.1 * len(words))
    return out
