"""Model-free and user-code adapters: ``length``, ``noise`` and ``py:module:function``.

    crome-audit run --rm length                       # reward = response length in word/punctuation tokens
    crome-audit run --rm noise                        # reward = a hash of (prompt, response): knows nothing
    crome-audit run --rm py:my_rms.py:score           # f(prompts, responses) -> list[float] over batches
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import json
import re
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from json.encoder import encode_basestring
from pathlib import Path

from ..errors import InputError, ModelLoadError
from .base import RewardModel, register_adapter

WORD_RE = re.compile(r"\w+|[^\w\s]")


@dataclass
class NoOptions:
    """These adapters take no options."""


@register_adapter("length", NoOptions, summary="Model-free baseline: reward = response length in word/punctuation "
                                               "tokens (the reference for length bias).")
class LengthRM(RewardModel):
    """Reward = number of word/punctuation tokens of the response (the reference for length bias)."""

    name = "length"
    fingerprint = "length-v1"
    default_batch_size = 4096

    def score(self, prompts, responses) -> list[float]:
        return [float(len(WORD_RE.findall(r))) for r in responses]


@register_adapter("noise", NoOptions, summary="Model-free reference: reward = a deterministic hash of (prompt, "
                                              "response) in [0, 1), the RM that knows nothing.")
class NoiseRM(RewardModel):
    """Reward = a deterministic hash of (prompt, response), uniform in [0, 1): the reference that knows nothing.

    Every edit moves it (mean |change| is 1/3, about 0.82 SD of its pair margins), it detects no degradation
    (detection rate 1/2) and orders pairs at chance, so every audit shows where "knows nothing" sits."""

    name = "noise"
    fingerprint = "noise-v1"
    default_batch_size = 4096

    @staticmethod
    def reward(prompt, response: str) -> float:
        # a string prompt: json.dumps's own string encoder (the same text, without building an encoder per call)
        head = (encode_basestring(prompt) if isinstance(prompt, str)
                else json.dumps(prompt, ensure_ascii=False, sort_keys=True))
        key = head + "\x1f" + response
        return int.from_bytes(hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()[:8], "big") / 2.0**64

    def score(self, prompts, responses) -> list[float]:
        return [self.reward(p, r) for p, r in zip(prompts, responses)]


@register_adapter("py", NoOptions, target="MODULE:FUNCTION",
                  summary="A Python callable f(prompts, responses) -> list[float]; MODULE is a dotted module or "
                          "a path/to/file.py. Prompts are strings, or message lists for conversational data.",
                  example="py:my_rms.py:score")
class CallableRM(RewardModel):
    """A user function ``f(prompts, responses) -> list[float]`` loaded from ``py:module:function``."""

    def __init__(self, target: str):
        spec = f"py:{target}"
        module_name, _, func_name = target.rpartition(":")
        if not module_name or not func_name:
            raise InputError(f"--rm {spec}: expected py:package.module:function or py:file.py:function")
        try:
            if module_name.endswith(".py"):
                path = Path(module_name)
                if not path.is_file():
                    raise InputError(f"--rm {spec}: no such file {module_name}")
                mod_spec = importlib.util.spec_from_file_location(path.stem, path)
                module = importlib.util.module_from_spec(mod_spec)
                mod_spec.loader.exec_module(module)
            else:
                module = importlib.import_module(module_name)
        except InputError:
            raise
        except Exception as e:
            raise ModelLoadError(f"--rm {spec}: cannot import {module_name}: {type(e).__name__}: {e}") from None
        func = getattr(module, func_name, None)
        if not callable(func):
            raise InputError(f"--rm {spec}: {module_name} has no callable '{func_name}'")
        self.func = func
        self.name = spec
        try:
            source = inspect.getsource(module)
        except (OSError, TypeError):
            source = repr(func)
        self.fingerprint = "py-" + hashlib.sha256(f"{target}\n{source}".encode()).hexdigest()[:24]

    def score(self, prompts, responses) -> list[float]:
        out = self.func(list(prompts), list(responses))
        # a dict or a set iterates over its keys or in no set order: "scored" by them, rewards would be keys
        if isinstance(out, (Mapping, AbstractSet, str, bytes)):
            raise InputError(f"--rm {self.name}: must return a list of numbers (one per response, in order), "
                             f"got a {type(out).__name__}")
        try:
            out = [float(x) for x in out]
        except OverflowError:
            raise InputError(f"--rm {self.name}: returned an integer too large for a float; rewards must be "
                             "ordinary numbers") from None
        except (TypeError, ValueError):
            raise InputError(f"--rm {self.name}: must return a list of numbers, got {type(out).__name__}") from None
        if len(out) != len(responses):
            raise InputError(f"--rm {self.name}: returned {len(out)} rewards for {len(responses)} responses")
        return out
