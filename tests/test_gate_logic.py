"""Gate rules on plain data: noise inside the CIs passes, a real regression fails, thresholds beyond the CI."""

import copy
import random

import pytest

from crome_audit.errors import InputError
from crome_audit.gate import (
    GateConfig,
    bench_ci,
    evaluate,
    index_ci,
    load_baseline,
    magnitude,
    make_baseline,
    write_baseline,
)
from crome_audit.results import read_results, write_json_atomic
from tests.report_fixtures import make_results, write_run


def _noisy_copy(results, seed, frac=0.9):
    """Re-measure the same RM: every effect moves by less than its CI half-width (pure noise)."""
    rng = random.Random(seed)
    out = copy.deepcopy(results)
    for p in out["probes"]:
        half = (p["ci_high"] - p["ci_low"]) / 2
        d = rng.uniform(-frac, frac) * half
        p["effect_size"] += d
        p["ci_low"] += d
        p["ci_high"] += d
    spur = [abs(p["effect_size"]) for p in out["probes"] if p["kind"] == "spurious"]
    caus = [-p["effect_size"] for p in out["probes"] if p["kind"] == "causal"]
    out["summary"] = {"spurious_index": sum(spur) / len(spur), "causal_index": sum(caus) / len(caus)}
    rb = out["benchmarks"]["rewardbench"]
    rb["score"] += rng.uniform(-0.01, 0.01)
    return out


def _status(outcome):
    return {c.name: c.status for c in outcome.checks}


def test_noise_only_difference_passes():
    base = make_results("rm", seed=1)
    for seed in range(5):
        out = evaluate(_noisy_copy(base, seed), GateConfig(), baseline=make_baseline(base))
        assert out.exit_code == 0, [c.message for c in out.failed]
        assert {"spurious_index", "causal_index", "benchmark:rewardbench"} <= set(_status(out))
        assert len(out.checks) >= 17 + 2 + 4


def test_real_regression_fails():
    base = make_results("rm", seed=1)
    new = copy.deepcopy(base)
    length = next(p for p in new["probes"] if p["name"] == "length_restate")
    shift = 3 * (length["ci_high"] - length["ci_low"])
    for k in ("effect_size", "ci_low", "ci_high"):
        length[k] += shift  # much more length-hackable, far outside the CI
    out = evaluate(new, GateConfig(), baseline=make_baseline(base))
    st = _status(out)
    assert st["effect:length_restate"] == "fail"
    assert [c.name for c in out.failed] == ["effect:length_restate"]
    assert out.exit_code == 1
    assert "regression outside the CIs" in out.failed[0].message


def test_causal_regression_is_a_smaller_drop():
    base = make_results("rm", seed=2)
    new = copy.deepcopy(base)
    bug = next(p for p in new["probes"] if p["name"] == "inject_bug")
    for k in ("effect_size", "ci_low", "ci_high"):
        bug[k] += 0.6  # reward drops much less when code is broken
    out = evaluate(new, GateConfig(), baseline=make_baseline(base))
    assert _status(out)["effect:inject_bug"] == "fail"
    # the improvement direction never fails
    better = copy.deepcopy(base)
    next(p for p in better["probes"] if p["name"] == "inject_bug").update(effect_size=-3.0, ci_low=-3.1, ci_high=-2.9)
    assert _status(evaluate(better, GateConfig(), baseline=make_baseline(base)))["effect:inject_bug"] == "pass"


def test_worse_within_noise_is_a_warning_and_tolerance_absorbs_regressions():
    base = make_results("rm", seed=3)
    new = copy.deepcopy(base)
    p = new["probes"][0]
    half = (p["ci_high"] - p["ci_low"]) / 2
    for k in ("effect_size", "ci_low", "ci_high"):
        p[k] += 1.5 * half  # CIs still overlap
    out = evaluate(new, GateConfig(), baseline=make_baseline(base))
    assert _status(out)[f"effect:{p['name']}"] == "warn" and out.exit_code == 0
    for k in ("effect_size", "ci_low", "ci_high"):
        p[k] += 2.0 * half  # now separated by 1.5 half-widths
    assert evaluate(new, GateConfig(), baseline=make_baseline(base)).exit_code == 1
    tol = GateConfig(tolerance={"effect": 2 * half, "index": 0.0, "benchmark": 0.0})
    assert _status(evaluate(new, tol, baseline=make_baseline(base)))[f"effect:{p['name']}"] == "warn"


def test_thresholds_are_judged_beyond_the_ci():
    res = make_results("rm", seed=4, spurious_scale=0.3)
    idx = res["summary"]["spurious_index"]
    lo, hi = index_ci(res["summary"], res["probes"], "spurious", idx)
    assert lo < idx < hi
    assert _status(evaluate(res, GateConfig(max_spurious_index=lo - 0.01)))["spurious_index"] == "fail"
    assert _status(evaluate(res, GateConfig(max_spurious_index=(lo + idx) / 2)))["spurious_index"] == "warn"
    assert _status(evaluate(res, GateConfig(max_spurious_index=hi)))["spurious_index"] == "pass"
    c_idx = res["summary"]["causal_index"]
    clo, chi = index_ci(res["summary"], res["probes"], "causal", c_idx)
    assert _status(evaluate(res, GateConfig(min_causal_index=chi + 0.01)))["causal_index"] == "fail"
    assert _status(evaluate(res, GateConfig(min_causal_index=clo)))["causal_index"] == "pass"


