"""Audits at scale (issue 11 defect 4): chunking changes no number, samples are streamed, and what the audit
keeps per pair is a few numbers, not texts. Sized for CI (seconds); the timings are in benchmarks/RESULTS.md
(benchmarks/bench_scaling.py), never asserted here.
"""

import io
import json
import tracemalloc

import numpy as np
import pytest

from crome_audit.audit import run_audit
from crome_audit.data import default_data_path, load_records
from crome_audit.engine import ScoringEngine
from crome_audit.metrics import CHOSEN, REJECTED, ProbeEdits, _both_sides
from crome_audit.models import load_reward_model
from crome_audit.probes import load_suite
from crome_audit.stats import Resampler, Units


def _generated(n: int) -> list[dict]:
    """The bundled real pairs repeated with a distinct prompt per copy (as benchmarks/bench_scaling.py does);
    each copy gets its own string objects, as records read from a file would."""
    sample, _, _ = load_records(default_data_path())
    out = []
    for i in range(n):
        r = sample[i % len(sample)]
        prompt = r["prompt"] if isinstance(r["prompt"], str) else json.dumps(r["prompt"])
        out.append({"id": f"g{i}", "prompt": f"{prompt} (#{i})", "chosen": "".join(list(r["chosen"])),
                    "rejected": "".join(list(r["rejected"]))})
    return out


def _numbers(out) -> dict:
    return json.loads(json.dumps({"probes": out.probes, "summary": out.summary, "clean": out.clean,
                                  "reference": out.reference, "examples": out.examples}))


@pytest.mark.parametrize("rm", ["noise", "length"])
def test_chunk_size_changes_no_number(shared_data, rm):
    """Real RewardBench rows (prompts shared across subsets, so clusters span chunks) in chunks of 37 records
    and in one chunk: every probe row, index, CI, reference and example is equal, and samples hold the same
    rows (grouped by chunk instead of by probe)."""
    records, _, kind = load_records(str(shared_data / "rewardbench" / "filtered.jsonl"))
    records = records[::5]  # ~600 pairs from every subset
    suite = load_suite("default")
    runs = {}
    for chunk in (37, 100_000):
        rows: list[dict] = []
        out = run_audit(records, suite, ScoringEngine(load_reward_model(rm), progress=False), seed=0, kind=kind,
                        samples=rows, chunk_size=chunk, max_examples=5)
        runs[chunk] = (_numbers(out), rows)
    (one, rows_one), (many, rows_many) = runs[100_000], runs[37]
    assert many == one
    assert any(one["examples"].values())  # the bounded examples were compared, not two empty lists
    key = lambda r: json.dumps(r, sort_keys=True)  # noqa: E731
    assert sorted(map(key, rows_many)) == sorted(map(key, rows_one))
    n = len(records)
    assert [r["probe"] for r in rows_one[: 2 * n]] == [None] * (2 * n)  # one chunk: clean rows first
    assert rows_many[2 * 37]["probe"] is not None  # chunked: the first chunk's edits follow its clean rows


class _Sink(io.StringIO):
    """A samples file that notes the traced memory at each chunk's write."""

    def __init__(self):
        super().__init__()
        self.memory: list[int] = []
        self.rows = 0

    def write(self, text: str) -> int:
        self.memory.append(tracemalloc.get_traced_memory()[0])
        self.rows += text.count("\n")
        return len(text)  # not kept: a real file holds them, not memory


def test_audit_keeps_numbers_not_texts():
    """1,200 generated pairs in chunks of 100 (quick suite): samples are written chunk by chunk (12 writes),
    and the memory held from the 1st to the 11th write (same parity: the working set of a chunk alternates)
    grows by the per-edit numbers only, ~0.3 KB a pair (measured). Keeping the texts or sample rows of each
    chunk, as the audit did before (24 KB a pair), would add 5 KB a pair or more; the bound is 2 KB."""
    records = _generated(1200)
    sink = _Sink()
    tracemalloc.start()
    try:
        out = run_audit(records, load_suite("quick"), ScoringEngine(load_reward_model("length"), progress=False),
                        samples=sink, chunk_size=100, max_examples=5)
    finally:
        tracemalloc.stop()
    assert len(sink.memory) == 12
    assert sink.rows == 2 * 1200 + sum(p["n"] for p in out.probes)
    growth = sink.memory[-2] - sink.memory[0]
    assert growth < 1000 * 2048, f"{growth / 1000:.0f} bytes kept per pair"


def test_both_sides_matches_the_dict_definition():
    """The vectorised pairing of a probe's chosen and rejected edits equals the dict-based one it replaced
    (last chosen edit of a record wins; order of the rejected edits), on unsorted record ids."""
    rng = np.random.default_rng(0)
    rid = rng.integers(0, 50, 300)
    side = rng.integers(0, 2, 300)
    pe = ProbeEdits(meta={"name": "x", "kind": "spurious"}, rid=rid, side=side, template=rng.integers(-1, 3, 300),
                    delta_tokens=np.zeros(300))
    new = rng.normal(size=300)
    c = {int(r): i for i, (r, s) in enumerate(zip(rid, side)) if s == CHOSEN}
    pairs = [(c[int(r)], i) for i, (r, s) in enumerate(zip(rid, side)) if s == REJECTED and int(r) in c]
    ci, ri = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    got = _both_sides(pe, new)
    for a, b in zip(got, (rid[ci], new[ci], new[ri], pe.template[ci], pe.template[ri])):
        assert np.array_equal(a, b)


