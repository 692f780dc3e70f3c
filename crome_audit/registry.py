"""A small name -> implementation registry with "did you mean" errors.

Used for probes, benchmarks and RM adapters:

    PROBES = Registry("probe")

    @PROBES.register("length_filler")
    class LengthFiller(Probe): ...

    PROBES.get("lenght_filler")  # InputError: unknown probe 'lenght_filler'; did you mean 'length_filler'?
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Any

from .errors import InputError


def suggest(word: str, options, n: int = 3) -> str:
    """The hint after an unknown name: " (did you mean 'x'?)", else " (known: a, b, c)"."""
    options = sorted(str(o) for o in options)
    close = difflib.get_close_matches(str(word), options, n=n, cutoff=0.5)
    if close:
        return f" (did you mean {', '.join(repr(c) for c in close)}?)"
    return f" (known: {', '.join(options)})"


class Registry:
    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, Any] = {}

    def register(self, name: str) -> Callable[[Any], Any]:
        def decorator(obj: Any) -> Any:
            if name in self._items:
                raise ValueError(f"{self.kind} '{name}' is registered twice")
            self._items[name] = obj
            return obj

        return decorator

    def get(self, name: str) -> Any:
        if name in self._items:
            return self._items[name]
        raise InputError(f"unknown {self.kind} '{name}'{suggest(name, self._items)}")

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: str) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))
