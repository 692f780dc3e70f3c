"""Data-parallel scoring under ``accelerate launch`` (or ``torchrun``): N processes, one RM copy each.

    accelerate launch --multi_gpu --num_processes 8 -m crome_audit run --rm ./my-rm --out reports/my-rm

Every process runs the same command on the same data, so every process builds the same list of texts and
runs the unchanged :class:`~crome_audit.engine.ScoringEngine` logic over it (dedupe, length sort, chunks).
:class:`DataParallelEngine` changes two things:

1. the score cache: rank 0 reads the SQLite file and broadcasts what it holds; only rank 0 writes (after
   every chunk, so an interrupted run resumes), so processes never contend for the file and a multi-node run
   needs no shared disk;
2. the forward passes: the RM is wrapped in :class:`ShardedRM`. For adapters that plan their batches
   (``plan_batches`` + ``score_batch``: the Hugging Face and DPO adapters) rank 0 plans each chunk exactly as
   one process would, broadcasts the plan, and rank r runs batches r, r+N, r+2N, ... (longest first, so the
   shares cost about the same). The rewards are gathered to every rank (``all_gather_object``). The same
   batches means the same kernels: the rewards are bitwise those of one process. Other adapters (``py:``,
   served RMs) get a round-robin share of each chunk's texts.

Every rank returns the full reward list, so the audit that follows is identical everywhere; only rank 0 writes
results.json, samples.jsonl and the report (``crome_audit.api``). On GPUs each process uses
``cuda:LOCAL_RANK`` (selected before the RM loads). On a CPU-only machine ``accelerate launch --multi_gpu``
runs the processes on gloo (how the tests run it).
"""

from __future__ import annotations

import os

from .engine import ScoringEngine
from .errors import CromeError


def launched_world_size() -> int:
    """Processes in this launch according to the launcher's environment (1 when not launched)."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        return 1


class ProcessGroup:
    """The launch's rank / world size and the collectives the engine needs."""

    def __init__(self):
        import torch
        from accelerate import PartialState

        # PartialState initialises torch.distributed (nccl on GPUs, gloo on CPU) and, on GPUs, selects
        # cuda:LOCAL_RANK as the current device, so "cuda" means this process's GPU from here on. Without
        # GPUs it must be told cpu=True, or it reports one process although the launcher started several.
        self.state = PartialState(cpu=not torch.cuda.is_available())
        self.rank = self.state.process_index
        self.world = self.state.num_processes
        self.is_main = self.state.is_main_process

    def broadcast(self, obj):
        import torch.distributed as dist

        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def all_gather(self, obj) -> list:
        import torch.distributed as dist

        out = [None] * self.world
        dist.all_gather_object(out, obj)
        return out

    def merge(self, local: dict, failure) -> dict:
        """Union of every rank's ``local`` results; a rank's error is raised on every rank (none hangs)."""
        parts = self.all_gather((local, failure))
        for _, fail in parts:
            if fail is not None:
                raise fail[0](fail[1])
        merged: dict = {}
        for part, _ in parts:
            merged.update(part)
        return merged


def process_group() -> ProcessGroup | None:
    """The process group when launched with more than one process, else None."""
    return ProcessGroup() if launched_world_size() > 1 else None


def _guarded(fn):
    """Run ``fn()``; return (result, None) or ({}, (type, message)) for our typed errors."""
    try:
        return fn(), None
    except CromeError as e:  # tell the other ranks, or they would wait in the gather forever
        return {}, (type(e), str(e))


class ShardedRM:
    """A reward model whose forward passes are shared out over the process group (see module docstring).
    Everything else (name, fingerprint, info, encode) is the wrapped RM's."""

    def __init__(self, rm, group: ProcessGroup):
        self.rm = rm
        self.group = group

    def __getattr__(self, name):
        return getattr(self.rm, name)

    def score_encoded(self, items) -> list[float]:
        g, rm = self.group, self.rm
        if not hasattr(rm, "plan_batches"):
            mine = list(range(g.rank, len(items), g.world))
            local, fail = _guarded(lambda: dict(zip(mine, rm.score_encoded([items[i] for i in mine]) if mine else [])))
            merged = g.merge(local, fail)
            return [merged[i] for i in range(len(items))]
        # one plan for all (an OOM back-off on one rank must not change the others' plans)
        plan = g.broadcast(rm.plan_batches(items) if g.is_main else None)
        batches, rep = plan

        def run():
            out = {}
            for batch in batches[g.rank::g.world]:
                out.update(zip(batch, rm.score_batch([items[i] for i in batch])))
            return out

        merged = g.merge(*_guarded(run))
        return [merged[rep[i]] for i in range(len(items))]

    def score(self, prompts, responses) -> list[float]:
        g = self.group
        mine = list(range(g.rank, len(responses), g.world))
        local, fail = _guarded(lambda: dict(zip(mine, self.rm.score([prompts[i] for i in mine],
                                                                    [responses[i] for i in mine]) if mine else [])))
        merged = g.merge(local, fail)
        return [merged[i] for i in range(len(responses))]


class _RankZeroCache:
    """The score cache as every rank sees it: rank 0's lookups, broadcast; writes reach the file on rank 0."""

    def __init__(self, cache, group: ProcessGroup):
        self.cache = cache if group.is_main else None
        self.group = group

    def get_many(self, model: str, keys: list[str]) -> dict[str, float]:
        found = self.cache.get_many(model, keys) if self.cache is not None else None
        return self.group.broadcast(found)

    def put_many(self, model: str, items: dict[str, float]) -> None:
        if self.cache is not None:
            self.cache.put_many(model, items)

    def close(self) -> None:
        if self.cache is not None:
            self.cache.close()


class DataParallelEngine(ScoringEngine):
    """A :class:`ScoringEngine` for one process of a launch (see module docstring). ``cache``: rank 0's
    ScoreCache (None on the other ranks, or for no cache at all: then pass None on rank 0 too)."""

    def __init__(self, rm, group: ProcessGroup, cache=None, chunk_size: int = 2048, progress: bool = True):
        # whether a cache is used must be the same on every rank: rank 0 decides
        use_cache = group.broadcast(cache is not None if group.is_main else None)
        shared = _RankZeroCache(cache, group) if use_cache else None
        super().__init__(ShardedRM(rm, group), cache=shared, chunk_size=chunk_size,
                         progress=progress and group.is_main)
        self.group = group
        self.stats["processes"] = group.world
