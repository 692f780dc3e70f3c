"""The gate reads the attribute verdicts: an audit that measured nothing is never a pass.

Real audits of model-free control RMs (crome_audit/controls.py) on real RewardBench rows, through the CLI:
25 pairs leave every probe under the 30-prompt minimum, so every index is missing and every verdict is
inconclusive; that fails unless --allow-inconclusive (schema 2 printed "gate PASSED" here). A baseline
written before schema 3 is refused with one line that says why.

    python -m pytest -q tests/test_gate_verdicts.py
"""

import json
import os
import subprocess
import sys

import pytest

from crome_audit.gate import GateConfig, evaluate, make_baseline


def _cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "crome_audit", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=600)


@pytest.fixture(scope="module")
def env(shared_data):
    e = dict(os.environ, CROME_AUDIT_CONTROL_REFERENCE=str(shared_data / "rewardbench" / "filtered.jsonl"),
             HF_HUB_OFFLINE="1")
    return e


@pytest.fixture(scope="module")
def runs(tmp_path_factory, shared_data, env):
    tmp = tmp_path_factory.mktemp("gate-verdicts")
    rows = [json.loads(line) for line in open(shared_data / "rewardbench" / "filtered.jsonl", encoding="utf-8")]
    small, big = tmp / "small.jsonl", tmp / "big.jsonl"
    small.write_text("".join(json.dumps(r) + "\n" for r in rows[::120][:25]), encoding="utf-8")
    big.write_text("".join(json.dumps(r) + "\n" for r in rows[::8]), encoding="utf-8")
    out = {}
    for name, rm, data in (("tiny_bonus", "py:crome_audit.controls:length_bonus", small),
                           ("blind", "py:crome_audit.controls:style_blind", big),
                           ("markdown", "py:crome_audit.controls:zoo_L0_M2_F0", big)):
        r = _cli("run", "--rm", rm, "--data", data, "--out", tmp / name, "--no-cache", "-q", env=env)
        assert r.returncode == 0, r.stderr
        out[name] = tmp / name
    return out


def test_a_run_that_measured_nothing_fails_unless_allowed(runs, env):
    r = _cli("gate", runs["tiny_bonus"], "--baseline", runs["blind"], "--allow-degenerate", env=env)
    assert r.returncode == 1, r.stdout
    assert "spurious_index: missing" in r.stdout and "inconclusive" in r.stdout
    allowed = _cli("gate", runs["tiny_bonus"], "--baseline", runs["blind"], "--allow-degenerate",
                   "--allow-inconclusive", env=env)
    assert allowed.returncode == 0, allowed.stdout


def test_a_baseline_without_an_index_fails(runs):
    from crome_audit.results import read_results

    run = read_results(runs["blind"])
    base = make_baseline(run)
    base["summary"]["spurious_index"] = float("nan")
    out = evaluate(run, GateConfig(), baseline=base)
    assert any(c.name == "baseline:spurious_index" and c.status == "fail" for c in out.checks)
    assert evaluate(run, GateConfig(allow_inconclusive=True), baseline=base).exit_code == 0


def test_robust_in_the_baseline_and_sensitive_now_fails(runs, env):
    r = _cli("gate", runs["markdown"], "--baseline", runs["blind"], env=env)
    assert r.returncode == 1
    assert "verdict:formatting: robust in the baseline, sensitive now" in r.stdout
    # the style-blind scorer's code detection (0.53) sits at the 0.1 floor: inconclusive, so it needs the flag
    same = _cli("gate", runs["blind"], "--baseline", runs["blind"], "--allow-inconclusive", env=env)
    assert same.returncode == 0, same.stdout


def test_a_schema_2_baseline_is_refused_with_the_reason(runs, tmp_path, env):
    old = tmp_path / "baseline.json"
    old.write_text(json.dumps({"crome_audit_baseline": "2.0", "probes": [], "summary": {}, "benchmarks": {}}),
                   encoding="utf-8")
    r = _cli("gate", runs["blind"], "--baseline", old, env=env)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "clean-margin SD" in r.stderr and "--write-baseline" in r.stderr
    res = json.loads((runs["blind"] / "results.json").read_text(encoding="utf-8"))
    res["schema_version"] = "2.0"
    (tmp_path / "old-run").mkdir()
    (tmp_path / "old-run" / "results.json").write_text(json.dumps(res), encoding="utf-8")
    r = _cli("gate", tmp_path / "old-run", "--max-spurious-index", "0.5", env=env)
    assert r.returncode == 2 and "schema 2" in r.stderr and "re-run the audit" in r.stderr
