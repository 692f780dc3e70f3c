"""Records that need not all be in memory: a spill file for large audits, lazy column views, and classes of
equal texts kept as hashes (no dict of strings).

    from crome_audit.record_store import SpilledRecords, MappedSequence, TextClasses
    store = SpilledRecords()            # an unnamed temporary file: gone when closed, or when the process dies
    store.extend(records)               # JSON lines + one int64 offset per record (8 bytes a record in memory)
    store[12], store[100:200]           # read back by index or by range (one read for a range)
    prompts = MappedSequence(store, lambda r: r["prompt"])   # a column, computed on access, never listed
    ids = TextClasses(prompts).first_appearance_ids()        # 0, 1, ... in order of first appearance

Why: at a million pairs the normalised records as Python dicts are ~1.8 KB a pair (1.8 GB), most of an
audit's memory. ``crome_audit.data.load_records`` keeps records in a list up to ``SPILL_AFTER`` of them and
moves them to a :class:`SpilledRecords` beyond that; the audit reads them a chunk at a time. Values that JSON
cannot hold (a parquet timestamp in an extra column) are stored as their ``str``; the audit reads only id,
prompt and the responses, which are JSON types.
"""

from __future__ import annotations

import bisect
import json
import os
import tempfile
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np

SPILL_AFTER = 50_000  # records kept as a list up to this many (~90 MB); beyond, in a spill file
_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)
_READ_BLOCK = 1 << 22  # bytes read at a time when iterating (~4,000 records of 1 KB)


class SpilledRecords(Sequence):
    """A read-mostly sequence of dict records held in an unnamed temporary file (JSON lines)."""

    def __init__(self, dir: str | None = None):
        self._file = tempfile.TemporaryFile(dir=dir)  # unlinked at once: no file is left behind, even by kill -9
        self._fd = self._file.fileno()
        self._offsets = array("q", [0])  # record i is bytes [offsets[i], offsets[i+1])

    def append(self, record: dict) -> None:
        line = (_ENCODER.encode(record) + "\n").encode("utf-8")
        self._file.write(line)
        self._offsets.append(self._offsets[-1] + len(line))

    def extend(self, records: Iterable[dict]) -> None:
        for r in records:
            self.append(r)

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def _read(self, start: int, stop: int) -> list[dict]:
        self._file.flush()
        lo, hi = self._offsets[start], self._offsets[stop]
        raw = os.pread(self._fd, hi - lo, lo)
        return [json.loads(line) for line in raw.split(b"\n")[:-1]]

    def __getitem__(self, index):
        n = len(self)
        if isinstance(index, slice):
            start, stop, step = index.indices(n)
            if step != 1:
                return [self[i] for i in range(start, stop, step)]
            return self._read(start, stop) if stop > start else []
        i = index + n if index < 0 else index
        if not 0 <= i < n:
            raise IndexError("record index out of range")
        return self._read(i, i + 1)[0]

    def __iter__(self) -> Iterator[dict]:
        n, i = len(self), 0
        while i < n:  # as many whole records as fit in one block (at least one)
            j = min(n, max(i + 1, bisect.bisect_right(self._offsets, self._offsets[i] + _READ_BLOCK) - 1))
            yield from self._read(i, j)
            i = j

    def close(self) -> None:
        self._file.close()

    def __del__(self):
        try:
            self._file.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown: the OS removes the unlinked file anyway
            pass


class MappedSequence(Sequence):
    """``fn`` applied to each item of ``items``, computed when read: a column of records without a list."""

    def __init__(self, items: Sequence, fn: Callable):
        self.items, self.fn = items, fn

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self.fn(x) for x in self.items[index]]
        return self.fn(self.items[index])

    def __iter__(self) -> Iterator:
        return (self.fn(x) for x in self.items)


class TextClasses:
    """Which texts of a sequence are equal: an int class per text, and the class of any text (-1: not in it).
    Exact (hash buckets are checked by comparing the texts), ~24 bytes a text instead of a dict of strings;
    the texts are read once in order, and again by index only where two share a hash."""

    def __init__(self, texts: Sequence[str]):
        self.texts = texts
        n = len(texts)
        h = np.fromiter((hash(t) for t in texts), dtype=np.int64, count=n)
        self.order = np.argsort(h, kind="stable")
        self.hashes = h[self.order]
        self.cls = np.empty(n, dtype=np.int64)
        # bucket boundaries: runs of equal hashes in sorted order
        cut = np.flatnonzero(np.diff(self.hashes)) + 1
        starts = np.concatenate([[0], cut]).astype(np.int64) if n else np.zeros(0, dtype=np.int64)
        ends = np.concatenate([cut, [n]]).astype(np.int64) if n else np.zeros(0, dtype=np.int64)
        # a text's class is its bucket's number; texts in a bucket of 2+ (equal texts, or a hash collision) are
        # compared, and a second distinct text in one bucket (a collision: rare) gets a number after all buckets
        self.cls[self.order] = np.repeat(np.arange(len(starts), dtype=np.int64), ends - starts)
        n_classes = len(starts)
        for b in np.flatnonzero((ends - starts) > 1):
            reps: list[tuple[int, str]] = []  # (class, text) met in this bucket
            for pos in self.order[starts[b] : ends[b]]:
                t = texts[int(pos)]
                c = next((c for c, rep in reps if rep == t), None)
                if c is None:
                    c = int(b) if not reps else n_classes
                    n_classes += 1 if reps else 0
                    reps.append((c, t))
                self.cls[pos] = c
        self.n_classes = n_classes

    def of(self, text: str) -> int:
        h = hash(text)
        lo = int(self.hashes.searchsorted(h, side="left"))
        hi = int(self.hashes.searchsorted(h, side="right"))
        for pos in self.order[lo:hi]:
            if self.texts[int(pos)] == text:
                return int(self.cls[pos])
        return -1

    def first_appearance_ids(self) -> np.ndarray:
        """Class ids renumbered 0, 1, ... in order of each class's first text (== a dict's setdefault order)."""
        n = len(self.cls)
        first = np.full(self.n_classes, n, dtype=np.int64)
        np.minimum.at(first, self.cls, np.arange(n, dtype=np.int64))
        rank = np.empty(self.n_classes, dtype=np.int64)
        rank[np.argsort(first, kind="stable")] = np.arange(self.n_classes, dtype=np.int64)
        return rank[self.cls]
