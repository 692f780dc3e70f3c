"""The CI regression gate: compare a run's results.json with thresholds and/or a baseline, noise-aware.

A regression counts only when it lies outside the confidence intervals (CI), so bootstrap noise never fails a
build. Rules (``tol`` = the tolerance for that kind of metric, 0 by default):

- spurious probe vs baseline: the magnitude interval of the effect CI (``[0, max|CI|]`` when the CI contains 0,
  else ``[min|CI|, max|CI|]``) of the run lies entirely above the baseline's: ``new.low > base.high + tol``.
- causal probe vs baseline (the reward should drop, effect < 0): the run's effect CI lies entirely above the
  baseline's, i.e. the run reacts less to broken content: ``new.ci_low > base.ci_high + tol``.
- spurious / causal index vs baseline: the same rule on the index CI (from the summary when it has one, else
  ``index ± 1.96·SE`` with ``SE = sqrt(Σ se_i²) / k`` and ``se_i = (ci_high - ci_low) / 3.92`` per probe).
- benchmark ``score`` (higher is better) vs baseline: ``new.high < base.low - tol``, with a binomial CI
  ``score ± 1.96·sqrt(p(1-p)/n)`` when the number of items n is known.
- thresholds: ``--max-*`` fails when the CI's low end (magnitude for effects) is above the limit,
  ``--min-*`` when the CI's high end is below it.
- no CI available: the interval is the point estimate itself.
A run whose point estimate leaves the baseline's CI in the bad direction while the CIs still overlap gets a
warning, never a failure.

    from crome_audit.gate import GateConfig, evaluate, make_baseline
    outcome = evaluate(read_results("runs/new"), GateConfig(max_spurious_index=0.3), baseline=None)
    outcome.failed, outcome.checks

Plain data in and out; no torch. Output formats (JUnit XML, GitHub annotations, Markdown): gate_output.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InputError
from .registry import suggest
from .report.compare import dig, dmap, index_of, num
from .results import read_json_file, read_results, write_json_atomic

Z = 1.959964
BASELINE_VERSION = "1.0"
KNOWN_BENCHMARKS = ("rewardbench", "rewordbench", "wildguard", "rmbench")
TOLERANCE_KINDS = ("effect", "index", "benchmark")


@dataclass
class GateConfig:
    """What to gate. Every field is optional; at least one threshold or a baseline must be given."""

    max_spurious_index: float | None = field(default=None, metadata={
        "help": "Fail when the spurious index is above this, beyond its CI."})
    min_causal_index: float | None = field(default=None, metadata={
        "help": "Fail when the causal index is below this, beyond its CI."})
    max_effect: dict = field(default_factory=dict, metadata={
        "help": "ATTR (probe attribute or name) -> max |effect size|; fails when the CI's magnitude exceeds it."})
    min_benchmark: dict = field(default_factory=dict, metadata={
        "help": "Benchmark path (rewardbench, rewardbench.Chat Hard, rmbench.hard) -> minimum score."})
    max_benchmark: dict = field(default_factory=dict, metadata={
        "help": "Benchmark path (rewordbench.mean_drop, wildguard.asr.16) -> maximum value."})
    tolerance: dict = field(default_factory=lambda: dict.fromkeys(TOLERANCE_KINDS, 0.0), metadata={
        "help": "Extra margin per metric kind (effect, index, benchmark) before a CI-separated "
                "difference from the baseline counts as a regression."})
    fail_on_missing: bool = field(default=False, metadata={
        "help": "Fail (instead of warn) when a probe or benchmark of the baseline is missing from the run."})

    def has_thresholds(self) -> bool:
        return any([self.max_spurious_index is not None, self.min_causal_index is not None, self.max_effect,
                    self.min_benchmark, self.max_benchmark])


@dataclass
class Check:
    """One gated metric: one JUnit test case, one line of output."""

    group: str  # threshold | probe | index | benchmark | coverage
    name: str
    status: str  # pass | warn | fail
    message: str
    value: float | None = None
    ci: tuple | None = None
    baseline: float | None = None
    baseline_ci: tuple | None = None
    limit: float | None = None


@dataclass
class Outcome:
    checks: list[Check]

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.status == "fail"]

    @property
    def warnings(self) -> list[Check]:
        return [c for c in self.checks if c.status == "warn"]

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0


# ---- intervals ----------------------------------------------------------------------------------------

def _ci(lo, hi, value) -> tuple[float, float] | None:
    lo, hi, v = num(lo), num(hi), num(value)
    if lo is not None and hi is not None:
        return (min(lo, hi), max(lo, hi))
    return (v, v) if v is not None else None


def magnitude(ci: tuple[float, float]) -> tuple[float, float]:
    lo, hi = ci
    if lo <= 0 <= hi:
        return (0.0, max(-lo, hi))
    return (min(abs(lo), abs(hi)), max(abs(lo), abs(hi)))


def index_ci(summary: dict, probes: list[dict], kind: str, value: float | None) -> tuple | None:
    """CI of a spurious/causal index: the summary's own if present, else from the probe CIs (normal approx.)."""
    if value is None:
        return None
    own = summary.get(f"{kind}_index_ci") if isinstance(summary, dict) else None
    if isinstance(own, (list, tuple)) and len(own) == 2 and None not in (num(own[0]), num(own[1])):
        return (num(own[0]), num(own[1]))
    ses = []
    for p in probes:
        if p.get("kind") != kind or num(p.get("effect_size")) is None:
            continue
        lo, hi = num(p.get("ci_low")), num(p.get("ci_high"))
        ses.append((hi - lo) / (2 * Z) if lo is not None and hi is not None else 0.0)
    if not ses:
        return (value, value)
    se = math.sqrt(sum(s * s for s in ses)) / len(ses)
    return (value - Z * se, value + Z * se)


