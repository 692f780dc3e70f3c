"""Scoring engine: dedupe -> cache lookup -> length-sorted token-budget batches -> cache write.

    engine = ScoringEngine(load_reward_model("length"), cache=ScoreCache("scores.sqlite"))
    rewards = engine.score(prompts, responses)
    engine.stats  # {"requested", "unique", "cache_hits", "scored"}

Scores do not depend on batch size (each text is scored alone in the sense of padding and pooling).
NaN/inf rewards are an input error: they would silently poison every statistic downstream.
"""

from __future__ import annotations

import math

from .cache import ScoreCache, text_key
from .errors import InputError
from .models import RewardModel


class ScoringEngine:
    def __init__(self, rm: RewardModel, cache: ScoreCache | None = None, chunk_size: int = 2048,
                 progress: bool = True):
        self.rm = rm
        self.cache = cache
        self.chunk_size = chunk_size
        self.progress = progress
        self.stats = {"requested": 0, "unique": 0, "cache_hits": 0, "scored": 0}

    def score(self, prompts, responses, desc: str = "scoring") -> list[float]:
        if len(prompts) != len(responses):
            raise ValueError("prompts and responses differ in length")
        keys = [text_key(p, r) for p, r in zip(prompts, responses)]
        first: dict[str, int] = {}
        for i, k in enumerate(keys):
            first.setdefault(k, i)
        self.stats["requested"] += len(keys)
        self.stats["unique"] += len(first)
        known = self.cache.get_many(self.rm.fingerprint, list(first)) if self.cache else {}
        self.stats["cache_hits"] += len(known)
        todo = [i for k, i in first.items() if k not in known]
        if todo:
            known.update(self._score_new([prompts[i] for i in todo], [responses[i] for i in todo],
                                         [keys[i] for i in todo], desc))
        return [known[k] for k in keys]

    def _score_new(self, prompts, responses, keys, desc) -> dict[str, float]:
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
                rewards = self.rm.score([prompts[i] for i in idx], [responses[i] for i in idx])
            new = {}
            for i, r in zip(idx, rewards):
                if not math.isfinite(r):
                    raise InputError(f"reward model '{self.rm.name}' returned {r} for response {i} of this batch "
                                     f"(prompt starts {str(prompts[i])[:40]!r})")
                new[keys[i]] = r
            if self.cache:
                self.cache.put_many(self.rm.fingerprint, new)  # committed per chunk: an interrupt resumes here
            out.update(new)
            self.stats["scored"] += len(idx)
            bar.update(len(idx))
        bar.close()
        return out