def test_bincount_ratio_equals_add_at():
    """Resampler.ratio's per-block sums (np.bincount) are bit-identical to the np.add.at sums it replaced."""
    rng = np.random.default_rng(2)
    n = 5000
    units = Units(rng.normal(size=n), rng.integers(0, 6000, n), rng.integers(-1, 4, n), rng.integers(-1, 4, n))
    rs = Resampler(6000, seed=1)
    tw = rs.template_weights("p", 4)
    _, boot = rs.ratio(units, tw)
    # the replaced computation, inline
    t1, t2 = np.where(units.t1 < 0, 0, units.t1 + 1), np.where(units.t2 < 0, 0, units.t2 + 1)
    k = 25
    sums, counts = np.zeros((rs.n_blocks, k)), np.zeros((rs.n_blocks, k))
    blocks = rs.block_of[units.clusters]
    np.add.at(sums, (blocks, t1 * 5 + t2), units.values)
    np.add.at(counts, (blocks, t1 * 5 + t2), 1.0)
    used = np.flatnonzero(counts.sum(axis=0))
    full = np.concatenate([np.ones((rs.n_boot, 1)), tw], axis=1)
    w = full[:, used // 5] * full[:, used % 5]
    ws, wn = (rs.weights @ sums[:, used]) * w, (rs.weights @ counts[:, used]) * w
    assert np.array_equal(boot, ws.sum(axis=1) / wn.sum(axis=1))


def test_stale_staging_of_a_killed_run_is_removed(tmp_path):
    """samples.jsonl is streamed into OUT/.staging-PID-*; one left by a dead process (kill -9 of a large audit:
    gigabytes) is removed by the next output set on OUT, one of a live process is left alone."""
    import os
    import subprocess
    import sys

    from crome_audit.outputs import OutputSet

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    out = tmp_path / "out"
    stale, live = out / f".staging-{int(dead.stdout)}-x1", out / f".staging-{os.getppid()}-x2"
    for d in (stale, live):
        d.mkdir(parents=True)
        (d / "samples.jsonl").write_text("{}\n")
    with OutputSet(out, ("results.json",)) as staging:
        assert staging.name.startswith(f".staging-{os.getpid()}-")
        (staging / "results.json").write_text("{}")
    assert not stale.exists() and live.is_dir() and (out / "results.json").is_file()


def test_spilled_records_give_the_same_numbers(shared_data, tmp_path):
    """Real RewardBench rows loaded past the spill threshold (so they live in a temporary file, read back a
    chunk at a time; prompts shared across subsets exercise the hash classes' text comparisons): every
    number, example and sample row equals the in-memory list's, in chunks that cut prompt clusters."""
    from crome_audit.record_store import SpilledRecords

    path = str(shared_data / "rewardbench" / "filtered.jsonl")
    listed, _, kind = load_records(path, spill_after=10**9)
    spilled, info, _ = load_records(path, spill_after=100)
    assert isinstance(listed, list) and isinstance(spilled, SpilledRecords)
    assert info["n"] == len(spilled) == len(listed) and list(spilled) == listed
    assert spilled[-1] == listed[-1] and spilled[7:9] == listed[7:9]
    small = SpilledRecords()
    small.extend(listed[::6])
    runs = []
    for records in (listed[::6], small):
        rows: list[dict] = []
        out = run_audit(records, load_suite("default"), ScoringEngine(load_reward_model("noise"), progress=False),
                        seed=0, kind=kind, samples=rows, chunk_size=53, max_examples=5)
        runs.append((_numbers(out), rows))
    assert runs[0] == runs[1]
    assert any(p["name"] == "irrelevant_answer" and p["n"] > 0 for p in runs[0][0]["probes"])


def test_loading_a_large_file_streams_it(tmp_path):
    """20,000 generated pairs (~20 MB of JSON lines, ~36 MB as dicts) load into a spill file with a traced
    peak of a few MB: neither the raw rows nor the records are all held (the list did: ~1.8 KB a pair)."""
    path = tmp_path / "pairs.jsonl"
    with open(path, "w") as f:
        for r in _generated(20_000):
            f.write(json.dumps(r) + "\n")
    tracemalloc.start()
    try:
        records, info, _ = load_records(str(path), spill_after=1000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(records) == info["n"] == 20_000 and records[12_345]["id"] == "g12345"
    assert peak < 20_000 * 300, f"{peak / 20_000:.0f} bytes a pair at the peak"


def test_text_classes_are_exact_under_hash_collisions():
    """Equal texts share a class and different texts never do, also when their hashes collide (CPython:
    hash(-1) == hash(-2)); first-appearance ids number classes as a dict's setdefault would."""
    from crome_audit.record_store import TextClasses

    assert hash(-1) == hash(-2)
    items = [-1, -2, 7, -1, 7, -2, 3]
    tc = TextClasses(items)
    ids = tc.first_appearance_ids()
    seen: dict = {}
    assert list(ids) == [seen.setdefault(x, len(seen)) for x in items]
    assert tc.of(-2) == tc.cls[1] != tc.of(-1) and tc.of(-3) == -1 and tc.of(99) == -1
    assert len(TextClasses([]).first_appearance_ids()) == 0
