"""The reward-model interface and the adapter registry every adapter file registers itself in.

A new adapter is one new file in ``crome_audit/models/`` (found by :func:`crome_audit.models.discover`):

    from dataclasses import dataclass
    from .base import RewardModel, option, register_adapter

    @dataclass
    class MyOptions:
        temperature: float = option(1.0, "Softmax temperature of the verdict.")

    @register_adapter("mine", MyOptions, summary="My reward model.", target="PATH",
                      requires=(("torch", "torch"),))
    class MyRM(RewardModel):
        def __init__(self, target, temperature=1.0): ...

The module must not import heavy packages (torch, transformers) at top level: ``crome-audit rms`` imports
every adapter file to list them, and ``report``/``gate`` never import torch.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable
from typing import Any

from ..registry import Registry


class RewardModel(abc.ABC):
    """Base class. Subclasses set ``name`` and ``fingerprint`` and implement ``score``."""

    name: str = "rm"
    fingerprint: str = ""
    default_batch_size: int = 64

    @abc.abstractmethod
    def score(self, prompts, responses) -> list[float]:
        """Implemented by each subclass."""

    def info(self) -> dict:
        """Plain-data description for results.json (adapter, formatting, truncation counts...)."""
        return {"adapter": type(self).__name__}


def option(default: Any, help: str, **kwargs) -> Any:
    """A field of an adapter's options dataclass, with the help text ``crome-audit rms`` prints."""
    if isinstance(default, (list, dict, set)):
        value = default
        return dataclasses.field(default_factory=lambda: type(value)(value), metadata={"help": help}, **kwargs)
    return dataclasses.field(default=default, metadata={"help": help}, **kwargs)


@dataclasses.dataclass(frozen=True)
class Adapter:
    """One registered adapter: how ``--rm PREFIX:TARGET`` and ``--rm-arg KEY=VALUE`` become a RewardModel."""

    prefix: str
    cls: type
    options: type  # a dataclass; its fields are the adapter's --rm-arg keys
    summary: str
    target: str | None  # what follows "prefix:" (None: the adapter takes no target, e.g. 'length')
    requires: tuple[tuple[str, str], ...]  # (pip package, import name) the adapter needs at load time
    example: str | None
    build: Callable[..., RewardModel] | None  # custom constructor (target, **options); default: cls(...)

    def construct(self, target: str | None, options: dict) -> RewardModel:
        """Build the RM with every option (defaults from the options dataclass filled in)."""
        filled = self.options(**options)
        options = {f.name: getattr(filled, f.name) for f in dataclasses.fields(filled)}
        if self.build is not None:
            return self.build(target, **options)
        return self.cls(target, **options) if self.target is not None else self.cls(**options)

    def option_fields(self) -> list[dataclasses.Field]:
        return list(dataclasses.fields(self.options))


ADAPTERS = Registry("reward-model adapter")


def register_adapter(prefix: str, options: type, *, summary: str, target: str | None = None,
                     requires: tuple[tuple[str, str], ...] = (), example: str | None = None,
                     build: Callable[..., RewardModel] | None = None):
    """Class decorator: register ``cls`` as the adapter for ``--rm PREFIX:TARGET`` (or ``--rm PREFIX`` when
    ``target`` is None). ``options`` is a dataclass whose fields (made with :func:`option`) are the
    ``--rm-arg`` keys, coerced to the field types and passed to the constructor as keyword arguments."""
    if not dataclasses.is_dataclass(options):
        raise TypeError(f"adapter '{prefix}': options must be a dataclass")
    for f in dataclasses.fields(options):
        if not f.metadata.get("help"):
            raise TypeError(f"adapter '{prefix}': option '{f.name}' has no help text (use models.base.option)")

    def decorator(cls):
        ADAPTERS.register(prefix)(Adapter(prefix, cls, options, summary, target, tuple(requires), example, build))
        return cls

    return decorator
