"""``crome-audit gate`` end to end: one test per exit code, JUnit XML parsed, GitHub annotations and step
summary, --write-baseline. Runs the real console script in a subprocess where the exit code matters."""

import copy
import json
import os
import subprocess
import sys
from xml.etree import ElementTree as ET

import pytest
from click.testing import CliRunner

from crome_audit.cli import main
from tests.report_fixtures import make_results, summarize, write_run


def _gate(*args, env=None):
    e = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "crome_audit", "gate", *map(str, args)], capture_output=True,
                          text=True, env=e, timeout=120)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("gate-runs")
    base = make_results("rm", seed=11, spurious_scale=0.3)
    regressed = copy.deepcopy(base)
    for p in regressed["probes"]:
        if p["attribute"] in ("length", "formatting"):
            p["instability"] += 0.8
            p["instability_ci"] = [x + 0.8 for x in p["instability_ci"]]
    regressed["summary"] = summarize(regressed["probes"])
    constant = make_results("constant", seed=11, degenerate=("constant RM: clean margin SD 0",))
    return {"base": write_run(root / "base", base), "regressed": write_run(root / "regressed", regressed),
            "constant": write_run(root / "constant", constant), "root": root}


def test_exit_0_pass_with_baseline_written_by_write_baseline(runs, tmp_path):
    r = _gate(runs["base"], "--write-baseline", tmp_path / "baseline.json")
    assert r.returncode == 0 and "baseline written" in r.stdout
    base = json.loads((tmp_path / "baseline.json").read_text())
    assert base["crome_audit_baseline"] == "3.0" and base["summary"]["spurious_index_ci"]
    r = _gate(runs["base"], "--baseline", tmp_path / "baseline.json", "--junit", tmp_path / "gate.xml")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "gate PASSED" in r.stdout
    root = ET.parse(tmp_path / "gate.xml").getroot()
    assert root.tag == "testsuites" and root.find("testsuite").get("failures") == "0"