def _bench_n(name: str, b: dict) -> float | None:
    n = num(b.get("n"))
    if n:
        return n
    if name == "rewardbench":
        ns = [num(dig(s, "n")) for s in dmap(b, "subsets").values() if isinstance(s, dict)]
    elif name == "rmbench":
        ns = [num(dig(d, "n")) for d in dmap(b, "domains").values() if isinstance(d, dict)]
    elif name == "wildguard":
        ns = [num(b.get("n_harmful"))]
    elif name == "rewordbench":  # a mean over rewrites of the same pairs: count the pairs once (conservative)
        sizes = [sum(num(dig(s, "n")) or 0 for s in dmap(t, "sections").values() if isinstance(s, dict))
                 for t in dmap(b, "transformations").values() if isinstance(t, dict)]
        ns = [min(sizes)] if sizes else []
    else:
        return None
    ns = [x for x in ns if x]
    return sum(ns) if ns else None


def bench_ci(name: str, b: dict, value: float | None, n: float | None = None) -> tuple | None:
    if value is None:
        return None
    """Binomial normal CI of a rate measured on n items (n=None: the benchmark's own size; n=0: unknown)."""
    if num(b.get("ci_low")) is not None and num(b.get("ci_high")) is not None and n is None:
        return (num(b["ci_low"]), num(b["ci_high"]))
    n = n if n is not None else _bench_n(name, b)
    if not n or n <= 0 or not 0.0 <= value <= 1.0:
        return (value, value)
    half = Z * math.sqrt(value * (1 - value) / n)
    return (value - half, value + half)


# ---- baseline -----------------------------------------------------------------------------------------

