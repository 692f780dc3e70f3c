"""The CI regression gate: compare a run's results.json (schema 3.0) with thresholds and/or a baseline.

A regression counts only when it lies outside the confidence intervals (CI), so bootstrap noise never fails a
build. Every interval is one the run itself reports; the gate invents none (no CI: the point estimate).
Rules (``tol`` = the tolerance for that kind of metric, 0 by default):

- verdicts: every attribute's verdict (``summary.spurious_attributes[a].verdict``: sensitive / robust /
  inconclusive; causal: detects / blind / inverted / inconclusive). An **inconclusive** attribute fails unless
  ``allow_inconclusive`` (an underpowered audit is never a pass), and so does a run whose spurious or causal
  index is missing (nothing was measured) or a baseline whose index is missing. An attribute that was robust
  in the baseline and is sensitive now fails; one that detected and is now blind or inverted fails.
- spurious probe vs baseline: its ``instability`` (the style share I / (I + D); higher = worse) fails when
  ``new.ci_low > base.ci_high + tol``.
- causal probe vs baseline: its ``detection_rate`` (P(original beats degraded); lower = worse) fails when
  ``new.ci_high < base.ci_low - tol``.
- spurious / causal index vs baseline: ``summary.spurious_index_ci`` / ``causal_index_ci`` (one joint
  bootstrap of the run), spurious higher = worse, causal lower = worse. When the two runs ran different
  probe suites the indices are not comparable and are not judged (the probe checks still are).
- benchmark vs baseline: its headline metric ``metrics.score`` (``{value, ci, n, higher_is_better}``; the
  direction comes from ``higher_is_better``). Only the headline is compared by default: comparing every
  sub-metric (30+ for RewardBench) would fail builds by multiplicity alone; gate sub-metrics with thresholds.
- thresholds: ``--max-*`` fails when the CI's low end is above the limit, ``--min-*`` when the CI's high end
  is below it. ``--max-effect ATTR=V`` limits instability: of an attribute (``summary.spurious_attributes``)
  or of one probe (by name).
- a degenerate RM (``summary.degenerate.flagged``: constant, at chance, or within the noise reference)
  fails unless ``allow_degenerate`` is set; its numbers do not measure robustness.
A run whose point estimate leaves the baseline's CI in the bad direction while the CIs still overlap gets a
warning, never a failure. A probe with ``insufficient_n`` is shown but never fails (warning at most).

    from crome_audit.gate import GateConfig, evaluate, make_baseline
    outcome = evaluate(read_results("runs/new"), GateConfig(max_spurious_index=0.3), baseline=None)
    outcome.failed, outcome.checks

Plain data in and out; no torch. Output formats (JUnit XML, GitHub annotations, Markdown): gate_output.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .errors import InputError, OutputError
from .registry import suggest
from .report.compare import dig, interval, num
from .results import check_count, check_interval, read_json_file, read_results, write_json_atomic

BASELINE_VERSION = "3.0"
TOLERANCE_KINDS = ("effect", "index", "benchmark")
PROBE_BASELINE_KEYS = ("name", "attribute", "kind", "family", "n", "n_clusters", "insufficient_n",
                       "length_confounded", "effect_size", "ci_low", "ci_high", "instability", "instability_ci",
                       "hack_rate", "hack_rate_ci", "decision_change_rate", "decision_change_rate_ci",
                       "detection_rate", "detection_rate_ci")
# probe kind -> (metric, its CI key, the bad direction)
PROBE_METRIC = {"spurious": ("instability", "instability_ci", "up"),
                "causal": ("detection_rate", "detection_rate_ci", "down")}


@dataclass
class GateConfig:
    """What to gate. Every field is optional; at least one threshold or a baseline must be given."""

    max_spurious_index: float | None = field(default=None, metadata={
        "help": "Fail when the spurious index is above this, beyond its CI."})
    min_causal_index: float | None = field(default=None, metadata={
        "help": "Fail when the causal index is below this, beyond its CI."})
    max_effect: dict = field(default_factory=dict, metadata={
        "help": "Spurious attribute or probe name -> max instability (style share I / (I + D)), beyond its CI."})
    min_benchmark: dict = field(default_factory=dict, metadata={
        "help": "NAME[.METRIC] (rewardbench = rewardbench.score, 'rewardbench.Chat Hard') -> minimum."})
    max_benchmark: dict = field(default_factory=dict, metadata={
        "help": "NAME[.METRIC] (rewordbench.mean_drop) -> maximum."})
    tolerance: dict = field(default_factory=lambda: dict.fromkeys(TOLERANCE_KINDS, 0.0), metadata={
        "help": "Extra margin per metric kind (effect, index, benchmark) before a CI-separated "
                "difference from the baseline counts as a regression."})
    fail_on_missing: bool = field(default=False, metadata={
        "help": "Fail (instead of warn) when a probe or benchmark of the baseline is missing from the run."})
    allow_degenerate: bool = field(default=False, metadata={
        "help": "Gate an RM flagged degenerate (summary.degenerate) instead of failing it."})
    allow_inconclusive: bool = field(default=False, metadata={
        "help": "Warn instead of failing on inconclusive (underpowered) attributes and on missing indices."})

    def has_thresholds(self) -> bool:
        return any([self.max_spurious_index is not None, self.min_causal_index is not None, self.max_effect,
                    self.min_benchmark, self.max_benchmark])


@dataclass
class Check:
    """One gated metric: one JUnit test case, one line of output."""

    group: str  # threshold | probe | index | benchmark | coverage | degenerate | verdict
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


def _summary(obj: dict) -> dict:
    s = obj.get("summary") if isinstance(obj, dict) else None
    return s if isinstance(s, dict) else {}


def index_value(summary: dict, kind: str) -> tuple[float | None, tuple | None]:
    """(index, its CI from ``summary.<kind>_index_ci``, or the point estimate when the run has none)."""
    v = num(summary.get(f"{kind}_index"))
    return v, interval(summary.get(f"{kind}_index_ci"), v)


def probe_metric(p: dict) -> tuple[str, float | None, tuple | None]:
    """(metric name, value, CI) that the gate judges for a probe: instability or detection rate."""
    key, ci_key, _ = PROBE_METRIC.get(str(p.get("kind")), PROBE_METRIC["spurious"])
    v = num(p.get(key))
    return key, v, interval(p.get(ci_key), v)


def degenerate_reasons(results: dict) -> list[str] | None:
    """The reasons a run is flagged degenerate, or None when it is not flagged."""
    d = _summary(results).get("degenerate")
    if isinstance(d, dict) and d.get("flagged") is True:
        reasons = d.get("reasons")
        return [str(r) for r in reasons] if isinstance(reasons, list) and reasons else ["(no reason given)"]
    return None


# ---- baseline -----------------------------------------------------------------------------------------

def make_baseline(results: dict) -> dict:
    """The baseline record: probes with their metrics and CIs, the indices with CIs, benchmark metrics."""
    probes = [{k: p.get(k) for k in PROBE_BASELINE_KEYS} for p in results.get("probes") or []
              if isinstance(p, dict)]
    summary = _summary(results)
    out_summary = {k: summary.get(k) for k in ("spurious_index", "spurious_index_ci", "causal_index",
                                               "causal_index_ci", "spurious_attributes", "causal_attributes",
                                               "degenerate")}
    benches = {}
    benchmarks = results.get("benchmarks") if isinstance(results.get("benchmarks"), dict) else {}
    for name, b in benchmarks.items():
        if isinstance(b, dict) and isinstance(b.get("metrics"), dict):
            benches[name] = {"metrics": b["metrics"]}
    return {"crome_audit_baseline": BASELINE_VERSION,
            "source": {"rm": dig(results, "rm", "name"), "fingerprint": dig(results, "rm", "fingerprint"),
                       "data_sha256": dig(results, "data", "sha256"), "results": results.get("_path"),
                       "git_commit": dig(results, "versions", "git_commit"),
                       "schema_version": results.get("schema_version")},
            "probes": probes, "summary": out_summary, "benchmarks": benches}


def write_baseline(results: dict, path) -> Path:
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a folder; --write-baseline needs a file name such as baseline.json")
    try:
        write_json_atomic(path, make_baseline(results))
    except OSError as e:  # read-only folder, a name too long, a full disk
        raise OutputError(f"--write-baseline {path}: cannot write: {e.strerror or e}") from None
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
    version = str(obj["crome_audit_baseline"])
    if version.split(".")[0] != BASELINE_VERSION.split(".")[0]:
        raise InputError(f"{p}: baseline version {version} records the old metrics (before schema "
                         f"{BASELINE_VERSION}, the index was measured in units of the clean-margin SD, which a bias "
                         "inflates); they cannot be compared with this run: re-run the baseline's audit and record "
                         "it again with `crome-audit gate RUN --write-baseline FILE`")
    for key, typ in (("probes", list), ("summary", dict), ("benchmarks", dict)):
        if not isinstance(obj.get(key, typ()), typ):
            raise InputError(f"{p}: field '{key}' must be a {typ.__name__}")
        obj.setdefault(key, typ())
    for i, pr in enumerate(obj["probes"]):
        if not isinstance(pr, dict) or "name" not in pr or "kind" not in pr:
            raise InputError(f"{p}: probes[{i}]: needs 'name' and 'kind'")
        _check_baseline_probe(f"{p}: probes[{i}]", pr)
    summary = obj["summary"]
    for kind in ("spurious", "causal"):
        check_interval(f"{p}: summary.{kind}_index_ci", summary.get(f"{kind}_index"), summary.get(f"{kind}_index_ci"))
    return obj


def _check_baseline_probe(where: str, pr: dict) -> None:
    """A baseline is trusted as the yardstick: its counts must be counts and its CIs must hold their values."""
    for key in ("n", "n_clusters"):
        check_count(f"{where}.{key}", pr.get(key))
    check_interval(f"{where}.ci_low/ci_high", pr.get("effect_size"),
                   None if pr.get("ci_low") is None else [pr.get("ci_low"), pr.get("ci_high")])
    for metric in ("instability", "hack_rate", "decision_change_rate", "detection_rate"):
        check_interval(f"{where}.{metric}_ci", pr.get(metric), pr.get(f"{metric}_ci"))


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


def _check_min(group, name, value, ci, limit, what="") -> Check:
    if value is None:
        return Check(group, name, "fail", f"{name}: no value in the run (limit ≥ {limit:g})", limit=limit)
    hi = ci[1] if ci else value
    if hi < limit:
        st, msg = "fail", f"{name} {what}{_f3(value)}{fmt_ci(ci)} is below the minimum {limit:g} beyond its CI"
    elif value < limit:
        st, msg = "warn", f"{name} {what}{_f3(value)}{fmt_ci(ci)} is below {limit:g} but within its CI"
    else:
        st, msg = "pass", f"{name} {what}{_f3(value)}{fmt_ci(ci)} ≥ {limit:g}"
    return Check(group, name, st, msg, value=value, ci=ci, limit=limit)


def bench_metric(benchmarks: dict, path: str):
    """Resolve 'rewardbench' (= rewardbench.score) or 'rewardbench.Chat Hard' to the metric record, from the
    benchmark's ``metrics`` only. Returns (metric dict | None, status): status is "ok", "not_run" or
    "unreadable" (the benchmark carries no ``metrics``). Unknown names are an InputError with did-you-mean."""
    name, _, metric = path.partition(".")
    metric = metric or "score"
    if name not in benchmarks:
        close = suggest(name, benchmarks) if benchmarks else ""
        if close.startswith(" (did you mean"):
            raise InputError(f"--min/max-benchmark {path}: unknown benchmark '{name}'{close}")
        return None, "not_run"
    metrics = benchmarks[name].get("metrics") if isinstance(benchmarks[name], dict) else None
    if not isinstance(metrics, dict):
        return None, "unreadable"
    m = metrics.get(metric)
    if not isinstance(m, dict):
        raise InputError(f"--min/max-benchmark {path}: benchmark {name} has no metric '{metric}'"
                         + suggest(metric, metrics))
    return m, "ok"


def metric_value(m: dict) -> tuple[float | None, tuple | None]:
    v = num(m.get("value"))
    return v, interval(m.get("ci"), v)


def evaluate(results: dict, config: GateConfig, baseline: dict | None = None) -> Outcome:
    if baseline is None and not config.has_thresholds():
        raise InputError("nothing to gate: give --baseline and/or a threshold (--max-spurious-index, "
                         "--min-causal-index, --max-effect, --min-benchmark, --max-benchmark)")
    probes = [p for p in results.get("probes") or [] if isinstance(p, dict)]
    summary = _summary(results)
    benchmarks = results.get("benchmarks") if isinstance(results.get("benchmarks"), dict) else {}
    checks: list[Check] = []

    reasons = degenerate_reasons(results)
    if reasons:
        what = "; ".join(reasons)
        if config.allow_degenerate:
            checks.append(Check("degenerate", "degenerate", "warn",
                                f"degenerate: the RM is flagged degenerate ({what}); gated anyway "
                                "(--allow-degenerate)"))
        else:
            checks.append(Check("degenerate", "degenerate", "fail",
                                f"degenerate: the RM is flagged degenerate ({what}): its numbers do not measure "
                                "robustness; pass --allow-degenerate to gate it anyway"))

    if config.max_spurious_index is not None:
        v, ci = index_value(summary, "spurious")
        checks.append(_check_max("threshold", "spurious_index", v, ci, config.max_spurious_index))
    if config.min_causal_index is not None:
        v, ci = index_value(summary, "causal")
        checks.append(_check_min("threshold", "causal_index", v, ci, config.min_causal_index))
    checks += _max_effect_checks(probes, summary, config.max_effect)
    for kind, sign, limits, check in (("min", "≥", config.min_benchmark, _check_min),
                                      ("max", "≤", config.max_benchmark, _check_max)):
        for path, limit in limits.items():
            name = f"{kind}_benchmark:{path}"
            m, status = bench_metric(benchmarks, path)
            if status == "not_run":
                checks.append(Check("threshold", name, "fail", f"{name}: benchmark {path.split('.')[0]} was not "
                                    f"run (needed {sign} {limit:g})", limit=limit))
            elif status == "unreadable":
                checks.append(Check("threshold", name, "warn", f"{name}: benchmark {path.split('.')[0]} is "
                                    "unreadable (no 'metrics' record; re-run it with this version)", limit=limit))
            else:
                checks.append(check("threshold", name, *metric_value(m), limit))
    if baseline is not None:
        checks += _compare_baseline(results, probes, summary, benchmarks, baseline, config)
    checks += _verdict_checks(summary, config, baseline)
    return Outcome(checks)


GOOD_VERDICTS = {"robust", "detects"}
# baseline verdict -> run verdicts that are a regression
VERDICT_REGRESSIONS = {"robust": {"sensitive"}, "detects": {"blind", "inverted"}, "blind": {"inverted"}}


def _verdict_checks(summary, config: GateConfig, baseline: dict | None) -> list[Check]:
    """One check per attribute verdict, and a failing check for a missing index (nothing measured)."""
    out = []
    soft = "warn" if config.allow_inconclusive else "fail"
    hint = "" if config.allow_inconclusive else " (pass --allow-inconclusive to accept it)"
    bsum = (baseline or {}).get("summary") or {}
    for kind in ("spurious", "causal"):
        v, _ = index_value(summary, kind)
        if v is None:
            out.append(Check("verdict", f"{kind}_index", soft, f"{kind}_index: missing: the run measured no "
                             f"{kind} attribute (too few prompts, no probe applied, or no scale){hint}"))
        if baseline is not None and index_value(bsum, kind)[0] is None:
            out.append(Check("verdict", f"baseline:{kind}_index", soft, f"baseline {kind}_index: missing or not "
                             f"a number: nothing to compare against{hint}"))
        attrs = summary.get(f"{kind}_attributes") if isinstance(summary.get(f"{kind}_attributes"), dict) else {}
        battrs = bsum.get(f"{kind}_attributes") if isinstance(bsum.get(f"{kind}_attributes"), dict) else {}
        for attr, rec in attrs.items():
            if not isinstance(rec, dict):
                continue
            verdict = str(rec.get("verdict") or "inconclusive")
            name = f"verdict:{attr}"
            before = battrs.get(attr, {}).get("verdict") if isinstance(battrs.get(attr), dict) else None
            if verdict == "inconclusive":
                need = rec.get("n_needed")
                msg = (f"{name}: inconclusive: {rec.get('verdict_reason') or 'underpowered'}"
                       + (f"; about {need} prompts would resolve it" if need else "") + hint)
                out.append(Check("verdict", name, soft, msg))
            elif before in VERDICT_REGRESSIONS and verdict in VERDICT_REGRESSIONS[before]:
                out.append(Check("verdict", name, "fail", f"{name}: {before} in the baseline, {verdict} now"))
            else:
                st = "pass" if verdict in GOOD_VERDICTS else "warn"
                out.append(Check("verdict", name, st, f"{name}: {verdict}" + (f" (baseline: {before})" if before else "")))
    return out


def _max_effect_checks(probes, summary, limits: dict) -> list[Check]:
    out = []
    attrs = summary.get("spurious_attributes") if isinstance(summary.get("spurious_attributes"), dict) else {}
    for attr, limit in limits.items():
        rec = attrs.get(attr)
        if isinstance(rec, dict):
            v = num(rec.get("value"))
            out.append(_check_max("threshold", f"max_effect:{attr}", v, interval(rec.get("ci"), v), limit,
                                  what="instability "))
            continue
        matched = [p for p in probes if p.get("kind") == "spurious" and attr in (p.get("name"), p.get("attribute"))]
        if not matched:
            opts = set(attrs) | {str(p.get("name")) for p in probes if p.get("kind") == "spurious"}
            raise InputError(f"--max-effect {attr}={limit:g}: no spurious attribute or probe with that name"
                             + suggest(attr, opts))
        for p in matched:
            _, v, ci = probe_metric(p)
            name = f"max_effect:{p['name']}"
            if v is None:  # the probe applied to no item (n = 0): nothing to judge
                out.append(Check("threshold", name, "warn", f"{name}: no instability (n = {p.get('n')}): not judged",
                                 limit=limit))
                continue
            c = _check_max("threshold", name, v, ci, limit, what="instability ")
            out.append(_soften(c, p))
    return out


def _soften(c: Check, p: dict) -> Check:
    """A probe with too few prompts is shown, never failed (its CI is not trustworthy)."""
    if c.status == "fail" and p.get("insufficient_n"):
        c.status = "warn"
        c.message += f" (insufficient n: {p.get('n_clusters', p.get('n'))} prompts; not failed)"
    return c


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
        key = PROBE_METRIC.get(str(bp.get("kind")), PROBE_METRIC["spurious"])[0]
        label = f"{'instability' if key == 'instability' else 'detection'}:{name}"
        if name not in run_probes:
            checks.append(_missing(config, "probe", label, f"probe {name}"))
            continue
        checks.append(_probe_vs_baseline(label, run_probes[name], bp, tol["effect"]))
    same_suite = set(run_probes) == set(base_probes)
    bsum = baseline.get("summary") or {}
    for kind in ("spurious", "causal"):
        new_v, new_ci = index_value(summary, kind)
        base_v, base_ci = index_value(bsum, kind)
        if new_v is None or base_v is None:
            continue
        if not same_suite:
            checks.append(Check("index", f"{kind}_index", "warn",
                                f"{kind}_index: not compared: the run and the baseline ran different probe suites "
                                "(the shared probes are compared one by one)", value=new_v, ci=new_ci,
                                baseline=base_v, baseline_ci=base_ci))
            continue
        checks.append(_interval_compare("index", f"{kind}_index", new_v, new_ci, base_v, base_ci,
                                        worse="up" if kind == "spurious" else "down", tol=tol["index"]))
    for name, bb in (baseline.get("benchmarks") or {}).items():
        bm = dig(bb, "metrics", "score")
        if not isinstance(bm, dict) or num(bm.get("value")) is None:
            continue
        label = f"benchmark:{name}"
        if name not in benchmarks or not isinstance(benchmarks[name], dict):
            checks.append(_missing(config, "benchmark", label, f"benchmark {name}"))
            continue
        nm = dig(benchmarks[name], "metrics", "score")
        if not isinstance(dig(benchmarks[name], "metrics"), dict):
            checks.append(Check("benchmark", label, "warn", f"{label}: unreadable in the run (no 'metrics' record)"))
            continue
        if not isinstance(nm, dict) or num(nm.get("value")) is None:
            checks.append(_missing(config, "benchmark", label, f"benchmark {name} score"))
            continue
        hib = nm.get("higher_is_better", bm.get("higher_is_better"))
        (v, ci), (bv, bci) = metric_value(nm), metric_value(bm)
        if hib not in (True, False):
            checks.append(Check("benchmark", label, "pass", f"{label}: {_f3(v)}{fmt_ci(ci)} vs baseline "
                                f"{_f3(bv)}{fmt_ci(bci)} (no higher_is_better: not judged)", value=v, ci=ci,
                                baseline=bv, baseline_ci=bci))
            continue
        checks.append(_interval_compare("benchmark", label, v, ci, bv, bci, worse="down" if hib else "up",
                                        tol=tol["benchmark"]))
    return checks


def _probe_vs_baseline(label, p, bp, tol) -> Check:
    key, v, ci = probe_metric(p)
    _, bv, bci = probe_metric(bp)
    if v is None or bv is None:
        return Check("probe", label, "warn", f"{label}: no {key.replace('_', ' ')} to compare (n = 0?)")
    worse = PROBE_METRIC.get(str(p.get("kind")), PROBE_METRIC["spurious"])[2]
    c = _interval_compare("probe", label, v, ci, bv, bci, worse=worse, tol=tol, label=key.replace("_", " "))
    return _soften(c, p)


def _interval_compare(group, name, v, ci, bv, bci, worse, tol, label=None, note="") -> Check:
    ci, bci = ci or (v, v), bci or (bv, bv)
    desc = f"{label + ' ' if label else ''}{_f3(v)}{fmt_ci(ci)} vs baseline {_f3(bv)}{fmt_ci(bci)}{note}"
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
