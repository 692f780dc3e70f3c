"""The Generator interface shared by the HTTP and local backends.

    gen = load_generator("openai:http://127.0.0.1:8080/v1#smollm2")
    outs = gen.generate([[{"role": "user", "content": "Say hi"}]], n=2, temperature=0.8)
    outs[0]  # -> ["Hi!", "Hello there."]
    gen.stats  # {"requests": 2, "cache_hits": 0, "retries": 0, "failures": 0}

A request is one sample: (conversation, sample index k). Each has a seed derived from (seed, k,
messages) and its own cache entry, so n=16 after n=8 only generates the 8 new samples, and a re-run
costs nothing. Backends implement ``_run(units, emit)``; results reach the cache as they arrive.
"""

from __future__ import annotations

import abc
import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import CromeError, InputError
from ..secrets import redact_text
from .cache import GenerationCache, default_generation_cache_path, request_key
from .config import GeneratorConfig

ROLES = ("system", "user", "assistant")


class GenerationError(CromeError):
    """Generation failed after retries (server down, timeouts, garbage replies). Exit code 2: the server the
    user named did not answer in time or sensibly, which is no internal error (issue 23: a dripping judge is
    one line and exit 2)."""

    exit_code = 2


@dataclass
class Unit:
    """One sample to generate: conversation ``index``, sample ``k``, with its cache identity."""

    index: int
    k: int
    messages: list[dict]
    max_new_tokens: int
    temperature: float
    top_p: float
    seed: int
    request: dict
    key: str


def derive_seed(base: int, k: int, messages: list[dict]) -> int:
    """A 31-bit seed from the base seed, the sample index and the conversation."""
    text = json.dumps([base, k, messages], ensure_ascii=False, sort_keys=True)
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) & 0x7FFFFFFF


def check_conversations(conversations) -> list[list[dict]]:
    """Validate (and normalise: a bare string is one user turn) a list of conversations."""
    if isinstance(conversations, str | dict) or not isinstance(conversations, list | tuple):
        raise InputError("generate: conversations must be a list of message lists")
    out = []
    for i, conv in enumerate(conversations):
        if isinstance(conv, str):
            conv = [{"role": "user", "content": conv}]
        if not isinstance(conv, list | tuple) or not conv:
            raise InputError(f"generate: conversation {i}: expected a non-empty list of messages")
        msgs = []
        for j, m in enumerate(conv):
            if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
                raise InputError(f"generate: conversation {i} message {j}: expected {{role: "
                                 f"{'|'.join(ROLES)}, content: str}}")
            msgs.append({"role": m["role"], "content": m["content"]})
        out.append(msgs)
    return out


class Generator(abc.ABC):
    """Base class: caching, seeds, stats and validation. Subclasses set ``backend`` and implement
    ``identity()`` (what names the model in cache keys) and ``_run(units, emit)``."""

    backend = "base"

    def __init__(self, config: GeneratorConfig):
        self.config = config
        self.stats = {"requests": 0, "cache_hits": 0, "retries": 0, "failures": 0}
        self.cache = None
        if config.cache:
            self.cache = GenerationCache(default_generation_cache_path(config.cache_dir))

    # -- subclass hooks -------------------------------------------------------------------------

    @abc.abstractmethod
    def identity(self) -> dict:
        """Implemented by each subclass."""

    @abc.abstractmethod
    def _run(self, units: list[Unit], emit: Callable[[Unit, str], None]) -> list[tuple[Unit, str]]:
        """Generate every unit, calling ``emit(unit, text)`` as each finishes; return failures as
        ``[(unit, error message)]``. Raise for errors that doom every request (bad key, no model)."""

    # -- public ---------------------------------------------------------------------------------

    def describe(self) -> dict:
        """Plain-data provenance (what goes into candidates files and crome_training.json)."""
        c = self.config
        return {**self.identity(), "max_new_tokens": c.max_new_tokens, "temperature": c.temperature,
                "top_p": c.top_p, "seed": c.seed}

    def info(self) -> dict:
        """Same as :meth:`describe` (the name other adapters in the project use)."""
        return self.describe()

    def generate(self, conversations, *, n: int = 1, max_new_tokens: int | None = None,
                 temperature: float | None = None, seed: int | None = None,
                 top_p: float | None = None) -> list[list[str]]:
        """``n`` samples per conversation -> ``outputs[i][k]`` (stripped text)."""
        convs = check_conversations(conversations)
        if not isinstance(n, int) or n < 1:
            raise InputError(f"generate: n must be a positive integer, got {n!r}")
        c = self.config
        params = {"max_new_tokens": int(max_new_tokens or c.max_new_tokens),
                  "temperature": float(c.temperature if temperature is None else temperature),
                  "top_p": float(c.top_p if top_p is None else top_p)}
        if params["temperature"] < 0 or params["max_new_tokens"] < 1:
            raise InputError(f"generate: invalid sampling parameters {params}")
        base_seed = c.seed if seed is None else int(seed)
        ident = self.identity()
        units = []
        for i, msgs in enumerate(convs):
            for k in range(n):
                s = derive_seed(base_seed, k, msgs)
                request = {**ident, "messages": msgs, **params, "sample": k, "seed": s}
                units.append(Unit(i, k, msgs, params["max_new_tokens"], params["temperature"], params["top_p"],
                                  s, request, request_key(request)))
        results: dict[str, str] = {}
        if self.cache is not None:
            results.update(self.cache.get_many([u.key for u in units]))
        todo, seen = [], set()
        for u in units:
            if u.key in results:
                self.stats["cache_hits"] += 1
            elif u.key not in seen:  # identical requests (same conversation twice) are made once
                seen.add(u.key)
                todo.append(u)
        if todo:
            self._generate(todo, results)
        out = [[""] * n for _ in convs]
        for u in units:
            out[u.index][u.k] = results[u.key]
        return out

    def _generate(self, todo: list[Unit], results: dict[str, str]) -> None:
        bar = None
        if self.config.progress and len(todo) > 1:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(todo), desc=f"generate ({self.backend})", unit="sample", leave=False)

        lock = threading.Lock()

        def emit(unit: Unit, text: str) -> None:
            text = text.strip()
            if self.cache is not None:
                self.cache.put(unit.key, unit.request, text)
            with lock:
                results[unit.key] = text
                self.stats["requests"] += 1
                if bar is not None:
                    bar.update(1)

        try:
            failures = self._run(todo, emit)
        finally:
            if bar is not None:
                bar.close()
        if failures:
            self.stats["failures"] += len(failures)
            raise GenerationError(
                f"generator {self.identity().get('model')}: {len(failures)} of {len(todo)} requests failed "
                f"after retries; first: {redact_text(failures[0][1])} (finished samples are cached; re-run to resume)")

    def close(self) -> None:
        if self.cache is not None:
            self.cache.close()
            self.cache = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
