"""``crome-audit demo``: verdict lines read the schema 3.0 per-attribute numbers and verdicts; the whole demo runs on a tiny
model (BT and Crome trained, both audited, side-by-side report, timings, one verdict line per attribute)."""

import json

import pytest
from click.testing import CliRunner

from crome_audit.cli import main
from crome_audit.cli.demo_cmd import demo_recipe, verdict_lines


def _res(spurious, causal, degenerate=()):
    return {"summary": {"spurious_attributes": {a: {"value": v, "ci": ci, "verdict": vd}
                                                for a, (v, ci, vd) in spurious.items()},
                        "causal_attributes": {a: {"value": v, "ci": ci, "verdict": vd}
                                              for a, (v, ci, vd) in causal.items()},
                        "degenerate": {"flagged": bool(degenerate), "reasons": list(degenerate)}}}


BT = ({"formatting": (0.40, [0.35, 0.45], "sensitive"), "length": (0.20, [0.10, 0.30], "inconclusive")},
      {"relevance": (0.30, [0.20, 0.40], "detects")})
CROME = ({"formatting": (0.10, [0.08, 0.12], "robust"), "length": (0.25, [0.15, 0.35], "inconclusive")},
         {"relevance": (0.60, [0.50, 0.70], "detects")})


def test_verdict_lines_from_schema_3_attributes():
    lines = verdict_lines(_res(*BT), _res(*CROME), tied={"formatting"})
    assert lines[0] == "BT: sensitive to formatting; inconclusive on length; detects relevance"
    assert lines[1] == "Crome: inconclusive on length; robust to formatting; detects relevance"
    assert lines[2] == ("formatting (tied in training): Crome moved 75% less than BT under formatting edits "
                        "(style share 0.10 [0.08, 0.12] vs 0.40 [0.35, 0.45]; lower is better)")
    assert lines[3].startswith("length (held out): Crome moved 25% more than BT") and "CIs overlap" in lines[3]
    assert lines[4].startswith("relevance (causal): Crome detects relevance degradations better than BT")
    assert len(lines) == 5


def test_no_comparison_lines_for_a_degenerate_rm():
    """The terminal agrees with the report: an RM flagged degenerate is never compared."""
    lines = verdict_lines(_res(*BT, degenerate=["clean pairwise accuracy 0.530 is within chance"]), _res(*CROME))
    assert lines[1] == "BT is flagged degenerate: clean pairwise accuracy 0.530 is within chance"
    assert lines[-1].startswith("No comparison between the RMs: BT is flagged degenerate")
    assert not any("moved" in line or "detects relevance degradations" in line for line in lines)


def test_recipes_differ_only_in_the_method_sections():
    bt = demo_recipe("bt", "tiny-random:bert", 10, 64, 0, None)
    crome = demo_recipe("crome", "tiny-random:bert", 10, 64, 0, "/x/bt")
    assert {k: v for k, v in crome.items() if k not in ("method", "augment", "filter")} == \
        {k: v for k, v in bt.items() if k != "method"}
    assert crome["augment"]["style_ties"] and crome["filter"]["baseline"] == "/x/bt"


@pytest.mark.slow
def test_demo_end_to_end_on_a_tiny_model(tmp_path):
    out = tmp_path / "demo"
    res = CliRunner().invoke(main, ["demo", "--model", "tiny", "--steps", "3", "--limit", "12", "--max-length", "64",
                                    "--out", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    assert (out / "report.html").is_file() and f"report: {out / 'report.html'}" in res.output
    timings = json.loads((out / "demo_timings.json").read_text())
    assert set(timings["seconds"]) == {"train_bt", "train_crome", "audit_bt", "audit_crome", "report", "total"}
    assert timings["verdicts"] and all(line in res.output for line in timings["verdicts"])
    for m in ("bt", "crome"):
        r = json.loads((out / f"audit-{m}" / "results.json").read_text())
        assert r["benchmarks"]["rewardbench"]["n"] == 249
    info = json.loads((out / "models" / "crome" / "crome_training.json").read_text())
    assert info["method"] == "crome" and "tied_attributes" in info
