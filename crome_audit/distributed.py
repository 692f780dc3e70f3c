"""Data-parallel scoring under ``accelerate launch`` (or ``torchrun``): N processes, one RM copy each.

    accelerate launch --multi_gpu --num_processes 8 -m crome_audit run --rm ./my-rm --out reports/my-rm

Every process runs the same command on the same data, so every process builds the same list of texts.
:class:`DataParallelEngine` then splits the work:

1. rank 0 looks the unique texts up in the score cache and broadcasts what is missing (only rank 0 opens
   the SQLite file, so processes never contend for it and a multi-node run needs no shared disk);
2. the missing texts are sorted by length (characters, longest first) and dealt round-robin, so each rank
   scores a disjoint shard of about equal cost, in rounds of ``chunk_size`` texts per rank;
3. after each round the shards are gathered to every rank (``all_gather_object``); rank 0 writes the
   round into the cache (an interrupted run resumes from the last round) ;
4. every rank returns the full reward list, so the audit that follows is identical everywhere; only rank 0
   writes results.json, samples.jsonl and the report (see ``crome_audit.api``).

Scores do not depend on which batch a text lands in (right padding, last-token pooling), so N processes
give the same rewards as one. On GPUs each process uses ``cuda:LOCAL_RANK`` (set before the RM loads). On a
CPU-only machine ``accelerate launch --multi_gpu`` runs the processes on gloo (how the tests run it).
"""

from __future__ import annotations

import os

from .cache import text_key
from .engine import ScoringEngine
from .errors import CromeError


def launched_world_size() -> int:
    """Processes in this launch according to the launcher's environment (1 when not launched)."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        return 1


class ProcessGroup:
    """The launch's rank / world size and the two collectives the engine needs (via accelerate)."""

    def __init__(self):
        from accelerate import PartialState

        # PartialState initialises torch.distributed (nccl on GPUs, gloo on CPU) and, on GPUs, selects
        # cuda:LOCAL_RANK as the current device, so "cuda" means this process's GPU from here on
        self.state = PartialState()
        self.rank = self.state.process_index
        self.world = self.state.num_processes
        self.is_main = self.state.is_main_process

    def broadcast(self, obj):
        from accelerate.utils import broadcast_object_list

        return broadcast_object_list([obj], from_process=0)[0]

    def all_gather(self, obj) -> list:
        import torch.distributed as dist

        out = [None] * self.world
        dist.all_gather_object(out, obj)
        return out

    def barrier(self) -> None:
        self.state.wait_for_everyone()


def process_group() -> ProcessGroup | None:
    """The process group when launched with more than one process, else None."""
    return ProcessGroup() if launched_world_size() > 1 else None


class DataParallelEngine(ScoringEngine):
    """A :class:`ScoringEngine` whose new texts are scored by all processes (see module docstring). Give the
    cache to rank 0 only; other ranks get ``cache=None``."""

    def __init__(self, rm, group: ProcessGroup, cache=None, chunk_size: int = 2048, progress: bool = True):
        super().__init__(rm, cache=cache if group.is_main else None, chunk_size=chunk_size,
                         progress=progress and group.is_main)
        self.group = group
        self.stats["processes"] = group.world

    def score(self, prompts, responses, desc: str = "scoring") -> list[float]:
        if len(prompts) != len(responses):
            raise ValueError("prompts and responses differ in length")
        g = self.group
        keys = [text_key(p, r) for p, r in zip(prompts, responses)]
        first: dict[str, int] = {}
        for i, k in enumerate(keys):
            first.setdefault(k, i)
        known = {}
        if g.is_main and self.cache is not None:
            known = self.cache.get_many(self.rm.fingerprint, list(first))
        known = g.broadcast(known)  # every rank needs the cached rewards for the full list
        self.stats["requested"] += len(keys)
        self.stats["unique"] += len(first)
        self.stats["cache_hits"] += len(known)
        todo = [i for k, i in first.items() if k not in known]
        todo.sort(key=lambda i: (-len(str(prompts[i])) - len(responses[i]), i))
        per_round = max(1, self.chunk_size) * g.world
        cache, self.cache = self.cache, None  # shards are written by rank 0 after each gather
        try:
            for start in range(0, len(todo), per_round):
                mine = todo[start: start + per_round][g.rank::g.world]
                local_stats = dict(self.stats)
                try:
                    new = self._score_new([prompts[i] for i in mine], [responses[i] for i in mine],
                                          [keys[i] for i in mine], desc) if mine else {}
                    failure = None
                except CromeError as e:  # tell the other ranks, or they would wait in the gather forever
                    new, failure = {}, (type(e), str(e))
                self.stats = local_stats  # count the round once, globally, below
                parts = g.all_gather((new, failure))
                for _, fail in parts:
                    if fail is not None:
                        raise fail[0](fail[1])
                merged: dict[str, float] = {}
                for part, _ in parts:
                    merged.update(part)
                if cache is not None:
                    cache.put_many(self.rm.fingerprint, merged)
                known.update(merged)
                self.stats["scored"] += len(merged)
        finally:
            self.cache = cache
        return [known[k] for k in keys]