def test_exit_1_regression_with_junit_annotations_and_summary(runs, tmp_path):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    r = _gate(runs["regressed"], "--baseline", runs["base"], "--junit", tmp_path / "out" / "gate.xml",
              "--max-spurious-index", "5", env={"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)})
    assert r.returncode == 1, r.stdout + r.stderr
    assert "gate FAILED" in r.stdout and "Traceback" not in r.stderr
    # JUnit: one test case per gated metric, failures where the regression is
    suite = ET.parse(tmp_path / "out" / "gate.xml").getroot().find("testsuite")
    cases = suite.findall("testcase")
    failed = sorted(c.get("name") for c in cases if c.find("failure") is not None)
    assert failed == ["instability:format_markdown", "instability:format_strip", "instability:length_filler",
                      "spurious_index"]
    assert int(suite.get("tests")) == len(cases) == 20 + 2 + 4 + 1 + 14  # + one verdict per attribute
    assert int(suite.get("failures")) == 4
    assert all(c.get("classname").startswith("crome_audit.gate.") for c in cases)
    length = next(c for c in cases if c.get("name") == "instability:length_filler")
    assert "regression outside the CIs" in length.find("failure").get("message")
    assert length.find("failure").text == length.find("failure").get("message")
    # GitHub annotations, escaped per the workflow-command rules
    errors = [ln for ln in r.stdout.splitlines() if ln.startswith("::error ")]
    assert len(errors) == 4
    assert any(ln.startswith("::error title=crome-audit gate%3A instability%3Alength_filler::") for ln in errors)
    # step summary appended, as a Markdown table
    md = summary.read_text(encoding="utf-8")
    assert md.startswith("earlier step\n") and "crome-audit gate failed" in md
    assert "| ❌ | instability:length_filler |" in md and "| ✅ | causal_index |" in md


def test_exit_1_threshold_only(runs):
    r = _gate(runs["base"], "--max-effect", "length=0.05", "--min-benchmark", "rewardbench=0.2", "-q")
    assert r.returncode == 1
    assert "FAIL  max_effect:length instability" in r.stdout and "PASS" not in r.stdout
    assert "::error" not in r.stdout  # not on GitHub: no annotations unless --github


@pytest.mark.parametrize("args, message", [
    ([], "nothing to gate"),
    (["--max-effect", "length"], "expected NAME=NUMBER"),
    (["--min-benchmark", "rewardbench=high"], "is not a number"),
    (["--tolerance", "speed=1"], "unknown kind"),
    (["--tolerance", "-1"], "must be >= 0"),
    (["--max-effect", "lenght=0.1"], "did you mean 'length'"),
    (["--min-benchmark", "rewardbnch=0.5"], "did you mean 'rewardbench'"),
    (["--min-benchmark", "rewardbench.Chat Hrad=0.5"], "did you mean 'Chat Hard'"),
    (["--max-spurious-index", "low"], "is not a number"),
    (["--baseline", "missing.json"], "no such baseline file"),
])
def test_exit_2_usage_and_input_errors(runs, args, message):
    r = _gate(runs["base"], *args)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert message in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


NON_FINITE = ["nan", "inf", "-inf", "NaN", "+Infinity"]


@pytest.mark.parametrize("value", NON_FINITE)
@pytest.mark.parametrize("option", ["--tolerance", "--tolerance effect=", "--max-spurious-index",
                                    "--min-causal-index", "--max-effect length=", "--min-benchmark rewardbench=",
                                    "--max-benchmark rewordbench.mean_drop="])
def test_exit_2_non_finite_numbers(runs, option, value):
    """NaN compares false with everything and inf passes every limit: each would switch a check off, so each is
    refused with one line (issue 11, defect 1). Gated against the regressed run: exit 0 here would be the bug."""
    flag, _, key = option.partition(" ")
    r = _gate(runs["regressed"], "--baseline", runs["base"], flag, f"{key}{value}")
    assert r.returncode == 2, (option, value, r.returncode, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "not a finite number" in lines[0] and flag in lines[0], r.stderr
    assert r.stdout == ""


def test_exit_2_bad_run_file(tmp_path):
    bad = tmp_path / "results.json"
    bad.write_text('{"schema_version": "2.0"}', encoding="utf-8")
    r = _gate(bad, "--max-spurious-index", "1")
    assert r.returncode == 2 and "missing rm, data" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_exit_3_internal_error_is_one_line(runs, monkeypatch):
    """An unexpected exception inside the gate (injected here) gives exit 3 and one line, not a traceback."""
    import crome_audit.gate as gate_mod

    def broken(*a, **k):
        raise RuntimeError("simulated bug in evaluate")

    monkeypatch.setattr(gate_mod, "evaluate", broken)
    monkeypatch.delenv("CROME_AUDIT_DEBUG", raising=False)
    r = CliRunner().invoke(main, ["gate", str(runs["base"]), "--max-spurious-index", "1"])
    assert r.exit_code == 3
    assert "internal error: RuntimeError: simulated bug in evaluate" in r.output
    assert "Traceback" not in r.output


def test_degenerate_rm_fails_unless_allowed(runs, tmp_path):
    r = _gate(runs["constant"], "--max-spurious-index", "10")
    assert r.returncode == 1 and "FAIL  degenerate: the RM is flagged degenerate (constant RM" in r.stdout
    assert "--allow-degenerate" in r.stdout
    r = _gate(runs["constant"], "--max-spurious-index", "10", "--allow-degenerate")
    assert r.returncode == 0 and "WARN  degenerate" in r.stdout
    r = _gate(runs["constant"], "--write-baseline", tmp_path / "b.json")
    assert r.returncode == 0 and "warning: the baseline RM is flagged degenerate" in r.stderr


def test_step_summary_on_pass_and_github_flag(runs, tmp_path):
    summary = tmp_path / "s.md"
    r = _gate(runs["base"], "--baseline", runs["base"], "--github", env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert r.returncode == 0
    assert "::error" not in r.stdout
    assert "crome-audit gate passed" in summary.read_text(encoding="utf-8")


def test_example_workflow_uses_real_options():
    """The shipped GitHub Actions example parses and only uses options `gate` really has."""
    import re
    from pathlib import Path

    import yaml

    wf = Path(__file__).resolve().parents[1] / "examples" / "github-actions-gate.yml"
    steps = yaml.safe_load(wf.read_text(encoding="utf-8"))["jobs"]["audit"]["steps"]
    gate_cmds = [s["run"] for s in steps if "crome-audit gate" in s.get("run", "")]
    assert gate_cmds
    help_text = CliRunner().invoke(main, ["gate", "--help"]).output
    used = {o for cmd in gate_cmds for o in re.findall(r"(--[a-z][a-z-]+)", cmd)}
    assert used and all(o in help_text for o in used), used - {o for o in used if o in help_text}


def test_unwritable_outputs(runs, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    r = _gate(runs["base"], "--max-spurious-index", "5", "--junit", blocker / "gate.xml")
    assert r.returncode == 2 and "--junit" in r.stderr and "cannot write" in r.stderr
    # a step summary that cannot be written is a warning; the verdict's exit code stands
    r = _gate(runs["regressed"], "--baseline", runs["base"], env={"GITHUB_STEP_SUMMARY": str(tmp_path)})
    assert r.returncode == 1 and "warning: GITHUB_STEP_SUMMARY" in r.stderr
