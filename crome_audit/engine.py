"""Scoring engine: dedupe -> cache lookup -> length-sorted token-budget batches -> cache write.

    engine = ScoringEngine(load_reward_model("length"), cache=ScoreCache("scores.sqlite"))
    rewards = engine.score(prompts, responses)
    engine.stats  # {"requested", "unique", "cache_hits", "scored"}

Scores do not depend on batch size (each text is scored alone in the sense of padding and pooling).
NaN/inf rewards are an input error: they would silently poison every statistic downstream; a non-finite
value found in the cache is treated as missing, so it is scored again and meets the same check. So are
rewards beyond ±1e100 (MAX_ABS_REWARD): finite, but their differences and variances overflow to inf/NaN.

A ``py:`` RM is the user's code: whatever it raises (an exception, ``sys.exit``) comes out as one
:class:`UserCodeError` line with the exception's type, message and the user's frame (file:line).
"""

from __future__ import annotations

import inspect
import json
import math
import os
import sysconfig
import traceback

from .cache import ScoreCache, text_key
from .errors import CromeError, InputError, UserCodeError
from .models import RewardModel

MAX_ABS_REWARD = 1e100  # beyond it, a difference or a variance of rewards overflows to inf/NaN
PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
STDLIB_DIR = os.path.abspath(sysconfig.get_paths()["stdlib"])


def user_function(rm):
    """The user's callable behind a ``py:`` RM, else None (duck-typed: adapters keep it as ``func``)."""
    func = getattr(rm, "func", None)
    return func if callable(func) and str(getattr(rm, "name", "")).startswith("py:") else None


def check_user_function(rm) -> None:
    """A ``py:`` RM must take (prompts, responses): say so before any work, not as a TypeError mid-run."""
    func = user_function(rm)
    if func is None:
        return
    try:
        inspect.signature(func).bind([], [])
    except TypeError:
        raise UserCodeError(f"--rm {rm.name}: {getattr(func, '__name__', 'the function')}{_signature(func)} "
                            "must accept two arguments (prompts, responses)") from None
    except ValueError:  # builtins without a signature: nothing to check
        pass


def _signature(func) -> str:
    try:
        return str(inspect.signature(func))
    except (TypeError, ValueError):
        return "(...)"


def user_frame(exc: BaseException, func=None) -> str:
    """``file:line`` of the deepest traceback frame in the user's file (else the deepest outside this package)."""
    frames = traceback.extract_tb(exc.__traceback__)
    try:
        user_file = os.path.abspath(inspect.getsourcefile(func)) if func is not None else None
    except TypeError:
        user_file = None
    mine = [f for f in frames if user_file and os.path.abspath(f.filename) == user_file]
    outside = [f for f in frames if not f.filename.startswith("<")  # "<frozen importlib...>": Python's own
               and not os.path.abspath(f.filename).startswith((PACKAGE_DIR + os.sep, STDLIB_DIR + os.sep))]
    pick = (mine or outside or [None])[-1]
    return f"{pick.filename}:{pick.lineno}" if pick is not None else "?"


def describe_user_error(spec: str, exc: BaseException, func=None, when: str = "while scoring") -> str:
    if isinstance(exc, SystemExit):
        what = f"called sys.exit({exc.code!r})"
    else:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        what = f"raised {type(exc).__name__}" + (f": {msg}" if msg else "")
    return f"--rm {spec}: {what} {when} (at {user_frame(exc, func)})"


class ScoringEngine:
    def __init__(self, rm: RewardModel, cache: ScoreCache | None = None, chunk_size: int = 2048,
                 progress: bool = True):
        self.rm = rm
        self.cache = cache
        self.chunk_size = chunk_size
        self.progress = progress
        self.stats = {"requested": 0, "unique": 0, "cache_hits": 0, "scored": 0}
        check_user_function(rm)

    def score(self, prompts, responses, desc: str = "scoring") -> list[float]:
        if len(prompts) != len(responses):
            raise ValueError("prompts and responses differ in length")
        # without a cache the keys only deduplicate: (prompt, response) itself, hashed by Python, is the same
        # equality as the cache's sha256 of their JSON and ~20x cheaper (it was a third of a million-pair audit)
        keys = ([text_key(p, r) for p, r in zip(prompts, responses)] if self.cache is not None else
                [(p if isinstance(p, str) else json.dumps(p, ensure_ascii=False), r) for p, r in zip(prompts, responses)])
        first: dict[str, int] = {}
        for i, k in enumerate(keys):
            first.setdefault(k, i)
        self.stats["requested"] += len(keys)
        self.stats["unique"] += len(first)
        known = self.cache.get_many(self.rm.fingerprint, list(first)) if self.cache else {}
        known = {k: v for k, v in known.items() if isinstance(v, (int, float)) and math.isfinite(v)}
        self.stats["cache_hits"] += len(known)
        todo = [i for k, i in first.items() if k not in known]
        if todo:
            known.update(self._score_new([prompts[i] for i in todo], [responses[i] for i in todo],
                                         [keys[i] for i in todo], desc))
        return [known[k] for k in keys]

    def _score_new(self, prompts, responses, keys, desc) -> dict:
        from tqdm.auto import tqdm

        n = len(keys)
        encode = getattr(self.rm, "encode", None)
        if encode is not None:  # tokenize once, sort all texts by length, chunk in that order
            encoded = encode(prompts, responses)
            order = sorted(range(n), key=lambda i: -len(encoded[i].input_ids))
        else:
            order = list(range(n))
        chunk = self.chunk_size if encode is not None else max(1, self.rm.default_batch_size)
        out: dict[str, float] = {}
        bar = tqdm(total=n, desc=f"{desc} ({self.rm.name})", unit="text", disable=not self.progress, leave=False)
        for start in range(0, n, chunk):
            idx = order[start : start + chunk]
            if encode is not None:
                rewards = self.rm.score_encoded([encoded[i] for i in idx])
            else:
                rewards = self._score_plain([prompts[i] for i in idx], [responses[i] for i in idx])
            new = {}
            for i, r in zip(idx, rewards):
                if not math.isfinite(r):
                    raise InputError(f"reward model '{self.rm.name}' returned {r} for response {i} of this batch "
                                     f"(prompt starts {str(prompts[i])[:40]!r})")
                if abs(r) > MAX_ABS_REWARD:
                    raise InputError(f"reward model '{self.rm.name}' returned {r:.3g} for response {i} of this batch "
                                     f"(prompt starts {str(prompts[i])[:40]!r}): beyond ±{MAX_ABS_REWARD:g}, where "
                                     "differences and variances overflow; rescale the rewards")
                new[keys[i]] = r
            if self.cache:
                self.cache.put_many(self.rm.fingerprint, new)  # committed per chunk: an interrupt resumes here
            out.update(new)
            self.stats["scored"] += len(idx)
            bar.update(len(idx))
        bar.close()
        return out

    def _score_plain(self, prompts, responses) -> list[float]:
        func = user_function(self.rm)
        if func is None:
            return self.rm.score(prompts, responses)
        try:
            return self.rm.score(prompts, responses)
        except CromeError:
            raise
        except (Exception, SystemExit) as e:  # the user's code: exit 2 with where it failed, not exit 0/3
            raise UserCodeError(describe_user_error(self.rm.name, e, func)) from None
