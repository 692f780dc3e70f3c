"""The library API: what the CLI does, as functions returning the plain-data results it writes.

    from crome_audit import audit, load_rm, run_benchmark, render_report

    results = audit("./my-rm", "pairs.jsonl", suite="quick", out="reports/my-rm")   # == crome-audit run
    results["summary"]["spurious_index"], results["clean"]["pairwise_accuracy"]

    rm = load_rm("dpo:./policy,./ref", dtype="bf16")          # any adapter: hf:, vllm:, judge:, dpo:, py:, length
    rb = run_benchmark("rewardbench", rm, data="filtered.jsonl")      # == crome-audit bench rewardbench
    rb["benchmarks"]["rewardbench"]["score"]
    render_report([results, rb], "compare.html")                     # == crome-audit report
    shortcuts = audit_data("pairs.jsonl", out="reports/data")        # == crome-audit data (no model)
    shortcuts["shallow"]["auc"], shortcuts["features"]["length"]["auc"]

``audit`` and ``run_benchmark`` take a spec string (options as keyword arguments, ``rm_args`` for the
``--rm-arg`` mapping), a loaded reward model, or a ScoringEngine. The returned dict is exactly the
results.json the CLI writes (strict JSON: NaN -> None); with ``out`` the files are written too
(results.json, samples.jsonl, report.html). Under ``accelerate launch`` with several processes the scoring
is data-parallel (:mod:`crome_audit.distributed`), every process returns the same results and only rank 0
writes files.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path

from .errors import InputError

__all__ = ["audit", "audit_data", "load_rm", "render_report", "run_benchmark", "scoring_engine", "training_record"]


def load_rm(spec: str, rm_args: dict | None = None, **options):
    """A reward model from a spec (``crome-audit rms`` lists the adapters and their options)."""
    from .models import load_rm as _load

    return _load(spec, rm_args, **options)


def scoring_engine(rm, *, cache=True, progress: bool = False, chunk_size: int = 2048):
    """Wrap a reward model (or spec) in the engine the CLI uses.

    ``cache``: True (the default SQLite file), False/None (none), a path, or a ScoreCache. Adapters that set
    ``score_cache = False`` (LLM judges: their replies are cached per request already) get none. When launched
    with several processes the engine is a :class:`~crome_audit.distributed.DataParallelEngine`, with the
    cache opened by rank 0 only."""
    from .cache import ScoreCache, default_cache_path
    from .distributed import DataParallelEngine, process_group
    from .engine import ScoringEngine

    group = process_group()  # before loading: on GPUs it selects cuda:LOCAL_RANK
    if isinstance(rm, str):
        rm = load_rm(rm)
    if isinstance(rm, ScoringEngine):
        return _adapt(rm)
    if cache is True:
        cache = default_cache_path()
    use_cache = cache not in (None, False) and getattr(rm, "score_cache", True) and (group is None or group.is_main)
    if use_cache and not isinstance(cache, ScoreCache):
        cache = ScoreCache(cache)
    if group is not None:
        return DataParallelEngine(rm, group, cache=cache if use_cache else None, chunk_size=chunk_size,
                                  progress=progress)
    return ScoringEngine(rm, cache=cache if use_cache else None, chunk_size=chunk_size, progress=progress)


def _adapt(engine):
    """A caller's ScoringEngine, re-wrapped when the launch is data-parallel or the RM keeps no score cache."""
    from .distributed import DataParallelEngine, process_group

    if isinstance(engine, DataParallelEngine):
        return engine
    group = process_group()
    if group is not None and getattr(engine.rm, "device", None) == "device_map":
        raise InputError("device_map under accelerate launch: every process would spread its copy over all "
                         "GPUs; use one of the two (docs/scale-out.md), or vLLM with tensor + data parallel")
    keep_cache = getattr(engine.rm, "score_cache", True)
    if group is None and (keep_cache or engine.cache is None):
        return engine
    cache = engine.cache if keep_cache else None
    if group is not None:
        return DataParallelEngine(engine.rm, group, cache=cache, chunk_size=engine.chunk_size,
                                  progress=engine.progress)
    return type(engine)(engine.rm, cache=cache, chunk_size=engine.chunk_size, progress=engine.progress)


