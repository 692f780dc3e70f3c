"""RM-Bench: the 3x3 style matrix (hard/normal/easy), safety pooling, validation, on a synthetic file."""

import json

import pytest

from crome_audit.benchmarks import run_benchmark
from crome_audit.benchmarks.rmbench import load_rmbench, matrix_scores
from crome_audit.engine import ScoringEngine
from crome_audit.errors import InputError
from crome_audit.models import load_reward_model


def tagged_rm(prompts, responses):
    """Reward written into the response text: '... [r=0.5]' -> 0.5 (lets a test fix every cell)."""
    return [float(r.rsplit("[r=", 1)[1].rstrip("]")) for r in responses]


def item(i, domain, chosen, rejected):
    return {"id": f"{domain}-{i}", "prompt": f"question {i}", "domain": domain,
            "chosen": [f"chosen style {k} [r={v}]" for k, v in enumerate(chosen)],
            "rejected": [f"rejected style {k} [r={v}]" for k, v in enumerate(rejected)]}


def write(tmp_path, rows, name="rmbench.jsonl"):
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def engine():
    return ScoringEngine(load_reward_model(f"py:{__file__}:tagged_rm"), progress=False)


def test_matrix_triangles():
    # chosen rewards 1,2,3 (concise..markdown), rejected 1.5,2.5,3.5: chosen_i > rejected_j iff i > j
    out = matrix_scores([[[c > r for r in (1.5, 2.5, 3.5)] for c in (1, 2, 3)]])
    assert out["matrix"] == [[0, 0, 0], [1, 0, 0], [1, 1, 0]]
    assert (out["hard"], out["normal"], out["easy"]) == (0.0, 0.0, 1.0)
    assert out["score"] == pytest.approx(3 / 9)


def test_domains_pooling_and_overall(tmp_path):
    rows = [
        item(0, "chat", [3, 3, 3], [1, 1, 1]),           # all nine cells right
        item(1, "chat", [1, 2, 3], [1.5, 2.5, 3.5]),     # only the easy (lower) triangle right
        item(0, "math", [1, 1, 1], [1, 1, 1]),           # all ties: all wrong
        item(0, "safety-refuse", [2, 2, 2], [1, 1, 1]),  # right
        item(0, "safety-response", [0, 0, 0], [1, 1, 1]),  # wrong; pooled with safety-refuse
    ]
    entry, samples = run_benchmark("rmbench", engine(), data=write(tmp_path, rows))
    assert list(entry["domains"]) == ["chat", "math", "safety"]
    chat = entry["domains"]["chat"]
    assert chat["n"] == 2 and chat["matrix"] == [[0.5, 0.5, 0.5], [1, 0.5, 0.5], [1, 1, 0.5]]
    assert (chat["hard"], chat["normal"], chat["easy"]) == (0.5, 0.5, 1.0)
    assert entry["domains"]["math"]["score"] == 0.0
    assert entry["domains"]["safety"]["n"] == 2 and entry["domains"]["safety"]["score"] == 0.5
    assert entry["score"] == pytest.approx((chat["score"] + 0.0 + 0.5) / 3)
    assert entry["hard"] == pytest.approx((0.5 + 0 + 0.5) / 3) and not entry["complete"]
    assert entry["sections"] == {d: v["score"] for d, v in entry["domains"].items()}
    # per-item rows recompute the domain matrices
    assert [s["domain"] for s in samples] == ["chat", "chat", "math", "safety", "safety"]
    assert samples[1]["rewards_chosen"] == [1, 2, 3] and samples[1]["outcomes"][2] == [True, True, False]
    cells = [[sum(s["outcomes"][i][j] for s in samples[:2]) / 2 for j in range(3)] for i in range(3)]
    assert cells == chat["matrix"]
    entry2, _ = run_benchmark("rmbench", engine(), data=write(tmp_path, rows), limit=2)
    assert entry2["n"] == 2 and list(entry2["domains"]) == ["chat"]


@pytest.mark.parametrize("row, message", [
    ({**item(0, "chat", [1, 1, 1], [0, 0, 0]), "chosen": ["a", "b"]}, r":1: field 'chosen' must be a list of 3 strings"),
    ({**item(0, "chit", [1, 1, 1], [0, 0, 0])}, r":1: field 'domain': unknown RM-Bench domain 'chit' \(did you mean 'chat'\?\)"),
    ({k: v for k, v in item(0, "chat", [1] * 3, [0] * 3).items() if k != "rejected"}, r":1: missing field 'rejected'"),
    ({k: v for k, v in item(0, "chat", [1] * 3, [0] * 3).items() if k != "domain"}, r":1: missing field 'domain'"),
])
def test_bad_rows(tmp_path, row, message):
    with pytest.raises(InputError, match=message):
        load_rmbench(write(tmp_path, [row]))


def test_duplicate_ids(tmp_path):
    row = item(0, "code", [1, 1, 1], [0, 0, 0])
    with pytest.raises(InputError, match=r"rmbench\.jsonl:2: duplicated id code-0"):
        load_rmbench(write(tmp_path, [row, row]))


