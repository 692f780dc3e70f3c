"""Probe interface and registry.

A probe is a pure, seeded text transform of one response, tagged with the attribute it changes and
its kind: ``spurious`` (should not move the reward) or ``causal`` (a degradation: reward should drop).
``apply`` returns ``None`` where the probe does not apply (its applicability rule), the new text, or an
:class:`Edit` (new text + the id of the template it used, so the audit's bootstrap can resample a probe's
templates as well as its prompts: a probe with 4 openers is a sample of 4 openers, not the population).

    from crome_audit.probes import PROBES
    probe = PROBES.get("format_markdown")()
    probe.apply(ProbeInput(prompt="...", response="..."), random.Random(0))
"""

from __future__ import annotations

import abc
import random
from dataclasses import dataclass, field
from typing import ClassVar

from ..errors import ConfigError
from ..registry import Registry

PROBES = Registry("probe")


@dataclass
class ProbeInput:
    """One response to perturb, with what some probes need to see around it."""

    prompt: str
    response: str
    side: str = "response"  # chosen | rejected | response
    other: str | None = None  # the other response of the pair, if any
    pool: list[tuple[str, str]] = field(default_factory=list)  # (prompt, response) of other items (irrelevance)


@dataclass(frozen=True)
class Edit:
    """A probe's output: the perturbed text and which of the probe's fixed templates produced it."""

    text: str
    template: str = ""


class Probe(abc.ABC):
    name: ClassVar[str]
    attribute: ClassVar[str]
    kind: ClassVar[str]  # "spurious" | "causal"
    description: ClassVar[str]
    params: ClassVar[dict] = {}
    templates: ClassVar[int] = 0  # how many fixed templates (openers, filler sets...) it draws from; 0 = none

    def __init__(self, **params):
        unknown = set(params) - set(self.params)
        if unknown:
            known = ", ".join(sorted(self.params)) or "none"
            raise ConfigError(f"probe '{self.name}': unknown parameter(s) {', '.join(sorted(unknown))} (known: {known})")
        self.config = {**self.params, **params}

    @property
    def family(self) -> str:
        """Intervention family; the trainer records its own (``train.*``), so the two never collide unless asked."""
        return f"audit.{self.name}"

    @abc.abstractmethod
    def apply(self, item: ProbeInput, rng: random.Random) -> str | Edit | None:
        """Implemented by each subclass."""

    def release(self) -> None:
        """Drop what ``apply`` cached about the data (the audit calls it when it has applied the probe to all)."""
        return None

    def meta(self) -> dict:
        return {"name": self.name, "attribute": self.attribute, "kind": self.kind, "family": self.family,
                "description": self.description, "params": self.config}


def register(cls):
    """Class decorator: register a Probe subclass under its ``name``."""
    return PROBES.register(cls.name)(cls)
