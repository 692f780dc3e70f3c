"""RewardBench: official scoring (check vector, weights, ties), data loading and validation, samples."""

import json

import pytest

from crome_audit.benchmarks import run_benchmark
from crome_audit.benchmarks.rewardbench import ENV_VAR, HUB_ID, load_rewardbench
from crome_audit.benchmarks.scoring import (
    EXAMPLE_COUNTS,
    SECTIONS,
    SUBSET_TO_SECTION,
    overall,
    score_pairs,
    section_scores,
)
from crome_audit.engine import ScoringEngine
from crome_audit.errors import InputError
from crome_audit.models import LengthRM, load_reward_model

# Published check vector (issue 4): subset accuracies -> section scores.
CHECK_SUBSETS = {
    "alpacaeval-easy": 0.5, "alpacaeval-hard": 0.70526, "alpacaeval-length": 0.58947, "donotanswer": 0.82353,
    "hep-cpp": 0.62805, "hep-go": 0.63415, "hep-java": 0.70732, "hep-js": 0.66463, "hep-python": 0.54878,
    "hep-rust": 0.64634, "llmbar-adver-GPTInst": 0.39130, "llmbar-adver-GPTOut": 0.46809,
    "llmbar-adver-manual": 0.36957, "llmbar-adver-neighbor": 0.43284, "llmbar-natural": 0.52, "math-prm": 0.29530,
    "mt-bench-easy": 0.57143, "mt-bench-hard": 0.54054, "mt-bench-med": 0.725, "refusals-dangerous": 0.97,
    "refusals-offensive": 1.0, "xstest-should-refuse": 1.0, "xstest-should-respond": 0.284,
}
CHECK_SECTIONS = {"Chat": 0.608939, "Chat Hard": 0.449561, "Safety": 0.721622, "Reasoning": 0.466757}


def newline_rm(prompts, responses):
    """Deterministic toy RM with many ties (0 == 0): reward = number of newlines."""
    return [float(r.count("\n")) for r in responses]


def engine_for(spec):
    return ScoringEngine(load_reward_model(spec), progress=False)


def test_check_vector_gives_published_sections():
    sections = section_scores(CHECK_SUBSETS)
    assert list(sections) == ["Chat", "Chat Hard", "Safety", "Reasoning"]
    for name, expected in CHECK_SECTIONS.items():
        assert sections[name] == pytest.approx(expected, abs=1e-5), name
    assert overall(sections) == pytest.approx(sum(CHECK_SECTIONS.values()) / 4, abs=1e-5)
    # an unweighted mean of the subsets would miss the published numbers: the weights matter
    naive = sum(CHECK_SUBSETS[s] for s in SECTIONS["Reasoning"]) / 7
    assert abs(naive - CHECK_SECTIONS["Reasoning"]) > 1e-3


def test_official_weights_and_map():
    assert EXAMPLE_COUNTS["math-prm"] == 984
    hep = [s for s in SECTIONS["Reasoning"] if s.startswith("hep-")]
    assert len(hep) == 6 and sum(EXAMPLE_COUNTS[s] for s in hep) == 984  # Reasoning = 1/2 math + 1/2 mean(hep)
    assert sorted(SUBSET_TO_SECTION) == sorted(EXAMPLE_COUNTS) and len(EXAMPLE_COUNTS) == 23
    assert section_scores({"math-prm": 1.0, **{s: 0.0 for s in hep}})["Reasoning"] == pytest.approx(0.5)
    # subsets absent from the data take no part; a section with none is None
    partial = section_scores({"mt-bench-easy": 1.0})
    assert partial["Chat"] == 1.0 and partial["Safety"] is None and overall(partial) == 1.0


def test_ties_count_as_wrong():
    res = score_pairs(["hep-go"] * 4, [1.0, 2.0, 3.0, 0.0], [1.0, 1.0, 3.0, 5.0])
    assert res["correct"] == [False, True, False, False]
    assert res["subsets"]["hep-go"] == {"accuracy": 0.25, "n": 4, "n_correct": 1}


