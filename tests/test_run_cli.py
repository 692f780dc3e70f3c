"""`crome-audit run` end to end: length baseline, a style-blind py: RM, determinism, cache, batch size,
bad input -> exit 2 with nothing written."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from crome_audit.cli import main
from crome_audit.results import read_results

ROOT = Path(__file__).resolve().parents[1]
STYLE_BLIND = f"py:{ROOT / 'tests' / 'style_blind_rm.py'}:score"


def run(args, env=None):
    result = CliRunner().invoke(main, ["run", "--quiet", *args], catch_exceptions=False, env=env)
    return result


def probes_by_name(out):
    return {p["name"]: p for p in json.loads((Path(out) / "results.json").read_text())["probes"]}


def test_length_rm_on_sample(tmp_path):
    out = tmp_path / "len"
    res = run(["--rm", "length", "--out", str(out)])
    assert res.exit_code == 0, res.output
    results = read_results(out)
    for key in ("schema_version", "rm", "data", "config", "versions", "probes", "summary"):
        assert key in results
    assert results["data"]["n"] == 200 and len(results["data"]["sha256"]) == 64
    p = {r["name"]: r for r in results["probes"]}
    # the length RM does not respond to substance (every counted causal probe keeps the length): no unit D,
    # so no effect size; every style edit that adds tokens is all of its movement (style share 1)
    assert results["summary"]["substance_drop"]["value"] == 0 and p["length_filler"]["effect_size"] is None
    # pure filler adds ~28 tokens; the restatement, ~18 more, is prompt_echo's
    assert p["length_filler"]["mean_delta"] > 20 and p["length_filler"]["instability"] == 1.0
    assert p["length_filler"]["p_value"] < 1e-10
    assert 0 < p["prompt_echo"]["mean_delta"] < p["length_filler"]["mean_delta"]
    assert results["summary"]["spurious_attributes"]["length"]["verdict"] == "sensitive"
    for keep_length in ("whitespace_noise", "factual_numbers", "factual_dates", "factual_entities",
                        "math_wrong_answer"):
        assert p[keep_length]["mean_delta"] == 0, keep_length
    assert (out / "samples.jsonl").is_file() and (out / "report.html").is_file()
    n_samples = sum(1 for _ in open(out / "samples.jsonl"))
    assert n_samples == results["engine"]["requested"]
    assert results["reference"]["length"]["summary"]["spurious_index"] == pytest.approx(
        results["summary"]["spurious_index"])


def test_style_blind_py_rm(tmp_path):
    out = tmp_path / "blind"
    assert run(["--rm", STYLE_BLIND, "--out", str(out), "--no-report"]).exit_code == 0
    p = probes_by_name(out)
    for name, row in p.items():
        if row["kind"] == "spurious" and row["n"]:
            assert row["ci_low"] <= 1e-9 and row["ci_high"] >= -1e-9, (name, row["ci_low"], row["ci_high"])
    for name in ("irrelevant_answer", "incomplete_truncate"):  # causal probes this RM can see
        assert p[name]["ci_high"] < 0 and p[name]["p_value"] < 0.01, name


def test_same_run_twice_identical_and_cached(tmp_path, tiny_encoder_rm):
    env = {"CROME_AUDIT_CACHE": str(tmp_path / "shared-cache.sqlite")}
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    args = ["--rm", tiny_encoder_rm, "--limit", "20", "--no-report", "--max-length", "128"]
    first = run([*args, "--out", str(a)], env=env)
    second = run([*args, "--out", str(b)], env=env)
    assert first.exit_code == 0 and second.exit_code == 0
    assert "no forward passes" in second.output and "no forward passes" not in first.output
    ra, rb = read_results(a), read_results(b)
    assert ra["probes"] == rb["probes"] and ra["summary"] == rb["summary"]
    assert rb["engine"]["scored"] == 0 and rb["engine"]["cache_hits"] == ra["engine"]["unique"]
    # another batch size, no cache: same scores within float tolerance
    third = run([*args, "--out", str(c), "--batch-size", "3", "--no-cache"], env=env)
    assert third.exit_code == 0
    sa = [json.loads(x)["reward"] for x in open(a / "samples.jsonl")]
    sc = [json.loads(x)["reward"] for x in open(c / "samples.jsonl")]
    assert sc == pytest.approx(sa, abs=1e-5)


def test_seen_in_training_marks_probes(tmp_path, tiny_encoder_rm):
    import shutil

    rm = tmp_path / "trained"
    shutil.copytree(tiny_encoder_rm, rm)
    (rm / "crome_training.json").write_text(json.dumps({"method": "crome",
                                                        "intervention_families": ["audit.incomplete_truncate"]}))
    out = tmp_path / "o"
    assert run(["--rm", str(rm), "--limit", "30", "--suite", "quick", "--out", str(out), "--no-report"]).exit_code == 0
    r = read_results(out)
    seen = {p["name"] for p in r["probes"] if p["seen_in_training"]}
    assert seen == {"incomplete_truncate"}
    assert "causal_index_heldout" in r["summary"] and r["rm"]["training"]["method"] == "crome"


@pytest.mark.parametrize("content,message", [
    (b"", "file is empty"),
    (b'{"prompt": "p", "chosen": "c"}\n', "bad.jsonl:1: missing field 'rejected'"),
    (b'{"prompt": "p", "chosen": "c", "rejected": "r"}\n{oops\n', "bad.jsonl:2: invalid JSON line"),
    (b'{"prompt": "\xff", "chosen": "c", "rejected": "r"}\n', "bad.jsonl:1: not valid UTF-8"),
])
def test_bad_data_exit_2_nothing_written(tmp_path, content, message):
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(content)
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "crome_audit", "run", "--rm", "length", "--data", str(bad),
                           "--out", str(out)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_usage_errors(tmp_path):
    res = CliRunner().invoke(main, ["run", "--rm", "length", "--suite", "defualt", "--out", str(tmp_path / "x")])
    assert res.exit_code == 2 and "did you mean 'default'" in res.output
    res = CliRunner().invoke(main, ["run", "--rm", "length", "--batch-size", "zero"])
    assert res.exit_code == 2
    res = CliRunner().invoke(main, ["run", "--rm", "py:nomodule_xyz:f", "--out", str(tmp_path / "y")])
    assert res.exit_code == 2 and "cannot import" in res.output
    res = CliRunner().invoke(main, ["run", "--rm", "length", "--benchmarks", "rewardbnch", "--out", str(tmp_path / "z")])
    assert res.exit_code == 2 and "did you mean 'rewardbench'" in res.output


def test_nan_rewards_exit_2(tmp_path):
    mod = tmp_path / "nanrm.py"
    mod.write_text("def f(p, r):\n    return [float('nan')] * len(r)\n")
    res = CliRunner().invoke(main, ["run", "--rm", f"py:{mod}:f", "--out", str(tmp_path / "o"), "--limit", "5"])
    assert res.exit_code == 2 and "returned nan" in res.output
    assert not (tmp_path / "o" / "results.json").exists()


def test_run_with_benchmarks(tmp_path, shared_data):
    out = tmp_path / "rb"
    rb = shared_data / "rewardbench" / "filtered.jsonl"
    res = run(["--rm", "length", "--suite", "quick", "--limit", "10", "--out", str(out), "--no-report",
               "--benchmarks", "rewardbench", "--bench-data", f"rewardbench={rb}",
               "--bench-option", "rewardbench.subsets=xstest-should-refuse,hep-python"])
    assert res.exit_code == 0, res.output
    r = read_results(out)
    entry = r["benchmarks"]["rewardbench"]
    assert set(entry["subsets"]) == {"xstest-should-refuse", "hep-python"} and 0 <= entry["score"] <= 1
    rows = [json.loads(x) for x in open(out / "samples.jsonl")]
    bench_rows = [x for x in rows if x.get("benchmark") == "rewardbench"]
    assert len(bench_rows) == 154 + 164
    # 10 pairs are too few prompts for any probe to count (n < 30 prompts): shown, kept out of the indices
    assert r["probes"] and r["summary"]["spurious_index"] is None
    assert set(r["summary"]["excluded"].values()) <= {"insufficient_n", "no_edits"}
