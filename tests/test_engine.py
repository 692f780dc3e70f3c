"""Scoring engine + SQLite cache: dedupe, resume after an interruption, warm re-runs, NaN rejection."""

import math

import pytest

from crome_audit.cache import ScoreCache
from crome_audit.engine import ScoringEngine
from crome_audit.errors import InputError
from crome_audit.models import RewardModel, load_reward_model


class CountingRM(RewardModel):
    name = "counting"
    fingerprint = "counting-v1"
    default_batch_size = 2

    def __init__(self, fail_after=None, value=None):
        self.calls, self.seen, self.fail_after, self.value = 0, 0, fail_after, value

    def score(self, prompts, responses):
        self.calls += 1
        if self.fail_after is not None and self.seen >= self.fail_after:
            raise KeyboardInterrupt
        self.seen += len(responses)
        return [self.value if self.value is not None else float(len(r)) for r in responses]


def test_dedupe_and_order():
    rm = CountingRM()
    eng = ScoringEngine(rm, progress=False)
    out = eng.score(["p", "p", "q", "p"], ["aa", "aa", "aa", "b"])
    assert out == [2.0, 2.0, 2.0, 1.0]
    assert eng.stats == {"requested": 4, "unique": 3, "cache_hits": 0, "scored": 3}


def test_cache_resume_and_warm_rerun(tmp_path):
    prompts = [f"p{i}" for i in range(10)]
    responses = ["x" * i for i in range(10)]
    cache = ScoreCache(tmp_path / "c.sqlite")
    with pytest.raises(KeyboardInterrupt):
        ScoringEngine(CountingRM(fail_after=4), cache=cache, progress=False).score(prompts, responses)
    assert cache.count("counting-v1") == 4  # committed chunk by chunk
    rm = CountingRM()
    eng = ScoringEngine(rm, cache=ScoreCache(tmp_path / "c.sqlite"), progress=False)
    assert eng.score(prompts, responses) == [float(i) for i in range(10)]
    assert eng.stats["cache_hits"] == 4 and eng.stats["scored"] == 6
    warm_rm = CountingRM()
    warm = ScoringEngine(warm_rm, cache=ScoreCache(tmp_path / "c.sqlite"), progress=False)
    warm.score(prompts, responses)
    assert warm.stats["scored"] == 0 and warm_rm.calls == 0


def test_nan_reward_is_an_input_error():
    with pytest.raises(InputError, match="returned nan"):
        ScoringEngine(CountingRM(value=math.nan), progress=False).score(["p"], ["r"])


def test_hf_engine_batch_size_invariance_and_cache(tiny_decoder_rm, tmp_path):
    prompts = [f"question {i} " * (i % 7 + 1) for i in range(40)]
    responses = [f"answer {i} " * (i * 3 % 23 + 1) for i in range(40)]
    results = []
    for bs, tokens in [(1, 8192), (7, 8192), ("auto", 300), ("auto", 100000)]:
        rm = load_reward_model(tiny_decoder_rm, batch_size=bs, max_batch_tokens=tokens)
        results.append(ScoringEngine(rm, progress=False).score(prompts, responses))
    assert results[1] == results[0]  # batch size 1 vs 7 at the same --max-batch-tokens: bit-identical
    for other in results[2:]:  # other --max-batch-tokens: other forward shapes, only the last bits may move
        assert other == pytest.approx(results[0], abs=1e-5)
    cache = ScoreCache(tmp_path / "hf.sqlite")
    rm = load_reward_model(tiny_decoder_rm)
    ScoringEngine(rm, cache=cache, progress=False).score(prompts, responses)
    eng = ScoringEngine(load_reward_model(tiny_decoder_rm), cache=cache, progress=False)
    assert eng.score(prompts, responses) == pytest.approx(results[0], abs=1e-5)
    assert eng.stats["scored"] == 0


def test_user_rm_exception_names_the_users_frame(tmp_path):
    from crome_audit.errors import UserCodeError

    mod = tmp_path / "boom_rm.py"
    mod.write_text("def helper(r):\n    raise KeyError(r)\n\ndef score(p, r):\n    return [helper(x) for x in r]\n")
    engine = ScoringEngine(load_reward_model(f"py:{mod}:score"), progress=False)
    with pytest.raises(UserCodeError, match=r"raised KeyError: 'x' while scoring \(at .*boom_rm.py:2\)"):
        engine.score(["p"], ["x"])


def test_interrupt_in_user_rm_is_not_swallowed(tmp_path):
    mod = tmp_path / "ki_rm.py"
    mod.write_text("def score(p, r):\n    raise KeyboardInterrupt\n")
    with pytest.raises(KeyboardInterrupt):
        ScoringEngine(load_reward_model(f"py:{mod}:score"), progress=False).score(["p"], ["x"])


@pytest.mark.parametrize("which", ["tiny_encoder_rm", "tiny_decoder_rm"])
def test_results_do_not_depend_on_batch_size(which, request, tmp_path):
    """Issue 11 defect 5: with dynamic padding 483/703 BERT and 538/703 Llama rewards differed between
    --batch-size auto and 3 (fails on that code: `--rm-arg batch_invariant=false`); fixed-shape forwards make
    every number of results.json identical, with the cache off so both runs really score."""
    import json

    from click.testing import CliRunner

    from crome_audit.cli import main

    rm = request.getfixturevalue(which)
    probes = []
    for bs in ("auto", "3"):
        out = tmp_path / bs
        res = CliRunner().invoke(main, ["run", "-q", "--rm", rm, "--limit", "20", "--no-cache", "--no-report",
                                        "--max-length", "128", "--batch-size", bs, "-o", str(out)])
        assert res.exit_code == 0, res.output
        probes.append(json.loads((out / "results.json").read_text())["probes"])
    assert probes[0] == probes[1]


def _open_cache(path, barrier):
    from crome_audit.cache import ScoreCache

    barrier.wait()
    cache = ScoreCache(path)
    cache.put_many("m", {"k": 1.0})
    cache.close()


def test_processes_opening_a_new_cache_at_once_all_succeed(tmp_path):
    """Data-parallel ranks open the same new cache together. The 2-process scoring test once failed at cache
    open with 'database is locked' (SQLite does not always apply its busy timeout to the WAL switch); opening
    now retries a locked database. With 12 processes this case fails on the old code."""
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    for round_ in range(10):
        path = tmp_path / f"c{round_}.sqlite"
        barrier = ctx.Barrier(12)
        procs = [ctx.Process(target=_open_cache, args=(str(path), barrier)) for _ in range(12)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
        assert [p.exitcode for p in procs] == [0] * 12
