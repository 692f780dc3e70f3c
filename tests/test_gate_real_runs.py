"""The gate on real ``crome-audit run`` outputs (quick suite, 80 bundled pairs, model-free RMs, ~20 s):
re-running with another seed is noise and passes; a length-biased twin of a style-blind RM fails.

Needs the schema-2.0 metrics from crome_audit/audit.py (instability, detection rates, index CIs); until a run
carries them, the tests skip with that reason instead of testing the old numbers."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from crome_audit.cli import main
from crome_audit.report import render_report
from crome_audit.results import read_results

ROOT = Path(__file__).resolve().parents[1]
BIASED_RM = f'''
import sys
sys.path.insert(0, {str(ROOT)!r})
from tests.style_blind_rm import score as style_blind

def score(prompts, responses):
    """The style-blind RM plus a reward for every word: a length hack."""
    return [s + 0.05 * len(r.split()) for s, r in zip(style_blind(prompts, responses), responses)]
'''


def _run(out, rm, seed=0):
    r = CliRunner().invoke(main, ["run", "--rm", rm, "--suite", "quick", "--limit", "80", "--seed", str(seed),
                                  "--out", str(out), "--quiet", "--no-report"])
    assert r.exit_code == 0, r.output
    res = read_results(out)
    if not any("instability" in p for p in res["probes"]) or "spurious_index_ci" not in res["summary"]:
        pytest.skip("crome_audit/audit.py does not write the schema-2.0 metrics yet (instability, index CIs)")
    return out


@pytest.fixture(scope="module")
def real_runs(tmp_path_factory, monkeypatch_module):
    root = tmp_path_factory.mktemp("real-runs")
    monkeypatch_module.setenv("CROME_AUDIT_CACHE", str(root / "scores.sqlite"))
    monkeypatch_module.syspath_prepend(str(ROOT))
    (root / "biased_rm.py").write_text(BIASED_RM, encoding="utf-8")
    return {"len0": _run(root / "len0", "length", seed=0), "len1": _run(root / "len1", "length", seed=1),
            "blind": _run(root / "blind", "py:tests.style_blind_rm:score"),
            "biased": _run(root / "biased", f"py:{root / 'biased_rm.py'}:score"), "root": root}


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def test_another_seed_is_noise_and_passes(real_runs, tmp_path):
    # the length RM is at chance on the bundled pairs, so its run is flagged degenerate: refused by default ...
    r = CliRunner().invoke(main, ["gate", str(real_runs["len1"]), "--baseline", str(real_runs["len0"])])
    assert r.exit_code == 1 and "FAIL  degenerate: the RM is flagged degenerate" in r.output
    # ... and with --allow-degenerate the rest is noise: nothing fails
    r = CliRunner().invoke(main, ["gate", str(real_runs["len1"]), "--baseline", str(real_runs["len0"]),
                                  "--junit", str(tmp_path / "g.xml"), "--allow-degenerate"])
    assert r.exit_code == 0, r.output
    assert "gate PASSED" in r.output and "FAIL" not in r.output


def test_length_hack_is_a_regression(real_runs):
    allow = ["--allow-degenerate"]  # the bundled 80 pairs leave these model-free RMs near chance accuracy
    r = CliRunner().invoke(main, ["gate", str(real_runs["biased"]), "--baseline", str(real_runs["blind"]), *allow])
    assert r.exit_code == 1, r.output
    assert "FAIL  instability:length_filler: regression outside the CIs" in r.output
    assert "FAIL  spurious_index: regression outside the CIs" in r.output
    # the other direction is an improvement, never a failure
    r = CliRunner().invoke(main, ["gate", str(real_runs["blind"]), "--baseline", str(real_runs["biased"]), *allow])
    assert r.exit_code == 0, r.output
    # and a threshold on the length attribute catches it without any baseline
    r = CliRunner().invoke(main, ["gate", str(real_runs["biased"]), "--max-effect", "length=0.05", *allow])
    assert r.exit_code == 1 and "FAIL  max_effect:length instability" in r.output


def test_report_of_real_runs(real_runs):
    runs = [read_results(real_runs[k]) for k in ("len0", "blind", "biased")]
    html = render_report(runs, real_runs["root"] / "report.html").read_text(encoding="utf-8")
    assert "Compared on what the runs share" not in html  # same data, same suite
    assert "length reference" in html and "noise reference" in html
