"""Data I/O: every accepted format, and one clear line for every kind of bad input."""

import gzip
import json

import pandas as pd
import pytest

from crome_audit.data import default_data_path, load_pairs, load_records, load_responses
from crome_audit.errors import InputError

PAIR = {"prompt": "What is 2+2?", "chosen": "4", "rejected": "5"}


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def test_formats_agree(tmp_path):
    rows = [dict(PAIR, id=str(i)) for i in range(3)]
    paths = [write_jsonl(tmp_path / "a.jsonl", rows)]
    (tmp_path / "b.json").write_text(json.dumps(rows))
    paths.append(str(tmp_path / "b.json"))
    pd.DataFrame(rows).to_csv(tmp_path / "c.csv", index=False)
    paths.append(str(tmp_path / "c.csv"))
    pd.DataFrame(rows).to_parquet(tmp_path / "d.parquet")
    paths.append(str(tmp_path / "d.parquet"))
    with gzip.open(tmp_path / "e.jsonl.gz", "wt") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    paths.append(str(tmp_path / "e.jsonl.gz"))
    loaded = [load_pairs(p)[0] for p in paths]
    for pairs in loaded:
        assert [(p["id"], p["prompt"], p["chosen"], p["rejected"]) for p in pairs] == [
            (str(i), "What is 2+2?", "4", "5") for i in range(3)]


def test_conversational_and_hh(tmp_path):
    conv = {"prompt": [{"role": "user", "content": "Hi"}], "chosen": [{"role": "assistant", "content": "Hello!"}],
            "rejected": [{"role": "assistant", "content": "Go away."}]}
    implicit = {"chosen": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}],
                "rejected": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "No."}]}
    hh = {"chosen": "\n\nHuman: Q1\n\nAssistant: A1\n\nHuman: Q2\n\nAssistant: good",
          "rejected": "\n\nHuman: Q1\n\nAssistant: A1\n\nHuman: Q2\n\nAssistant: bad"}
    pairs, info = load_pairs(write_jsonl(tmp_path / "x.jsonl", [conv, implicit, hh]))
    assert pairs[0]["prompt"] == [{"role": "user", "content": "Hi"}] and pairs[0]["chosen"] == "Hello!"
    assert pairs[1]["prompt"] == [{"role": "user", "content": "Hi"}] and pairs[1]["rejected"] == "No."
    assert pairs[2]["prompt"] == [{"role": "user", "content": "Q1"}, {"role": "assistant", "content": "A1"},
                                  {"role": "user", "content": "Q2"}]
    assert (pairs[2]["chosen"], pairs[2]["rejected"]) == ("good", "bad")
    assert info["n"] == 3 and len(info["sha256"]) == 64


def test_real_hh_rlhf_file(shared_data):
    path = str(shared_data / "hh-rlhf" / "harmless-base-test.jsonl.gz")
    with pytest.raises(InputError, match=r"harmless-base-test.jsonl.gz:87: HH-RLHF dialogue has an empty final"):
        load_pairs(path)
    pairs, info = load_pairs(path, skip_invalid=True)
    assert info["n"] == 2312 - 4 and info["n_skipped"] == 4
    assert all(p["chosen"].strip() and p["rejected"].strip() for p in pairs)


def test_single_responses_and_default(tmp_path):
    recs, _ = load_responses(write_jsonl(tmp_path / "r.jsonl", [{"prompt": "p", "response": "r"}]))
    assert recs[0]["response"] == "r"
    _, _, kind = load_records(str(tmp_path / "r.jsonl"))
    assert kind == "responses"
    pairs, info = load_pairs(default_data_path())
    assert info["n"] == 200


@pytest.mark.parametrize("content,expected", [
    (b"", "file is empty"),
    (b'{"prompt": "p", "chosen": "c"}\n', "a.jsonl:1: missing field 'rejected'"),
    (b'{"prompt": "p", "chosen": "c", "rejected": "r"}\n{"prompt": "", "chosen": "c", "rejected": "r"}\n',
     "a.jsonl:2: field 'prompt' is empty"),
    (b'{"prompt": "p", "chosen": 3, "rejected": "r"}\n', "a.jsonl:1: field 'chosen' must be"),
    (b'{"prompt": "p", "chosen": "c", "rejected": "r"}\n{"prompt": "p", "chosen"\n', "a.jsonl:2: invalid JSON line"),
    (b'{"prompt": "p", "chosen": "c", "rejected": "r"}\n{"prompt": "\xff\xfe", "chosen": "c", "rejected": "r"}\n',
     "a.jsonl:2: not valid UTF-8"),
    (b'[1, 2]\n', "a.jsonl:1: expected a JSON object"),
])
def test_bad_jsonl(tmp_path, content, expected):
    path = tmp_path / "a.jsonl"
    path.write_bytes(content)
    with pytest.raises(InputError) as err:
        load_pairs(str(path))
    assert expected in str(err.value)
    assert "\n" not in str(err.value)


def test_bad_csv_and_missing_file(tmp_path):
    (tmp_path / "a.csv").write_text("prompt,chosen\np,c\n")
    with pytest.raises(InputError, match=r"a.csv:2: missing field 'rejected'"):
        load_pairs(str(tmp_path / "a.csv"))
    with pytest.raises(InputError, match="no such file"):
        load_pairs(str(tmp_path / "nope.jsonl"))
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(InputError, match="unknown file type"):
        load_pairs(str(tmp_path / "a.txt"))