def _engine(rm, cache, progress, rm_args, rm_options):
    from .distributed import process_group
    from .engine import ScoringEngine

    if isinstance(rm, str):
        group = process_group()  # under a launcher: join the group first, so "cuda" means this rank's GPU
        if group is not None and ((rm_args or {}).get("device_map") or rm_options.get("device_map")):
            raise InputError("device_map under accelerate launch: every process would spread its copy over all "
                             "GPUs; use one of the two (docs/scale-out.md), or vLLM with tensor + data parallel")
        return scoring_engine(load_rm(rm, rm_args, **rm_options), cache=cache, progress=progress)
    if rm_args or rm_options:
        raise InputError("options are for a spec string; this reward model is loaded already")
    if isinstance(rm, ScoringEngine):
        return _adapt(rm)
    return scoring_engine(rm, cache=cache, progress=progress)


def training_record(rm_name: str) -> dict | None:
    """The trainer's crome_training.json next to a locally trained RM, if any."""
    path = Path(rm_name) / "crome_training.json"
    try:
        if not path.is_file():
            return None
    except OSError:  # a spec like judge:http://... is no path on some systems
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: unreadable training record: {e}") from None


def _is_main() -> bool:
    from .distributed import process_group

    group = process_group()
    return group is None or group.is_main


def _finish(results: dict, samples: list[dict], out, report: bool, names: tuple[str, ...],
            staging: Path | None = None, command: str = "run", inputs=()) -> dict:
    """Strict-JSON plain data (what the file holds); written under ``out`` on rank 0 when given, as one set
    (crome_audit.outputs: all of ``names`` or, on failure, none). ``staging``: an open OutputSet's folder
    that already holds the streamed samples.jsonl (``samples`` is then empty)."""
    from .results import _clean

    results = json.loads(json.dumps(_clean(results), ensure_ascii=False, allow_nan=False, default=str))
    if staging is not None:
        _write_set(staging, results, None, report)
    elif out is not None and _is_main():
        from .outputs import OutputSet

        with OutputSet(Path(out), names, command=command, inputs=inputs) as staging:
            _write_set(staging, results, samples, report)
    return results


def _write_set(staging: Path, results: dict, samples, report: bool) -> None:
    from .data import write_jsonl_atomic
    from .results import write_results

    if samples is not None:
        write_jsonl_atomic(staging / "samples.jsonl", samples)
    write_results(staging, results)
    if report:
        render_report([results], staging / "report.html")


