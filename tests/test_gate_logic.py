"""Gate rules on plain schema-2.0 data: noise inside the CIs passes, a real regression fails, thresholds
beyond the CI, benchmarks read only from ``metrics``, degenerate RMs refused."""

import ast
import copy
import inspect
import random

import pytest

import crome_audit.gate as gate_mod
from crome_audit.errors import InputError
from crome_audit.gate import GateConfig, evaluate, load_baseline, make_baseline, write_baseline
from crome_audit.results import read_results, write_json_atomic
from tests.report_fixtures import PROBES, make_results, metric, summarize, write_run


def _shift(p, key, d):
    """Move a probe metric and its CI by d (the CI key of instability / detection_rate / effect_size)."""
    if key == "effect_size":
        for k in ("effect_size", "ci_low", "ci_high"):
            p[k] += d
        return
    p[key] += d
    p[f"{key}_ci"] = [x + d for x in p[f"{key}_ci"]]


def _noisy_copy(results, seed, frac=0.9):
    """Re-measure the same RM: every judged metric moves by less than its CI half-width (pure noise)."""
    rng = random.Random(seed)
    out = copy.deepcopy(results)
    for p in out["probes"]:
        key = "instability" if p["kind"] == "spurious" else "detection_rate"
        half = (p[f"{key}_ci"][1] - p[f"{key}_ci"][0]) / 2
        _shift(p, key, rng.uniform(-frac, frac) * half)
    out["summary"] = summarize(out["probes"])
    m = out["benchmarks"]["rewardbench"]["metrics"]["score"]
    d = rng.uniform(-0.01, 0.01)
    m["value"] += d
    m["ci"] = [m["ci"][0] + d, m["ci"][1] + d]
    return out


def _status(outcome, verdicts=False):
    """Check name -> status (the per-attribute verdict checks only when asked: they have their own tests)."""
    return {c.name: c.status for c in outcome.checks if verdicts or c.group != "verdict"}


def test_noise_only_difference_passes():
    base = make_results("rm", seed=1)
    for seed in range(5):
        out = evaluate(_noisy_copy(base, seed), GateConfig(), baseline=make_baseline(base))
        assert out.exit_code == 0, [c.message for c in out.failed]
        assert {"spurious_index", "causal_index", "benchmark:rewardbench", "instability:length_filler",
                "detection:code_bug"} <= set(_status(out))
        assert len(out.checks) == 20 + 2 + 4 + 14  # probes, indices, benchmarks, attribute verdicts


def test_spurious_regression_is_more_instability():
    base = make_results("rm", seed=1)
    new = copy.deepcopy(base)
    p = next(p for p in new["probes"] if p["name"] == "length_filler")
    _shift(p, "instability", 3 * (p["instability_ci"][1] - p["instability_ci"][0]))
    out = evaluate(new, GateConfig(), baseline=make_baseline(base))
    assert [c.name for c in out.failed] == ["instability:length_filler"]
    assert out.exit_code == 1 and "regression outside the CIs" in out.failed[0].message
    # the signed bias alone is not what the probe check judges: a flipped bias with the same instability passes
    flipped = copy.deepcopy(base)
    p = next(p for p in flipped["probes"] if p["name"] == "emoji")
    p.update(effect_size=-p["effect_size"], ci_low=-p["ci_high"], ci_high=-p["ci_low"])
    assert evaluate(flipped, GateConfig(), baseline=make_baseline(base)).exit_code == 0


def test_causal_regression_is_a_lower_detection_rate():
    base = make_results("rm", seed=2)
    new = copy.deepcopy(base)
    _shift(next(p for p in new["probes"] if p["name"] == "code_bug"), "detection_rate", -0.3)
    out = evaluate(new, GateConfig(), baseline=make_baseline(base))
    assert _status(out)["detection:code_bug"] == "fail"
    better = copy.deepcopy(base)
    _shift(next(p for p in better["probes"] if p["name"] == "code_bug"), "detection_rate", +0.3)
    assert _status(evaluate(better, GateConfig(), baseline=make_baseline(base)))["detection:code_bug"] == "pass"