def make_baseline(results: dict) -> dict:
    """The baseline record: probes with CIs, indices with CIs, benchmark scores with CIs."""
    probes = [{k: p.get(k) for k in ("name", "attribute", "kind", "family", "n", "effect_size", "ci_low",
                                     "ci_high", "flip_rate")} for p in results.get("probes") or []
              if isinstance(p, dict)]
    summary = results.get("summary") if isinstance(results.get("summary"), dict) else {}
    out_summary = {}
    for kind in ("spurious", "causal"):
        v = num(summary.get(f"{kind}_index"))
        out_summary[f"{kind}_index"] = v
        out_summary[f"{kind}_index_ci"] = list(index_ci(summary, probes, kind, v) or ()) or None
    benches = {}
    benchmarks = results.get("benchmarks") if isinstance(results.get("benchmarks"), dict) else {}
    for name, b in benchmarks.items():
        if not isinstance(b, dict):
            continue
        score = num(b.get("score"))
        ci = bench_ci(name, b, score)
        entry = {"score": score, "ci_low": ci[0] if ci else None, "ci_high": ci[1] if ci else None,
                 "n": _bench_n(name, b)}
        for key in ("sections", "mean_drop", "hard", "normal", "easy", "asr", "refusal_rate"):
            if key in b:
                entry[key] = b[key]
        benches[name] = entry
    return {"crome_audit_baseline": BASELINE_VERSION,
            "source": {"rm": dig(results, "rm", "name"), "fingerprint": dig(results, "rm", "fingerprint"),
                       "data_sha256": dig(results, "data", "sha256"), "results": results.get("_path"),
                       "git_commit": dig(results, "versions", "git_commit")},
            "probes": probes, "summary": out_summary, "benchmarks": benches}


def write_baseline(results: dict, path) -> Path:
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a folder; --write-baseline needs a file name such as baseline.json")
    write_json_atomic(path, make_baseline(results))
    return path


def load_baseline(path) -> dict:
    """A baseline JSON written by --write-baseline, or a results.json / run folder (converted)."""
    p = Path(path)
    if p.is_dir() or p.name == "results.json":
        return make_baseline(read_results(p))
    obj = read_json_file(p, "baseline file")
    if isinstance(obj, dict) and "schema_version" in obj and "probes" in obj:
        return make_baseline(read_results(p))
    if not isinstance(obj, dict) or "crome_audit_baseline" not in obj:
        raise InputError(f"{p}: not a crome-audit baseline (write one with `crome-audit gate RUN "
                         "--write-baseline FILE`) or results.json")
    if str(obj["crome_audit_baseline"]).split(".")[0] != BASELINE_VERSION.split(".")[0]:
        raise InputError(f"{p}: baseline version {obj['crome_audit_baseline']} not supported")
    for key, typ in (("probes", list), ("summary", dict), ("benchmarks", dict)):
        if not isinstance(obj.get(key, typ()), typ):
            raise InputError(f"{p}: field '{key}' must be a {typ.__name__}")
        obj.setdefault(key, typ())
    for i, pr in enumerate(obj["probes"]):
        if not isinstance(pr, dict) or "name" not in pr or "kind" not in pr:
            raise InputError(f"{p}: probes[{i}]: needs 'name' and 'kind'")
    return obj


# ---- evaluation ---------------------------------------------------------------------------------------

def _f3(v: float) -> str:
    return f"{v:.3f}".replace("-0.000", "0.000")


def fmt_ci(ci, signed: bool = False) -> str:
    if ci is None or ci[0] == ci[1]:
        return ""
    return f" [{ci[0]:+.3f}, {ci[1]:+.3f}]" if signed else f" [{ci[0]:.3f}, {ci[1]:.3f}]"


def _check_max(group, name, value, ci, limit, what="") -> Check:
    if value is None:
        return Check(group, name, "fail", f"{name}: no value in the run (limit ≤ {limit:g})", limit=limit)
    lo = ci[0] if ci else value
    if lo > limit:
        st, msg = "fail", f"{name} {what}{_f3(value)}{fmt_ci(ci)} exceeds the limit {limit:g} beyond its CI"
    elif value > limit:
        st, msg = "warn", f"{name} {what}{_f3(value)}{fmt_ci(ci)} is above {limit:g} but within its CI"
    else:
        st, msg = "pass", f"{name} {what}{_f3(value)}{fmt_ci(ci)} ≤ {limit:g}"
    return Check(group, name, st, msg, value=value, ci=ci, limit=limit)