def test_official_json_list_file(tmp_path):
    path = tmp_path / "total_dataset.json"
    path.write_text(json.dumps([item(i, d, [2, 2, 2], [1, 1, 1]) for i, d in enumerate(
        ["chat", "code", "math", "safety-refuse", "safety-response"])]))
    entry, _ = run_benchmark("rmbench", engine(), data=str(path))
    assert entry["complete"] and entry["score"] == 1.0 and list(entry["domains"]) == ["chat", "code", "math", "safety"]


OFFICIAL_FILES = {"chat": "chat_filtered.json", "code": "code_filtered.json", "math": "math_filtered.json",
                  "safety-refuse": "safety-refuse_filtered.json", "safety-response": "safety-response_filtered.json"}


def write_official(folder, rows_by_domain, keep_domain=False):
    """RM-Bench's per-domain files: a JSON list each, rows without 'domain' (the file name gives it)."""
    folder.mkdir(exist_ok=True)
    for domain, rows in rows_by_domain.items():
        rows = rows if keep_domain else [{k: v for k, v in r.items() if k != "domain"} for r in rows]
        (folder / OFFICIAL_FILES[domain]).write_text(json.dumps(rows))
    return folder


def test_official_per_domain_files_take_the_domain_from_the_file_name(tmp_path):
    by_domain = {"chat": [item(0, "chat", [3, 3, 3], [1, 1, 1]), item(1, "chat", [1, 2, 3], [1.5, 2.5, 3.5])],
                 "code": [item(0, "code", [1, 1, 1], [2, 2, 2])],
                 "math": [item(0, "math", [1, 1, 1], [1, 1, 1])],
                 "safety-refuse": [item(0, "safety-refuse", [2, 2, 2], [1, 1, 1])],
                 "safety-response": [item(0, "safety-response", [0, 0, 0], [1, 1, 1])]}
    folder = write_official(tmp_path / "official", by_domain)
    entry, samples = run_benchmark("rmbench", engine(), data=str(folder))
    # the same items with their 'domain' field, as total_dataset.json holds them, score the same
    total = tmp_path / "total_dataset.json"
    total.write_text(json.dumps([r for rows in by_domain.values() for r in rows]))
    reference, _ = run_benchmark("rmbench", engine(), data=str(total))
    assert entry["complete"] and entry["n"] == 6
    assert entry["domains"] == reference["domains"] and entry["score"] == reference["score"]
    assert sorted(s["raw_domain"] for s in samples) == sorted(["chat", "chat", "code", "math", "safety-refuse",
                                                               "safety-response"])
    # one file alone
    rows, _ = load_rmbench(str(folder / "safety-refuse_filtered.json"))
    assert [(r["domain"], r["raw_domain"]) for r in rows] == [("safety", "safety-refuse")]


def test_a_rows_own_domain_wins_when_consistent_with_the_file_name(tmp_path):
    folder = write_official(tmp_path / "d", {"safety-refuse": [item(0, "safety-response", [1] * 3, [0] * 3)]},
                            keep_domain=True)
    rows, _ = load_rmbench(str(folder / "safety-refuse_filtered.json"))
    assert [(r["domain"], r["raw_domain"]) for r in rows] == [("safety", "safety-response")]
    (folder / "chat_filtered.json").write_text(json.dumps([item(1, "math", [1] * 3, [0] * 3)]))
    with pytest.raises(InputError, match=r"chat_filtered\.json: item 0: field 'domain' is 'math' but the file "
                                         r"name 'chat_filtered\.json' says 'chat'"):
        load_rmbench(str(folder))


def test_no_domain_in_the_rows_nor_in_the_file_name_is_one_clear_error(tmp_path):
    path = tmp_path / "total_dataset.json"
    path.write_text(json.dumps([{k: v for k, v in item(0, "chat", [1] * 3, [0] * 3).items() if k != "domain"}]))
    with pytest.raises(InputError) as err:
        load_rmbench(str(path))
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"{path}: item 0: missing field 'domain'")
    assert "the file name 'total_dataset.json' names no domain" in message and "chat_filtered.json" in message


def test_official_per_domain_files_number_their_items_independently(tmp_path):
    """The real chat_filtered.json and code_filtered.json both start at id 8 (seen in THU-KEG/RM-Bench's data):
    a folder of them loads, each item keyed by its domain; the same id twice in one domain is still refused."""
    import json

    from crome_audit.benchmarks.rmbench import load_rmbench

    def row(i):
        return {"id": i, "prompt": f"q{i}", "chosen": ["a", "b", "c"], "rejected": ["x", "y", "z"]}

    (tmp_path / "chat_filtered.json").write_text(json.dumps([row(8), row(9)]), encoding="utf-8")
    (tmp_path / "code_filtered.json").write_text(json.dumps([row(8)]), encoding="utf-8")
    rows, _ = load_rmbench(str(tmp_path))
    assert [(r["domain"], r["id"]) for r in rows] == [("chat", "8"), ("chat", "9"), ("code", "8")]
    (tmp_path / "code_filtered.json").write_text(json.dumps([row(8), row(8)]), encoding="utf-8")
    with pytest.raises(InputError, match="duplicated id 8 in domain code"):
        load_rmbench(str(tmp_path))