def test_worse_within_noise_is_a_warning_and_tolerance_absorbs_regressions():
    base = make_results("rm", seed=3)
    new = copy.deepcopy(base)
    p = new["probes"][0]
    half = (p["instability_ci"][1] - p["instability_ci"][0]) / 2
    _shift(p, "instability", 1.5 * half)  # CIs still overlap
    out = evaluate(new, GateConfig(), baseline=make_baseline(base))
    assert _status(out)[f"instability:{p['name']}"] == "warn" and out.exit_code == 0
    _shift(p, "instability", 2.0 * half)  # now separated by 1.5 half-widths
    assert evaluate(new, GateConfig(), baseline=make_baseline(base)).exit_code == 1
    tol = GateConfig(tolerance={"effect": 2 * half, "index": 0.0, "benchmark": 0.0})
    assert _status(evaluate(new, tol, baseline=make_baseline(base)))[f"instability:{p['name']}"] == "warn"


def test_index_thresholds_use_the_runs_own_ci():
    res = make_results("rm", seed=4, spurious_scale=0.3)
    idx, (lo, hi) = res["summary"]["spurious_index"], res["summary"]["spurious_index_ci"]
    assert lo < idx < hi
    assert _status(evaluate(res, GateConfig(max_spurious_index=lo - 0.01)))["spurious_index"] == "fail"
    assert _status(evaluate(res, GateConfig(max_spurious_index=(lo + idx) / 2)))["spurious_index"] == "warn"
    assert _status(evaluate(res, GateConfig(max_spurious_index=hi)))["spurious_index"] == "pass"
    c_idx, (clo, chi) = res["summary"]["causal_index"], res["summary"]["causal_index_ci"]
    assert _status(evaluate(res, GateConfig(min_causal_index=chi + 0.01)))["causal_index"] == "fail"
    assert _status(evaluate(res, GateConfig(min_causal_index=clo)))["causal_index"] == "pass"
    check = evaluate(res, GateConfig(min_causal_index=0.0)).checks[0]
    assert check.value == c_idx and check.ci == (clo, chi)
    # no CI in the summary: the gate invents none, the point estimate is the interval
    del res["summary"]["spurious_index_ci"]
    assert _status(evaluate(res, GateConfig(max_spurious_index=idx - 1e-6)))["spurious_index"] == "fail"


def test_max_effect_limits_instability_by_attribute_and_probe_name():
    res = make_results("rm", seed=5, spurious_scale=0.4)
    attrs = res["summary"]["spurious_attributes"]
    length = attrs["length"]
    out = evaluate(res, GateConfig(max_effect={"length": length["ci"][0] - 0.01, "emoji": 5.0,
                                               "sycophancy_agree": 5.0}))
    st = _status(out)
    assert st == {"max_effect:length": "fail", "max_effect:emoji": "pass", "max_effect:sycophancy_agree": "pass"}
    c = out.checks[0]
    assert c.value == length["value"] and c.ci == tuple(length["ci"]) and "instability" in c.message
    with pytest.raises(InputError, match="did you mean 'length'"):
        evaluate(res, GateConfig(max_effect={"lenght": 0.2}))


def test_benchmarks_are_read_from_metrics_only():
    res = make_results("rm", seed=6)
    rb = res["benchmarks"]["rewardbench"]["metrics"]
    cfg = GateConfig(min_benchmark={"rewardbench": 0.3, "rewardbench.Chat Hard": 0.99, "rmbench.hard": 0.1},
                     max_benchmark={"wildguard.asr.16": 0.01, "rewordbench.mean_drop": 0.9})
    out = evaluate(res, cfg)
    assert _status(out) == {"min_benchmark:rewardbench": "pass", "min_benchmark:rewardbench.Chat Hard": "fail",
                            "min_benchmark:rmbench.hard": "pass", "max_benchmark:wildguard.asr.16": "fail",
                            "max_benchmark:rewordbench.mean_drop": "pass"}
    first = out.checks[0]
    assert first.value == rb["score"]["value"] and first.ci == tuple(rb["score"]["ci"])  # the metric's own CI
    with pytest.raises(InputError, match="did you mean 'rewardbench'"):
        evaluate(res, GateConfig(min_benchmark={"rewardbnch": 0.5}))
    with pytest.raises(InputError, match="did you mean 'Chat Hard'"):
        evaluate(res, GateConfig(min_benchmark={"rewardbench.Chat Hrad": 0.5}))
    no_bench = make_results("rm", seed=6, benchmarks=())
    assert _status(evaluate(no_bench, GateConfig(min_benchmark={"rmbench": 0.5})))["min_benchmark:rmbench"] == "fail"
    # a benchmark the gate has never heard of works the same way
    res["benchmarks"]["my-bench"] = {"score": 0.2, "metrics": {"score": metric(0.2, 500),
                                                               "latency_s": metric(3.0, None, False, ci=[2.5, 3.5])}}
    st = _status(evaluate(res, GateConfig(min_benchmark={"my-bench": 0.5}, max_benchmark={"my-bench.latency_s": 2})))
    assert st == {"min_benchmark:my-bench": "fail", "max_benchmark:my-bench.latency_s": "fail"}
    # a benchmark without metrics is unreadable: a warning, not a crash or a silent pass
    res["benchmarks"]["old-bench"] = {"score": 0.9}
    c = evaluate(res, GateConfig(min_benchmark={"old-bench": 0.5})).checks[0]
    assert c.status == "warn" and "unreadable" in c.message