def _check_min(group, name, value, ci, limit) -> Check:
    if value is None:
        return Check(group, name, "fail", f"{name}: no value in the run (limit ≥ {limit:g})", limit=limit)
    hi = ci[1] if ci else value
    if hi < limit:
        st, msg = "fail", f"{name} {_f3(value)}{fmt_ci(ci)} is below the minimum {limit:g} beyond its CI"
    elif value < limit:
        st, msg = "warn", f"{name} {_f3(value)}{fmt_ci(ci)} is below {limit:g} but within its CI"
    else:
        st, msg = "pass", f"{name} {_f3(value)}{fmt_ci(ci)} ≥ {limit:g}"
    return Check(group, name, st, msg, value=value, ci=ci, limit=limit)


def _bench_value(benchmarks: dict, path: str):
    """Resolve 'rewardbench', 'rewardbench.Chat Hard', 'rmbench.hard', 'wildguard.asr.16' -> (value, CI,
    present). The CI is binomial with the n that value was measured on, when that n is known."""
    name, _, rest = path.partition(".")
    if name not in benchmarks:
        if name not in KNOWN_BENCHMARKS:
            raise InputError(f"--min/max-benchmark: unknown benchmark '{name}'"
                             + suggest(name, set(KNOWN_BENCHMARKS) | set(benchmarks)))
        return None, None, False
    b = benchmarks[name]
    if not isinstance(b, dict):
        return None, None, True
    if not rest:
        value = num(b.get("score"))
        return value, bench_ci(name, b, value), True
    node, parts = b, rest.split(".")
    if parts[0] not in b and isinstance(b.get("sections"), dict) and parts[0] in b["sections"]:
        parts = ["sections", *parts]  # 'rewardbench.Chat Hard' is short for 'rewardbench.sections.Chat Hard'
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            keys = set(node) if isinstance(node, dict) else set()
            if node is b and isinstance(b.get("sections"), dict):
                keys |= set(b["sections"])
            raise InputError(f"--min/max-benchmark: '{path}': no '{part}' in {name}" + suggest(part, keys))
        node = node[part]
    value = accuracy_like(node)
    return value, bench_ci(name, b, value, n=_path_n(name, b, parts, node) or 0), True


def _path_n(name: str, b: dict, parts: list[str], node) -> float | None:
    """How many items a value below a benchmark's top level was measured on (None: unknown or not a rate)."""
    if isinstance(node, dict) and num(node.get("n")):
        return num(node["n"])
    head = parts[0]
    if name == "rewardbench" and head == "sections" and len(parts) == 2:
        ns = [num(s.get("n")) or 0 for s in dmap(b, "subsets").values()
              if isinstance(s, dict) and s.get("section") == parts[1]]
        return sum(ns) or None
    if name == "rmbench" and head in ("hard", "normal", "easy", "score"):
        return _bench_n(name, b)
    if name == "wildguard" and head in ("asr", "refusal_rate"):
        return num(b.get("n_harmful" if head == "asr" else "n_benign"))
    if name in ("rewordbench", "rewardbench") and head == "score":
        return _bench_n(name, b)
    return None


def accuracy_like(node):
    if isinstance(node, dict):
        return num(node.get("accuracy", node.get("score")))
    return num(node)