def audit(rm, data=None, *, split: str | None = None, suite="default", limit: int | None = None,
          skip_invalid: bool = False, seed: int | None = None, benchmarks=(), bench_data: dict | None = None,
          bench_options: dict | None = None, max_examples: int = 50, out=None, report: bool = True, cache=True,
          progress: bool = False, rm_args: dict | None = None, config: dict | None = None, name: str | None = None,
          records: tuple | None = None, **rm_options) -> dict:
    """``crome-audit run``: the probe audit (plus optional benchmarks) of one RM; returns results.json's dict.

    ``data``: a file, folder or hub id of pairs or responses (default: the bundled 200-pair sample);
    ``suite``: a built-in suite name, a YAML path or a Suite; ``benchmarks``: names (or a comma string) run
    with the same engine, ``bench_data`` / ``bench_options`` per name; ``config``: extra keys for the
    results' config (the CLI passes its RM flags); ``name``: the RM name recorded (default: the spec);
    ``records``: ``(records, data_info, kind)`` from :func:`crome_audit.data.load_records`, already loaded
    (the CLI checks the data before it loads the model)."""
    from .audit import run_audit
    from .data import default_data_path, load_records
    from .outputs import OutputSet
    from .probes import Suite, load_suite
    from .results import new_results

    bench_names = [b.strip() for b in benchmarks.split(",")] if isinstance(benchmarks, str) else list(benchmarks)
    bench_names = [b for b in bench_names if b]
    bench_data, bench_options = dict(bench_data or {}), {k: dict(v) for k, v in (bench_options or {}).items()}
    if bench_names:
        from .benchmarks import get_benchmark

        for b in bench_names:
            get_benchmark(b)  # unknown names fail now, before any model loads
    suite_obj = suite if isinstance(suite, Suite) else load_suite(suite)
    seed = seed if seed is not None else (suite_obj.seed if suite_obj.seed is not None else 0)
    if records is None:
        records, data_info, kind = load_records(data or default_data_path(), split, limit, skip_invalid)
        if data is None:
            data_info["path"] = "bundled:sample_pairs.jsonl"
    else:
        records, data_info, kind = records
    if out is not None:
        from .outputs import RUN_OUTPUTS, check_output_dir, refuse_overwriting_inputs

        out = check_output_dir(out, command="run")  # a file, read-only, another command's: fail before scoring
        refuse_overwriting_inputs([out / n for n in RUN_OUTPUTS], [("data", data)] + list(bench_data.items()), "out")
    rm_name = name or (rm if isinstance(rm, str) else None)
    engine = _engine(rm, cache, progress, rm_args, rm_options)
    rm_name = rm_name or engine.rm.name
    training = training_record(rm_name)
    seen = set(training.get("intervention_families", [])) if training else set()
    # an audit probe counts as seen when its attribute was augmented or tied in training, whatever the mechanism
    seen_attrs = (set(training.get("tied_attributes", [])) | set(training.get("intervention_attributes", []))
                  if training else set())

    from .outputs import RUN_OUTPUTS as names

    with contextlib.ExitStack() as stack:
        # samples.jsonl is streamed into the output set's staging folder while the audit runs (a million pairs
        # make ~10 GB of rows: never all in memory); a failure or interrupt leaves OUT as it was
        inputs = [("data", data_info.get("path"))] + [(f"bench data {b}", p) for b, p in bench_data.items()]
        staging = (stack.enter_context(OutputSet(out, names, command="run", inputs=inputs))
                   if out is not None and _is_main() else None)
        sink = stack.enter_context(open(staging / "samples.jsonl", "w", encoding="utf-8")) if staging else None
        t0 = time.perf_counter()
        result = run_audit(records, suite_obj, engine, seed=seed, kind=kind, seen_families=seen,
                           seen_attributes=seen_attrs, max_examples=max_examples, samples=sink)
        bench_entries = {}
        for b in bench_names:
            from .benchmarks import run_benchmark as _run

            entry, samples = _run(b, engine, data=bench_data.get(b), split=None, seed=seed,
                                  **bench_options.get(b, {}))
            bench_entries[b] = entry
            if sink is not None:
                sink.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in samples)
        seconds = time.perf_counter() - t0
        if sink is not None:
            sink.close()

        rm_config = config if config is not None else {"rm_args": dict(rm_args or {}), "rm_options": rm_options}
        run_config = {"rm": rm_name, **rm_config,
                      "data": data_info["path"], "split": split, "suite": suite_obj.source, "suite_probes": suite_obj.spec,
                      "limit": limit, "skip_invalid": skip_invalid, "seed": seed, "benchmarks": bench_names,
                      "bench_data": bench_data, "bench_options": bench_options, "max_examples": max_examples}
        rm_entry = {"name": rm_name, "fingerprint": engine.rm.fingerprint, "info": engine.rm.info()}
        if training:
            rm_entry["training"] = training
        results = new_results(rm_entry, {**data_info, "kind": kind}, run_config)
        results.update(probes=result.probes, summary=result.summary, examples=result.examples, clean=result.clean,
                       benchmarks=bench_entries, reference=result.reference,
                       engine={**engine.stats, "seconds": round(seconds, 3)})
        return _finish(results, [], out, report, names, staging=staging)