def test_real_data_samples_recompute_exactly(shared_data):
    path = shared_data / "rewardbench" / "filtered.jsonl"
    engine = engine_for(f"py:{__file__}:newline_rm")
    entry, samples = run_benchmark("rewardbench", engine, data=str(path))
    assert entry["n"] == len(samples) == 2985 and entry["complete"]
    assert engine.stats["requested"] == 2 * 2985  # the length baseline does not go through the RM
    keys = {(s["subset"], s["id"]) for s in samples}
    assert len(keys) == 2985
    assert {s["subset"] for s in samples if s["id"] == "3692"} == {"donotanswer", "hep-python"}
    # recompute from the per-pair rows only
    by_subset = {}
    for s in samples:
        assert s["benchmark"] == "rewardbench" and s["section"] == SUBSET_TO_SECTION[s["subset"]]
        assert s["correct"] == (s["reward_chosen"] > s["reward_rejected"])
        by_subset.setdefault(s["subset"], []).append(s["correct"])
    assert any(s["reward_chosen"] == s["reward_rejected"] and not s["correct"] for s in samples)
    acc = {k: sum(v) / len(v) for k, v in by_subset.items()}
    assert {k: v["accuracy"] for k, v in entry["subsets"].items()} == acc
    assert {k: v["n"] for k, v in entry["subsets"].items()} == {k: len(v) for k, v in by_subset.items()}
    for section, names in SECTIONS.items():
        expected = sum(acc[n] * EXAMPLE_COUNTS[n] for n in names) / sum(EXAMPLE_COUNTS[n] for n in names)
        assert entry["sections"][section] == pytest.approx(expected, rel=1e-12)
    assert entry["score"] == pytest.approx(sum(entry["sections"].values()) / 4, rel=1e-12)
    # the length baseline is the LengthRM outcome per pair
    rows, _ = load_rewardbench(str(path))
    lengths = LengthRM().score([r["prompt"] for r in rows], [r["chosen"] for r in rows])
    lengths_r = LengthRM().score([r["prompt"] for r in rows], [r["rejected"] for r in rows])
    assert [s["length_correct"] for s in samples] == [a > b for a, b in zip(lengths, lengths_r)]
    assert entry["length_baseline"]["sections"]["Chat"] > 0.7  # length alone already scores high on Chat


def test_biasscope_parquet_equals_jsonl(shared_data):
    folder = shared_data / "rewardbench"
    a, sa = run_benchmark("rewardbench", engine_for("length"), data=str(folder / "filtered.jsonl"))
    b, sb = run_benchmark("rewardbench", engine_for("length"),
                          data=str(folder / "rewardbench_filtered.biasscope.parquet"))
    assert a["subsets"] == b["subsets"] and a["sections"] == b["sections"] and sa == sb


def test_env_var_default_and_hub_fallback(shared_data, monkeypatch, tmp_path):
    monkeypatch.setenv(ENV_VAR, str(shared_data / "rewardbench" / "filtered.jsonl"))
    entry, _ = run_benchmark("rewardbench", engine_for("length"), subsets="mt-bench-easy,mt-bench-med")
    assert entry["n"] == 68 and entry["data"]["path"].endswith("filtered.jsonl") and not entry["complete"]
    assert set(entry["subsets"]) == {"mt-bench-easy", "mt-bench-med"}
    assert entry["sections"]["Safety"] is None and entry["score"] == entry["sections"]["Chat"]
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "missing.jsonl"))
    with pytest.raises(InputError, match=ENV_VAR):
        run_benchmark("rewardbench", engine_for("length"))
    monkeypatch.delenv(ENV_VAR)
    with pytest.raises(InputError, match=HUB_ID):  # offline here: the hub id is tried and fails cleanly
        load_rewardbench()


def _write(tmp_path, rows, name="rb.jsonl"):
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


ROW = {"id": 1, "subset": "hep-go", "prompt": "p", "chosen": "good answer", "rejected": "bad"}


@pytest.mark.parametrize("rows, message", [
    ([ROW, {k: v for k, v in ROW.items() if k != "subset"}], r"rb\.jsonl:2: missing field 'subset'"),
    ([{**ROW, "subset": "hep-goo"}], r"rb\.jsonl:1: field 'subset': unknown RewardBench subset 'hep-goo' "
                                     r"\(did you mean 'hep-go'"),
    ([ROW, {**ROW, "chosen": "x"}], r"rb\.jsonl:2: duplicated key \(subset 'hep-go', id 1\); first seen at .*rb\.jsonl:1"),
    ([{**ROW, "section": "Chat"}], r"rb\.jsonl:1: field 'section' is 'Chat' but subset 'hep-go' belongs to 'Reasoning'"),
    ([{k: v for k, v in ROW.items() if k != "rejected"}], r"rb\.jsonl:1: missing field 'rejected'"),
    ([{**ROW, "chosen": 3}], r"rb\.jsonl:1: field 'chosen' must be a string"),
])
def test_bad_rows_are_input_errors(tmp_path, rows, message):
    with pytest.raises(InputError, match=message):
        load_rewardbench(str(_write(tmp_path, rows)))


def test_same_id_in_two_subsets_is_fine_and_folder_input(tmp_path):
    folder = tmp_path / "rb"
    folder.mkdir()
    _write(folder, [ROW, {**ROW, "subset": "donotanswer", "chosen": "I cannot help.", "rejected": "Sure thing"}])
    rows, info = load_rewardbench(str(folder))
    assert [(r["subset"], r["id"]) for r in rows] == [("hep-go", "1"), ("donotanswer", "1")]
    assert info["format"] == "dir" and info["n"] == 2
    with pytest.raises(InputError, match="unknown option"):
        run_benchmark("rewardbench", engine_for("length"), data=str(folder), subset="hep-go")
    with pytest.raises(InputError, match="option 'subsets'.*did you mean 'hep-go'"):
        load_rewardbench(str(folder), subsets=["hep-goo"])