def _string_constants(module) -> set:
    return {n.value for n in ast.walk(ast.parse(inspect.getsource(module)))
            if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def test_gate_has_no_per_benchmark_branches():
    """No benchmark is special-cased: no benchmark name is a string the gate compares or looks up."""
    assert not {"rewardbench", "rewordbench", "wildguard", "rmbench"} & _string_constants(gate_mod)
    assert not hasattr(gate_mod, "KNOWN_BENCHMARKS") and not hasattr(gate_mod, "_bench_n")


def test_baseline_benchmark_direction_comes_from_higher_is_better():
    base = make_results("rm", seed=7)
    new = copy.deepcopy(base)
    drop = new["benchmarks"]["rewordbench"]["metrics"]
    drop["score"].update(higher_is_better=False)  # pretend the headline is a lower-is-better drop
    base2 = copy.deepcopy(base)
    base2["benchmarks"]["rewordbench"]["metrics"]["score"].update(higher_is_better=False)
    drop["score"].update(value=0.95, ci=[0.94, 0.96])
    out = evaluate(new, GateConfig(), baseline=make_baseline(base2))
    assert _status(out)["benchmark:rewordbench"] == "fail"
    drop["score"].update(value=0.05, ci=[0.04, 0.06])
    assert _status(evaluate(new, GateConfig(), baseline=make_baseline(base2)))["benchmark:rewordbench"] == "pass"


def test_nothing_to_gate_is_an_input_error():
    with pytest.raises(InputError, match="nothing to gate"):
        evaluate(make_results("rm"), GateConfig())


def test_missing_probe_and_different_suite():
    base = make_results("rm", seed=7)
    new = copy.deepcopy(base)
    new["probes"] = [p for p in new["probes"] if p["name"] != "emoji"]
    new["summary"] = summarize(new["probes"])
    out = evaluate(new, GateConfig(), baseline=make_baseline(base))
    st = _status(out)
    assert st["instability:emoji"] == "warn" and out.exit_code == 0
    idx = next(c for c in out.checks if c.name == "spurious_index")
    assert idx.status == "warn" and "different probe suites" in idx.message
    strict = evaluate(new, GateConfig(fail_on_missing=True), baseline=make_baseline(base))
    assert [c.name for c in strict.failed] == ["instability:emoji"]


def test_baseline_roundtrip_and_formats(tmp_path):
    res = read_results(write_run(tmp_path / "run", make_results("rm", seed=8)))
    path = write_baseline(res, tmp_path / "base" / "baseline.json")
    b = load_baseline(path)
    assert b["crome_audit_baseline"] == gate_mod.BASELINE_VERSION and len(b["probes"]) == 20
    assert b["summary"]["spurious_index_ci"] == res["summary"]["spurious_index_ci"]
    assert b["summary"]["spurious_attributes"] == res["summary"]["spurious_attributes"]
    assert {"instability", "instability_ci", "detection_rate", "detection_rate_ci", "insufficient_n"} <= set(
        b["probes"][0])
    assert b["benchmarks"]["rewardbench"]["metrics"] == res["benchmarks"]["rewardbench"]["metrics"]
    assert b["source"]["rm"] == "rm" and b["source"]["schema_version"] == gate_mod.BASELINE_VERSION
    assert load_baseline(tmp_path / "run")["probes"] == b["probes"]
    assert evaluate(res, GateConfig(), baseline=b).exit_code == 0
    bad = tmp_path / "bad.json"
    write_json_atomic(bad, {"hello": 1})
    with pytest.raises(InputError, match="not a crome-audit baseline"):
        load_baseline(bad)
    bad.write_text("{oops", encoding="utf-8")
    with pytest.raises(InputError, match="invalid JSON"):
        load_baseline(bad)
    with pytest.raises(InputError, match="no such baseline"):
        load_baseline(tmp_path / "nope.json")
    with pytest.raises(InputError, match="is a folder"):
        write_baseline(res, tmp_path)
    old = tmp_path / "old.json"
    write_json_atomic(old, {"crome_audit_baseline": "1.0", "probes": [], "summary": {}, "benchmarks": {}})
    with pytest.raises(InputError, match=r"baseline version 1\.0 .*before schema 3\.0.*--write-baseline"):
        load_baseline(old)
    old_run = tmp_path / "old-run" / "results.json"
    write_json_atomic(old_run, {**make_results("rm"), "schema_version": "1.0"})
    with pytest.raises(InputError, match="schema_version 1.0 is not supported"):
        load_baseline(old_run)


def test_probe_that_applied_to_nothing_is_not_judged():
    res = make_results("rm", seed=9)
    res["probes"][0].update(n=0, effect_size=None, ci_low=None, ci_high=None, instability=None,
                            instability_ci=None)
    out = evaluate(res, GateConfig(max_effect={res["probes"][0]["name"]: 10.0}))
    assert _status(out)[f"max_effect:{res['probes'][0]['name']}"] == "warn" and out.exit_code == 0
    base = make_baseline(make_results("rm", seed=9))
    assert _status(evaluate(res, GateConfig(), baseline=base))[f"instability:{res['probes'][0]['name']}"] == "warn"


def test_insufficient_n_probe_is_shown_but_never_fails():
    base = make_results("rm", seed=10, insufficient=("emoji",))
    new = copy.deepcopy(base)
    _shift(next(p for p in new["probes"] if p["name"] == "emoji"), "instability", 5.0)
    out = evaluate(new, GateConfig(max_effect={"emoji": 0.01}), baseline=make_baseline(base))
    st = _status(out)
    assert st["instability:emoji"] == "warn" and st["max_effect:emoji"] == "warn" and out.exit_code == 0
    assert "insufficient n" in next(c for c in out.checks if c.name == "instability:emoji").message


def test_degenerate_rm_fails_unless_allowed():
    reasons = ("constant RM: clean margin SD 0", "clean accuracy 50.0% [43.1%, 56.9%] is within chance")
    res = make_results("constant", seed=11, degenerate=reasons)
    out = evaluate(res, GateConfig(max_spurious_index=10.0))
    assert [c.name for c in out.failed] == ["degenerate"] and out.exit_code == 1
    assert all(r in out.failed[0].message for r in reasons) and "--allow-degenerate" in out.failed[0].message
    ok = evaluate(res, GateConfig(max_spurious_index=10.0, allow_degenerate=True))
    assert ok.exit_code == 0 and _status(ok)["degenerate"] == "warn"
    assert "degenerate" not in _status(evaluate(make_results("fine", seed=11), GateConfig(max_spurious_index=10.0)))


def test_output_formats_escape_what_they_must():
    from xml.etree import ElementTree as ET

    from crome_audit.gate import Check, Outcome
    from crome_audit.gate_output import github_annotations, junit_xml, markdown_summary

    out = Outcome([Check("probe", "effect:a,b:c", "fail", "100% worse\nsee <docs> & | pipes", value=1.0),
                   Check("index", "causal_index", "warn", "drifted"), Check("index", "spurious_index", "pass", "ok")])
    ann = github_annotations(out)
    assert ann == ["::error title=crome-audit gate%3A effect%3Aa%2Cb%3Ac::100%25 worse%0Asee <docs> & | pipes",
                   "::warning title=crome-audit gate%3A causal_index::drifted"]
    md = markdown_summary(out, "my|rm")
    assert "`my\\|rm`" in md and "see <docs> & \\| pipes" in md and "\n\n" in md
    assert md.index("❌") < md.index("⚠️") < md.index("| ✅ |")  # failures first
    root = ET.fromstring(junit_xml(out).split("\n", 1)[1])
    cases = root.find("testsuite").findall("testcase")
    assert [c.get("name") for c in cases] == ["effect:a,b:c", "causal_index", "spurious_index"]
    assert cases[0].find("failure").get("message") == "100% worse\nsee <docs> & | pipes"
    assert cases[1].find("system-out").text == "WARNING: drifted" and cases[2].find("failure") is None


def test_fixture_probes_are_the_default_suite():
    """The fixtures use the real probe names, so gate/report tests exercise what a real run writes."""
    from crome_audit.probes.suite import load_suite

    assert [p[0] for p in PROBES] == [p.name for p in load_suite("default").probes]
