"""``crome-audit bench``: results.json + samples.jsonl contract, recomputation, exit codes on bad files."""

import json

import pytest
from click.testing import CliRunner

from crome_audit.benchmarks.scoring import EXAMPLE_COUNTS, SECTIONS
from crome_audit.cli import main
from crome_audit.results import read_results


def vowel_rm(prompts, responses):
    """Deterministic toy RM: share of vowels in the response (few ties)."""
    return [sum(c in "aeiou" for c in r.lower()) / max(len(r), 1) for r in responses]


def invoke(*args):
    return CliRunner().invoke(main, ["bench", *args], catch_exceptions=False)


def read_samples(out):
    return [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]


def recompute(samples):
    """Subset accuracies and section scores from samples.jsonl alone."""
    by_subset = {}
    for s in samples:
        by_subset.setdefault(s["subset"], []).append(s["reward_chosen"] > s["reward_rejected"])
    acc = {k: sum(v) / len(v) for k, v in by_subset.items()}
    sections = {}
    for section, names in SECTIONS.items():
        present = [n for n in names if n in acc]
        if present:
            sections[section] = (sum(acc[n] * EXAMPLE_COUNTS[n] for n in present)
                                 / sum(EXAMPLE_COUNTS[n] for n in present))
    return acc, sections


def test_bench_lists_registered_benchmarks():
    result = invoke("--help")
    assert result.exit_code == 0 and "rewardbench" in result.output and "rmbench" in result.output
    result = CliRunner().invoke(main, ["bench", "rewardbenh", "--rm", "length", "--out", "x"])
    assert result.exit_code == 2 and "did you mean 'rewardbench'" in result.output.lower()


def test_full_rewardbench_run_recomputes(shared_data, tmp_path):
    out = tmp_path / "run"
    result = invoke("rewardbench", "--rm", f"py:{__file__}:vowel_rm", "--data",
                    str(shared_data / "rewardbench" / "filtered.jsonl"), "--out", str(out), "--quiet")
    assert result.exit_code == 0, result.output
    assert "Chat Hard" in result.output and "length-only" in result.output
    res = read_results(out)
    entry = res["benchmarks"]["rewardbench"]
    assert res["probes"] == [] and res["summary"]["spurious_index"] is None
    assert res["data"]["n"] == 2985 and len(res["data"]["sha256"]) == 64
    assert res["engine"]["requested"] == 5970 and res["config"]["benchmark"] == "rewardbench"
    samples = read_samples(out)
    assert len(samples) == 2985
    acc, sections = recompute(samples)
    assert {k: v["accuracy"] for k, v in entry["subsets"].items()} == acc
    assert entry["sections"] == sections and entry["score"] == sum(sections.values()) / 4
    assert set(entry["length_baseline"]["sections"]) == set(SECTIONS)


@pytest.mark.slow
def test_tiny_hf_rm_batch_size_independent(shared_data, tiny_encoder_rm, tmp_path):
    data = str(shared_data / "rewardbench" / "filtered.jsonl")
    common = ["--rm", tiny_encoder_rm, "--data", data, "--quiet", "--max-length", "256",
              "--option", "subsets=mt-bench-easy,mt-bench-med,mt-bench-hard"]
    a, b = tmp_path / "auto", tmp_path / "bs3"
    assert invoke("rewardbench", *common, "--out", str(a)).exit_code == 0
    assert invoke("rewardbench", *common, "--batch-size", "3", "--no-cache", "--out", str(b)).exit_code == 0
    sa, sb = read_samples(a), read_samples(b)
    assert len(sa) == 37 + 28 + 40
    # scores do not depend on the batch (padding/pooling); only float summation order may differ
    for x, y in zip(sa, sb):
        assert (x["subset"], x["id"]) == (y["subset"], y["id"])
        assert x["reward_chosen"] == pytest.approx(y["reward_chosen"], rel=1e-5, abs=1e-7)
        assert x["reward_rejected"] == pytest.approx(y["reward_rejected"], rel=1e-5, abs=1e-7)
        if abs(x["reward_chosen"] - x["reward_rejected"]) > 1e-6:
            assert x["correct"] == y["correct"]
    res = read_results(a)
    entry = res["benchmarks"]["rewardbench"]
    acc, sections = recompute(sa)
    assert {k: v["accuracy"] for k, v in entry["subsets"].items()} == acc and entry["sections"]["Chat"] == sections["Chat"]
    assert entry["sections"]["Reasoning"] is None and not entry["complete"]
    assert res["rm"]["fingerprint"].startswith("hf-") and res["config"]["max_length"] == 256


def _bad(tmp_path, rows):
    path = tmp_path / "bad.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


ROW = {"id": 7, "subset": "llmbar-natural", "prompt": "p", "chosen": "a", "rejected": "b"}


@pytest.mark.parametrize("rows, needle", [
    ([{k: v for k, v in ROW.items() if k != "subset"}], "bad.jsonl:1: missing field 'subset'"),
    ([ROW, {**ROW, "subset": "llmbar-natual"}], "bad.jsonl:2: field 'subset': unknown RewardBench subset"),
    ([ROW, ROW], "bad.jsonl:2: duplicated key (subset 'llmbar-natural', id 7)"),
])
def test_bad_files_exit_2(tmp_path, rows, needle):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["bench", "rewardbench", "--rm", "length", "--data", _bad(tmp_path, rows),
                                       "--out", str(out)])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("crome-audit: error: ") and needle in lines[0]
    assert "Traceback" not in result.output and not out.exists()


def test_options_and_missing_file(tmp_path):
    ok = _bad(tmp_path, [ROW])
    for args, needle in [
        (["--option", "subsets"], "expected KEY=VALUE"),
        (["--option", "colour=red"], "unknown option(s) colour"),
        (["--option", "subsets=nope"], "unknown RewardBench subset 'nope'"),
    ]:
        result = CliRunner().invoke(main, ["bench", "rewardbench", "--rm", "length", "--data", ok,
                                           "--out", str(tmp_path / "o"), *args])
        assert result.exit_code == 2 and needle in result.output, result.output
    result = CliRunner().invoke(main, ["bench", "rmbench", "--rm", "length", "--data", str(tmp_path / "none.json"),
                                       "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "none.json: no such file" in result.output
    result = CliRunner().invoke(main, ["bench", "rewardbench", "--rm", "length", "--data", ok, "--out", ok])
    assert result.exit_code == 2 and "is a file" in result.output


def test_rmbench_via_cli(tmp_path):
    path = tmp_path / "rmb.jsonl"
    rows = [{"id": i, "prompt": "q", "domain": d, "chosen": ["a a a", "b b b b", "c c c c c"],
             "rejected": ["x", "y y", "z z z z"]} for i, d in enumerate(["chat", "code", "math", "safety-refuse"])]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out"
    result = invoke("rmbench", "--rm", "length", "--data", str(path), "--out", str(out), "--quiet")
    assert result.exit_code == 0, result.output
    entry = read_results(out)["benchmarks"]["rmbench"]
    # length rewards: chosen 3,4,5 vs rejected 1,2,4 -> wrong: 3 vs 4 and the tie 4 vs 4
    assert entry["domains"]["chat"]["matrix"] == [[1, 1, 0], [1, 1, 0], [1, 1, 1]]
    assert entry["score"] == pytest.approx(7 / 9) and entry["hard"] == pytest.approx(1 / 3)
    assert entry["normal"] == 1.0 and entry["easy"] == 1.0 and len(read_samples(out)) == 4
