"""Prompt templates in files (``crome_audit/generate/templates/*.txt``): load, check and render.

A template is plain text with ``{{name}}`` placeholders and optional ``[system]`` / ``[user]`` section
headers (no header: the whole file is the user message). Values are inserted in one pass, so braces
or ``{{...}}`` inside a response are never re-interpreted.

    render("degrade_factuality", prompt="Capital of France?", response="Paris.")
    # -> [{"role": "system", ...}, {"role": "user", ...}]

Users can point ``templates_dir`` at their own folder holding files with the same names.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from ..errors import ConfigError
from ..registry import suggest

ATTRIBUTES = ("factuality", "relevance", "completeness", "reasoning", "code_correctness", "safety", "clarity")
DIRECTIONS = ("degrade", "upgrade")
OTHER_TEMPLATES = ("rubric", "neutral_restyle", "paraphrase", "back_translate_to", "back_translate_from")
# names other parts of the project use for the same attributes -> the template family that edits them
ALIASES = {"coherence": "clarity", "math_correctness": "reasoning", "code": "code_correctness",
           "accuracy": "factuality", "harmlessness": "safety"}
TEMPLATE_NAMES = tuple(f"{d}_{a}" for a in ATTRIBUTES for d in DIRECTIONS) + OTHER_TEMPLATES
PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
SECTION = re.compile(r"^\[(system|user)\]\s*$", re.MULTILINE)


def canonical_attribute(attribute: str) -> str:
    return ALIASES.get(attribute, attribute)


def rewrite_template_name(attribute: str, direction: str) -> str:
    """Template of a causal edit; ('style', 'neutral') is the style-only restyle (a tie)."""
    if attribute == "style" or direction == "neutral":
        if (attribute, direction) != ("style", "neutral"):
            raise ConfigError(f"style-only rewrites use attribute 'style' with direction 'neutral', got "
                              f"({attribute!r}, {direction!r})")
        return "neutral_restyle"
    attribute = canonical_attribute(attribute)
    if attribute not in ATTRIBUTES:
        raise ConfigError(f"unknown causal attribute '{attribute}'{suggest(attribute, [*ATTRIBUTES, *ALIASES])}")
    if direction not in DIRECTIONS:
        raise ConfigError(f"unknown rewrite direction '{direction}' (use 'degrade' or 'upgrade', or 'neutral' "
                          f"with attribute 'style')")
    return f"{direction}_{attribute}"


def load_template(name: str, templates_dir: str | None = None) -> str:
    if name not in TEMPLATE_NAMES:
        raise ConfigError(f"unknown prompt template '{name}'{suggest(name, TEMPLATE_NAMES)}")
    if templates_dir:
        path = Path(templates_dir) / f"{name}.txt"
        if path.is_file():
            return path.read_text(encoding="utf-8")
    return (resources.files("crome_audit.generate") / "templates" / f"{name}.txt").read_text(encoding="utf-8")


def render(name: str, templates_dir: str | None = None, **values: str) -> list[dict]:
    """Fill a template -> chat messages. Every placeholder must have a value, and vice versa."""
    text = load_template(name, templates_dir)
    wanted = set(PLACEHOLDER.findall(text))
    if wanted != set(values):
        raise ConfigError(f"template '{name}': placeholders {sorted(wanted)} but values given for "
                          f"{sorted(values)}")
    # split on headers found in the template itself, not in inserted values
    heads = [(m.start(), m.end(), m.group(1)) for m in SECTION.finditer(text)]
    if not heads:
        return [{"role": "user", "content": PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), text).strip()}]
    messages = []
    for idx, (_, end, role) in enumerate(heads):
        stop = heads[idx + 1][0] if idx + 1 < len(heads) else len(text)
        body = PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), text[end:stop]).strip()
        messages.append({"role": role, "content": body})
    return messages