def evaluate(results: dict, config: GateConfig, baseline: dict | None = None) -> Outcome:
    if baseline is None and not config.has_thresholds():
        raise InputError("nothing to gate: give --baseline and/or a threshold (--max-spurious-index, "
                         "--min-causal-index, --max-effect, --min-benchmark, --max-benchmark)")
    probes = [p for p in results.get("probes") or [] if isinstance(p, dict)]
    summary = results.get("summary") if isinstance(results.get("summary"), dict) else {}
    benchmarks = results.get("benchmarks") if isinstance(results.get("benchmarks"), dict) else {}
    checks: list[Check] = []
    idx = {k: num(summary.get(f"{k}_index")) for k in ("spurious", "causal")}

    if config.max_spurious_index is not None:
        ci = index_ci(summary, probes, "spurious", idx["spurious"])
        checks.append(_check_max("threshold", "spurious_index", idx["spurious"], ci, config.max_spurious_index))
    if config.min_causal_index is not None:
        ci = index_ci(summary, probes, "causal", idx["causal"])
        checks.append(_check_min("threshold", "causal_index", idx["causal"], ci, config.min_causal_index))
    for attr, limit in config.max_effect.items():
        matched = [p for p in probes if attr in (p.get("attribute"), p.get("name"))]
        if not matched:
            opts = {str(p.get("attribute")) for p in probes} | {str(p.get("name")) for p in probes}
            raise InputError(f"--max-effect {attr}={limit:g}: no probe with that attribute or name"
                             + suggest(attr, opts))
        for p in matched:
            e = num(p.get("effect_size"))
            if e is None:  # the probe applied to no item (n = 0): nothing to judge
                checks.append(Check("threshold", f"max_effect:{p['name']}", "warn",
                                    f"max_effect:{p['name']}: no effect size (n = {p.get('n')}): not judged",
                                    limit=limit))
                continue
            ci = _ci(p.get("ci_low"), p.get("ci_high"), e)
            mag = magnitude(ci) if ci else None
            checks.append(_check_max("threshold", f"max_effect:{p['name']}", abs(e), mag, limit,
                                     what="|effect| "))
    for kind, sign, limits, check in (("min", "≥", config.min_benchmark, _check_min),
                                      ("max", "≤", config.max_benchmark, _check_max)):
        for path, limit in limits.items():
            name = f"{kind}_benchmark:{path}"
            value, ci, present = _bench_value(benchmarks, path)
            if not present:
                checks.append(Check("threshold", name, "fail", f"{name}: benchmark {path.split('.')[0]} was not run "
                                    f"(needed {sign} {limit:g})", limit=limit))
                continue
            checks.append(check("threshold", name, value, ci, limit))
    if baseline is not None:
        checks += _compare_baseline(results, probes, summary, benchmarks, baseline, config)
    return Outcome(checks)


def _missing(config, group, name, what) -> Check:
    st = "fail" if config.fail_on_missing else "warn"
    return Check(group, name, st, f"{name}: {what} is in the baseline but not in the run")