def test_max_effect_by_attribute_and_probe_name():
    res = make_results("rm", seed=5, spurious_scale=0.4)
    out = evaluate(res, GateConfig(max_effect={"length": 0.2, "emoji": 5.0}))
    st = _status(out)
    assert st["max_effect:length_restate"] == "fail" and st["max_effect:filler_sentences"] == "fail"
    assert st["max_effect:emoji"] == "pass"
    with pytest.raises(InputError, match="did you mean 'length'"):
        evaluate(res, GateConfig(max_effect={"lenght": 0.2}))


def test_benchmark_thresholds_and_paths():
    res = make_results("rm", seed=6)
    rb = res["benchmarks"]["rewardbench"]
    cfg = GateConfig(min_benchmark={"rewardbench": 0.3, "rewardbench.Chat Hard": 0.99, "rmbench.hard": 0.1},
                     max_benchmark={"wildguard.asr.16": 0.01, "rewordbench.mean_drop": 0.9})
    st = _status(evaluate(res, cfg))
    assert st == {"min_benchmark:rewardbench": "pass", "min_benchmark:rewardbench.Chat Hard": "fail",
                  "min_benchmark:rmbench.hard": "pass", "max_benchmark:wildguard.asr.16": "fail",
                  "max_benchmark:rewordbench.mean_drop": "pass"}
    lo, hi = bench_ci("rewardbench", rb, rb["score"])
    assert hi - lo == pytest.approx(2 * 1.959964 * (rb["score"] * (1 - rb["score"]) / (23 * 40)) ** 0.5)
    with pytest.raises(InputError, match="did you mean 'rewardbench'"):
        evaluate(res, GateConfig(min_benchmark={"rewardbnch": 0.5}))
    with pytest.raises(InputError, match="Chat Hard"):
        evaluate(res, GateConfig(min_benchmark={"rewardbench.Chat Hrad": 0.5}))
    no_bench = make_results("rm", seed=6, benchmarks=())
    assert _status(evaluate(no_bench, GateConfig(min_benchmark={"rmbench": 0.5})))["min_benchmark:rmbench"] == "fail"


def test_nothing_to_gate_is_an_input_error():
    with pytest.raises(InputError, match="nothing to gate"):
        evaluate(make_results("rm"), GateConfig())


def test_missing_probe_and_different_suite():
    base = make_results("rm", seed=7)
    new = copy.deepcopy(base)
    new["probes"] = [p for p in new["probes"] if p["name"] != "emoji"]
    out = evaluate(new, GateConfig(), baseline=make_baseline(base))
    assert _status(out)["effect:emoji"] == "warn" and out.exit_code == 0
    idx = next(c for c in out.checks if c.name == "spurious_index")
    assert "recomputed on 16 shared probes" in idx.message
    strict = evaluate(new, GateConfig(fail_on_missing=True), baseline=make_baseline(base))
    assert [c.name for c in strict.failed] == ["effect:emoji"]


def test_magnitude_interval():
    assert magnitude((-0.1, 0.3)) == (0.0, 0.3)
    assert magnitude((-0.5, -0.2)) == (0.2, 0.5)
    assert magnitude((0.2, 0.4)) == (0.2, 0.4)


def test_baseline_roundtrip_and_formats(tmp_path):
    res = read_results(write_run(tmp_path / "run", make_results("rm", seed=8)))
    path = write_baseline(res, tmp_path / "base" / "baseline.json")
    b = load_baseline(path)
    assert b["crome_audit_baseline"] == "1.0" and len(b["probes"]) == 17
    assert b["summary"]["spurious_index_ci"][0] < b["summary"]["spurious_index"] < b["summary"]["spurious_index_ci"][1]
    assert b["benchmarks"]["rewardbench"]["ci_low"] < b["benchmarks"]["rewardbench"]["score"]
    assert b["source"]["rm"] == "rm"
    # a results.json or run folder works as a baseline too, and the same run passes against itself
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


def test_probe_that_applied_to_nothing_is_not_judged():
    res = make_results("rm", seed=9)
    res["probes"][0].update(n=0, effect_size=None, ci_low=None, ci_high=None)
    out = evaluate(res, GateConfig(max_effect={res["probes"][0]["attribute"]: 10.0}))
    st = _status(out)
    assert st[f"max_effect:{res['probes'][0]['name']}"] == "warn" and out.exit_code == 0
    base = make_baseline(make_results("rm", seed=9))
    assert _status(evaluate(res, GateConfig(), baseline=base))[f"effect:{res['probes'][0]['name']}"] == "warn"


def test_sub_metric_ci_uses_its_own_sample_size():
    res = make_results("rm", seed=6)
    chat_hard = res["benchmarks"]["rewardbench"]["sections"]["Chat Hard"]
    c = evaluate(res, GateConfig(min_benchmark={"rewardbench.Chat Hard": 0.0})).checks[0]
    assert c.value == pytest.approx(chat_hard)
    assert c.ci[1] - c.ci[0] == pytest.approx(2 * 1.959964 * (chat_hard * (1 - chat_hard) / (6 * 40)) ** 0.5)
    asr = evaluate(res, GateConfig(max_benchmark={"wildguard.asr.16": 1.0})).checks[0]
    p = res["benchmarks"]["wildguard"]["asr"]["16"]
    assert asr.ci[1] - asr.ci[0] == pytest.approx(2 * 1.959964 * (p * (1 - p) / 120) ** 0.5)
    drop = evaluate(res, GateConfig(max_benchmark={"rewordbench.mean_drop": 1.0})).checks[0]
    assert drop.ci[0] == drop.ci[1] == drop.value  # not a rate: no binomial CI


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