def run_benchmark(name: str, rm, data=None, *, split: str | None = None, limit: int | None = None, seed: int = 0,
                  options: dict | None = None, out=None, cache=True, progress: bool = False,
                  rm_args: dict | None = None, config: dict | None = None, **rm_options) -> dict:
    """``crome-audit bench NAME``: one public benchmark; returns results.json's dict (``benchmarks[name]``)."""
    from .benchmarks import get_benchmark
    from .benchmarks import run_benchmark as _run
    from .results import new_results

    get_benchmark(name)  # unknown name -> did-you-mean error before any model loads
    if out is not None:
        from .outputs import BENCH_OUTPUTS, check_output_dir, refuse_overwriting_inputs

        out = check_output_dir(out, command="bench")
        refuse_overwriting_inputs([out / n for n in BENCH_OUTPUTS], [("data", data)], "out")
    options = dict(options or {})
    engine = _engine(rm, cache, progress, rm_args, rm_options)
    start = time.perf_counter()
    entry, samples = _run(name, engine, data=data, split=split, limit=limit, seed=seed, **options)
    seconds = time.perf_counter() - start
    info = entry.get("data") or {}
    rm_obj = engine.rm
    results = new_results(
        rm={"name": rm_obj.name, "fingerprint": rm_obj.fingerprint, "info": rm_obj.info()},
        data={"path": info.get("path", data), "sha256": info.get("sha256"), "n": info.get("n", len(samples))},
        config={"command": "bench", "benchmark": name, "data": data, "split": split, "limit": limit, "seed": seed,
                "options": options, **(config or {"rm": rm_obj.name})},
    )
    results["benchmarks"][name] = entry
    results["engine"] = {**engine.stats, "seconds": round(seconds, 3)}
    from .outputs import BENCH_OUTPUTS

    return _finish(results, samples, out, False, BENCH_OUTPUTS, command="bench",
                   inputs=[("data", data)] if isinstance(data, (str, os.PathLike)) else ())


def audit_data(data, *, split: str | None = None, limit: int | None = None, skip_invalid: bool = False,
               seed: int = 0, n_boot: int | None = None, out=None) -> dict:
    """``crome-audit data``: the shortcut audit of a preference file (crome_audit/data_audit.py): per surface
    feature a direction-free AUC with a prompt-clustered CI, and a shallow classifier's cross-validated AUC.

    ``data``: a file, folder or hub id the loaders accept, or a list of pair dicts (e.g. the trainer's
    synthetic records); with ``out`` the result is written to ``OUT/data_audit.json`` and its HTML page
    ``OUT/report.html`` (one atomic output set)."""
    from .data import load_pairs
    from .data_audit import N_BOOT, audit_pairs

    if out is not None:
        from .outputs import check_output_dir

        out = check_output_dir(out)  # before reading a large file
    if isinstance(data, (list, tuple)):
        records, info = list(data), {"path": "<records>", "n": len(data)}
    else:
        records, info = load_pairs(str(data), split=split, limit=limit, skip_invalid=skip_invalid)
    result = audit_pairs(records, seed=seed, n_boot=n_boot or N_BOOT, source=str(info.get("path")))
    result = {"data": {k: info.get(k) for k in ("path", "sha256", "n", "n_skipped") if k in info}, **result}
    from .results import _clean

    result = json.loads(json.dumps(_clean(result), ensure_ascii=False, allow_nan=False))
    if out is not None:
        from .outputs import OutputSet
        from .report.data_audit_page import render_data_audit
        from .results import write_json_atomic

        with OutputSet(Path(out), ("data_audit.json", "report.html")) as staging:
            write_json_atomic(staging / "data_audit.json", result)
            (staging / "report.html").write_text(render_data_audit(result), encoding="utf-8")
    return result


def render_report(runs, out_path, title: str | None = None) -> Path:
    """``crome-audit report``: one HTML file comparing runs (results dicts, results.json paths or run folders)."""
    from .report import render_report as _render
    from .results import read_results

    if isinstance(runs, (dict, str, Path)):
        runs = [runs]
    loaded = [r if isinstance(r, dict) else read_results(r) for r in runs]
    return _render(loaded, out_path, title=title)