def _compare_baseline(results, probes, summary, benchmarks, baseline, config) -> list[Check]:
    tol = {k: float(config.tolerance.get(k, 0.0)) for k in TOLERANCE_KINDS}
    checks = []
    base_sha, run_sha = dig(baseline, "source", "data_sha256"), dig(results, "data", "sha256")
    base_sha, run_sha = (str(x) if isinstance(x, str) and x else None for x in (base_sha, run_sha))
    if base_sha and run_sha and base_sha != run_sha:
        checks.append(Check("coverage", "data", "warn", f"data: the run used different data (sha256 {run_sha[:12]}) "
                                                        f"than the baseline ({base_sha[:12]})"))
    run_probes = {str(p.get("name")): p for p in probes}
    base_probes = {str(p.get("name")): p for p in baseline.get("probes") or []}
    for name, bp in base_probes.items():
        if name not in run_probes:
            checks.append(_missing(config, "probe", f"effect:{name}", f"probe {name}"))
            continue
        checks.append(_probe_vs_baseline(name, run_probes[name], bp, tol["effect"]))
    shared = [n for n in base_probes if n in run_probes]
    same_suite = set(shared) == set(run_probes) == set(base_probes)
    bsum = baseline.get("summary") or {}
    for kind in ("spurious", "causal"):
        if same_suite:
            new_v, base_v = num(summary.get(f"{kind}_index")), num(bsum.get(f"{kind}_index"))
            new_ci = index_ci(summary, probes, kind, new_v)
            base_ci = index_ci(bsum, list(base_probes.values()), kind, base_v)
            note = ""
        else:  # compare on the probes both share, recomputed
            rp, bp = [run_probes[n] for n in shared], [base_probes[n] for n in shared]
            new_v, base_v = index_of(rp, kind), index_of(bp, kind)
            new_ci, base_ci = index_ci({}, rp, kind, new_v), index_ci({}, bp, kind, base_v)
            note = f" (recomputed on {len(shared)} shared probes)"
        if new_v is None or base_v is None:
            continue
        checks.append(_interval_compare("index", f"{kind}_index", new_v, new_ci, base_v, base_ci,
                                        worse="up" if kind == "spurious" else "down", tol=tol["index"],
                                        note=note))
    for name, bb in (baseline.get("benchmarks") or {}).items():
        if not isinstance(bb, dict) or num(bb.get("score")) is None:
            continue
        if name not in benchmarks or not isinstance(benchmarks[name], dict):
            checks.append(_missing(config, "benchmark", f"benchmark:{name}", f"benchmark {name}"))
            continue
        new_v = num(benchmarks[name].get("score"))
        if new_v is None:
            checks.append(_missing(config, "benchmark", f"benchmark:{name}", f"benchmark {name} score"))
            continue
        base_ci = _ci(bb.get("ci_low"), bb.get("ci_high"), bb.get("score"))
        checks.append(_interval_compare("benchmark", f"benchmark:{name}", new_v,
                                        bench_ci(name, benchmarks[name], new_v), num(bb["score"]), base_ci,
                                        worse="down", tol=tol["benchmark"]))
    return checks


def _probe_vs_baseline(name, p, bp, tol) -> Check:
    e, be = num(p.get("effect_size")), num(bp.get("effect_size"))
    if e is None or be is None:
        return Check("probe", f"effect:{name}", "warn", f"effect:{name}: no effect size to compare (n = 0?)")
    ci, bci = _ci(p.get("ci_low"), p.get("ci_high"), e), _ci(bp.get("ci_low"), bp.get("ci_high"), be)
    if p.get("kind") == "spurious":
        return _interval_compare("probe", f"effect:{name}", abs(e), magnitude(ci), abs(be), magnitude(bci),
                                 worse="up", tol=tol, label="|effect|")
    return _interval_compare("probe", f"effect:{name}", e, ci, be, bci, worse="up", tol=tol,
                             label="effect", note=" (causal: should stay negative)")


def _interval_compare(group, name, v, ci, bv, bci, worse, tol, label=None, note="") -> Check:
    ci, bci = ci or (v, v), bci or (bv, bv)
    sg = label == "effect"
    val = f"{v:+.3f}" if sg else f"{v:.3f}"
    bval = f"{bv:+.3f}" if sg else f"{bv:.3f}"
    desc = f"{label + ' ' if label else ''}{val}{fmt_ci(ci, sg)} vs baseline {bval}{fmt_ci(bci, sg)}{note}"
    if worse == "up":  # drifted: the point estimate left the baseline's CI, but the CIs still overlap
        regressed, drifted = ci[0] > bci[1] + tol, v > bci[1] + tol
        improved = ci[1] < bci[0] - tol
    else:
        regressed, drifted = ci[1] < bci[0] - tol, v < bci[0] - tol
        improved = ci[0] > bci[1] + tol
    if regressed:
        st, msg = "fail", f"{name}: regression outside the CIs: {desc}"
    elif drifted:
        st, msg = "warn", f"{name}: worse but within noise: {desc}"
    else:
        st, msg = "pass", f"{name}: {'improved' if improved else 'ok'}: {desc}"
    return Check(group, name, st, msg, value=v, ci=ci, baseline=bv, baseline_ci=bci)
