"""The CLI side of the hardening issue (11: defects 5, 7, 8, 9, 10, 11, 13) and of the newcomer issue
(12: own RMs, real data, CLI consistency). Each case is bad input that must be one line and exit 2 before
any scoring, or valid input that must be read right. Model-free RMs (length, small py: files) keep it fast;
the tokenizer-warning case uses the tiny BERT RM.

    python -m pytest -q tests/test_hardening_cli.py
"""

from __future__ import annotations

import gzip
import json
import os
import random
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from crome_audit.cli import main
from tests.cli_helpers import cli, one_line_error

ROOT = Path(__file__).resolve().parents[1]
PAIR = {"prompt": "What is 2+2?", "chosen": "It is 4.", "rejected": "It is 5, I think."}




def write_jsonl(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def counting_rm(tmp_path: Path) -> tuple[str, Path]:
    """A py: RM that leaves a marker when it scores anything: proves a check ran before any scoring."""
    marker = tmp_path / "scored.marker"
    mod = tmp_path / "counting_rm.py"
    mod.write_text(f"def score(prompts, responses):\n    open({str(marker)!r}, 'a').write('x')\n"
                   "    return [float(len(r)) for r in responses]\n")
    return f"py:{mod}:score", marker


# ----------------------------------------------------------------------------- 8 + 12.4: the user's RM


@pytest.mark.parametrize("body,expect", [
    ("import sys\ndef score(p, r):\n    sys.exit(0)\n", ["called sys.exit(0)", "while scoring", "myrm.py:3"]),
    ("import sys\ndef score(p, r):\n    sys.exit('bye')\n", ["called sys.exit('bye')"]),
    ("def score(p, r):\n    x = 1\n    raise ValueError('boom in my RM')\n",
     ["raised ValueError: boom in my RM", "myrm.py:3"]),
    ("def score(p, r):\n    return [1 / 0 for _ in r]\n", ["ZeroDivisionError", "myrm.py:2"]),
    ("def score(responses):\n    return [0.0] * len(responses)\n", ["must accept two arguments (prompts, responses)"]),
    ("import sys\nsys.exit(3)\ndef score(p, r):\n    return [0.0] * len(r)\n", ["sys.exit(3)", "while importing"]),
    ("def score(p, r):\n    return 'abc'\n", ["must return a list of numbers"]),
    ("import os\nx = undefined_name\ndef score(p, r):\n    return [0.0] * len(r)\n",
     ["cannot import", "NameError: name 'undefined_name' is not defined", "myrm.py:2"]),
])
def test_user_rm_failures_are_exit_2_one_line(tmp_path, body, expect):
    mod = tmp_path / "myrm.py"
    mod.write_text(body)
    out = tmp_path / "out"
    res = cli("run", "-q", "--rm", f"py:{mod}:score", "--limit", "3", "-o", out)
    one_line_error(res, *expect)
    assert not out.exists()


def test_py_module_imports_from_current_folder(tmp_path):
    (tmp_path / "myrm_mod.py").write_text("def score(p, r):\n    return [float(len(x)) for x in r]\n")
    # -P: the interpreter does not put the current folder on sys.path (as the crome-audit console script)
    proc = subprocess.run([sys.executable, "-P", "-m", "crome_audit", "run", "-q", "--rm", "py:myrm_mod:score",
                           "--limit", "3", "--suite", "quick", "--no-report", "--no-cache"], cwd=tmp_path,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "reports" / "myrm_mod-score" / "results.json").is_file()


@pytest.mark.parametrize("spec,name", [
    ("py:myrm.py:score", "myrm-score"), ("py:tools/rms/my_rm.py:reward", "my_rm-reward"),
    ("py:pkg.sub.rms:score", "rms-score"), ("Skywork/Skywork-Reward-Llama-3.1-8B", "Skywork-Reward-Llama-3.1-8B"),
    ("./runs/tiny-crome/", "tiny-crome"), ("length", "length"), ("models/rm.Q4_K_M.gguf", "rm.Q4_K_M"),
])
def test_output_folder_names_are_readable(spec, name):
    from crome_audit.cli.common import output_name

    assert output_name(spec) == name


def test_help_documents_py_file_form():
    res = cli("run", "--help")
    assert res.exit_code == 0
    flat = " ".join(res.output.split())
    assert "py:path/to/file.py:function" in flat and "py:module:function" in flat


@pytest.mark.parametrize("args,expect", [
    (["--device", "banana"], "'banana' is not a device"),
    (["--seed", "-1"], "--seed"),
    (["--max-examples", "-3"], "--max-examples"),
    (["--max-batch-tokens", "0"], "--max-batch-tokens"),
    (["--bogus-option"], "No such option"),
])
def test_bad_options_one_line_before_work(tmp_path, args, expect):
    rm, marker = counting_rm(tmp_path)
    one_line_error(cli("run", "--rm", rm, "-o", tmp_path / "o", *args), expect)
    assert not marker.exists()


def test_device_cuda_without_cuda_is_exit_2(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this torch has CUDA")
    rm, marker = counting_rm(tmp_path)
    one_line_error(cli("run", "--rm", rm, "--device", "cuda", "-o", tmp_path / "o"), "no usable CUDA device")
    one_line_error(cli("bench", "rewardbench", "--rm", "length", "--bench-data", ROOT / "README.md", "--device",
                       "cuda:1", "-o", tmp_path / "b"), "--device cuda:1")
    assert not marker.exists()


def test_bench_seed_negative_is_exit_2(tmp_path):
    one_line_error(cli("bench", "rewardbench", "--rm", "length", "--seed", "-1", "-o", tmp_path / "b"), "--seed")


# ----------------------------------------------------------------------------- 9: output folders


def test_out_inside_a_file_fails_before_scoring(tmp_path):
    rm, marker = counting_rm(tmp_path)
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    one_line_error(cli("run", "--rm", rm, "-o", blocker / "sub" / "out"), "is a file, not a folder")
    one_line_error(cli("run", "--rm", rm, "-o", blocker), f"{blocker}: is a file, not a folder")
    one_line_error(cli("bench", "rewardbench", "--rm", rm, "--bench-data", ROOT / "README.md", "-o", blocker),
                   "is a file, not a folder")
    one_line_error(cli("run", "--rm", rm, "-o", "/dev/null"), "exists and is not a folder")
    assert not marker.exists()


def test_out_on_unwritable_filesystem_fails_before_scoring(tmp_path):
    if not Path("/sys").is_dir():
        pytest.skip("no /sys")
    rm, marker = counting_rm(tmp_path)
    one_line_error(cli("run", "--rm", rm, "-o", "/sys/crome-audit-test-out"), "cannot write in /sys")
    assert not marker.exists()


def test_out_immutable_folder_fails_before_scoring(tmp_path):
    """chattr +i stops even root from writing (chmod does not)."""
    if not shutil.which("chattr"):
        pytest.skip("no chattr")
    rm, marker = counting_rm(tmp_path)
    folder = tmp_path / "locked"
    folder.mkdir()
    if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i not supported on this file system")
    try:
        one_line_error(cli("run", "--rm", rm, "-o", folder), "cannot write in")
        one_line_error(cli("run", "--rm", rm, "-o", folder / "new"), "cannot write in")
    finally:
        subprocess.run(["chattr", "-i", str(folder)])
    assert not marker.exists()


def _limit_file_size(limit: int):
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def test_write_failure_leaves_previous_set_intact(tmp_path):
    """A disk that fills up while writing (RLIMIT_FSIZE: root-proof) changes nothing in OUT."""
    out = tmp_path / "out"
    first = cli("run", "-q", "--rm", "length", "--limit", "5", "--suite", "quick", "-o", out, "--no-cache")
    assert first.exit_code == 0, first.output
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert set(before) == {"results.json", "samples.jsonl", "report.html"}
    proc = subprocess.run([sys.executable, "-m", "crome_audit", "run", "-q", "--rm", "length", "--no-cache",
                           "-o", str(out)], capture_output=True, text=True, preexec_fn=_limit_file_size(200_000),
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "File too large" in lines[0] and "nothing was changed" in lines[0], proc.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # no staging folder, no marker, no mix


def test_output_set_disk_full_dev_full(tmp_path):
    from crome_audit.errors import OutputError
    from crome_audit.outputs import OutputSet

    out = tmp_path / "out"
    out.mkdir()
    (out / "results.json").write_text("old")
    with pytest.raises(OutputError, match="No space left on device"):
        with OutputSet(out, ("results.json", "samples.jsonl")) as staging:
            (staging / "samples.jsonl").write_text("new")
            os.symlink("/dev/full", staging / "results.json")  # the kernel's always-full device
            with open(staging / "results.json", "w") as f:
                f.write("x" * 100_000)
    assert sorted(p.name for p in out.iterdir()) == ["results.json"]
    assert (out / "results.json").read_text() == "old"


def test_output_set_new_folder_removed_on_failure(tmp_path):
    from crome_audit.errors import OutputError
    from crome_audit.outputs import OutputSet

    out = tmp_path / "new" / "out"
    with pytest.raises(OutputError):
        with OutputSet(out, ("results.json",)) as staging:
            raise OSError(28, "No space left on device", str(staging / "results.json"))
    assert not out.exists()


def test_no_report_rerun_removes_stale_report(tmp_path):
    out = tmp_path / "out"
    assert cli("run", "-q", "--rm", "length", "--limit", "5", "--suite", "quick", "-o", out).exit_code == 0
    assert (out / "report.html").is_file()
    assert cli("run", "-q", "--rm", "length", "--limit", "6", "--suite", "quick", "-o", out,
               "--no-report").exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == ["results.json", "samples.jsonl"]


# ----------------------------------------------------------------------------- 10: the score cache


def _cache_case(tmp_path, kind):
    path = tmp_path / "cache.sqlite"
    if kind == "corrupt":
        path.write_bytes(bytes(random.Random(0).randrange(256) for _ in range(4096)))
    elif kind == "schema":
        con = sqlite3.connect(path)
        con.execute("CREATE TABLE scores (a TEXT, b TEXT)")
        con.commit()
        con.close()
    elif kind == "folder":
        path.mkdir()
    elif kind == "under-file":
        (tmp_path / "f").write_text("x")
        path = tmp_path / "f" / "cache.sqlite"
    return path


@pytest.mark.parametrize("kind,expect", [
    ("corrupt", "file is not a database"), ("schema", "table 'scores' has columns"),
    ("folder", "is a folder"), ("under-file", "cannot create its folder"),
])
def test_bad_cache_exit_2_names_file(tmp_path, kind, expect):
    path = _cache_case(tmp_path, kind)
    rm, marker = counting_rm(tmp_path)
    line = one_line_error(cli("run", "--rm", rm, "--cache", path, "-o", tmp_path / "o"), expect, "--no-cache")
    assert str(path) in line
    assert not marker.exists()


def test_read_only_cache_exit_2(tmp_path):
    if not shutil.which("chattr"):
        pytest.skip("no chattr")
    path = tmp_path / "ro" / "cache.sqlite"
    path.parent.mkdir()
    from crome_audit.cache import ScoreCache

    ScoreCache(path).close()
    if subprocess.run(["chattr", "+i", str(path), str(path.parent)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i not supported")
    try:
        one_line_error(cli("run", "--rm", "length", "--cache", path, "-o", tmp_path / "o"), str(path))
    finally:
        subprocess.run(["chattr", "-i", str(path), str(path.parent)])
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("bad", [float("inf"), float("-inf")])  # SQLite stores NaN as NULL: refused on write
def test_cached_non_finite_is_scored_again(tmp_path, bad):
    from crome_audit.cache import ScoreCache, text_key
    from crome_audit.engine import ScoringEngine
    from crome_audit.models import LengthRM

    cache = ScoreCache(tmp_path / "c.sqlite")
    cache.put_many(LengthRM.fingerprint, {text_key("p", "a b c"): bad, text_key("p", "a b"): 7.0})
    engine = ScoringEngine(LengthRM(), cache=cache, progress=False)
    assert engine.score(["p", "p"], ["a b c", "a b"]) == [3.0, 7.0]  # 7.0 is a (tampered) finite cache hit
    assert engine.stats["scored"] == 1 and engine.stats["cache_hits"] == 1


def test_cached_inf_of_an_inf_rm_still_hits_the_guard(tmp_path):
    """The run that wrote +inf into the cache (an older version) must not make a later run pass."""
    mod = tmp_path / "infrm.py"
    mod.write_text("def f(p, r):\n    return [float('inf')] * len(r)\n")
    from crome_audit.cache import ScoreCache, text_key
    from crome_audit.models import load_reward_model

    rm = load_reward_model(f"py:{mod}:f")
    cache = ScoreCache(tmp_path / "c.sqlite")
    data = write_jsonl(tmp_path / "d.jsonl", [PAIR])
    cache.put_many(rm.fingerprint, {text_key(PAIR["prompt"], PAIR[s]): float("inf") for s in ("chosen", "rejected")})
    cache.close()
    one_line_error(cli("run", "-q", "--rm", f"py:{mod}:f", "--data", data, "--cache", tmp_path / "c.sqlite",
                       "-o", tmp_path / "o"), "returned inf")


# ----------------------------------------------------------------------------- 11: data files


def test_csv_field_over_128k_is_read(tmp_path):
    import csv

    long = "word " * 40_000  # 200,000 characters
    path = tmp_path / "long.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["prompt", "chosen", "rejected"])
        w.writerow(["q", long, "short"])
    from crome_audit.data import load_pairs

    pairs, info = load_pairs(str(path))
    assert pairs[0]["chosen"] == long and info["n"] == 1


@pytest.mark.parametrize("name,make,expect", [
    ("trunc.jsonl.gz", lambda: gzip.compress(b'{"prompt": "p", "chosen": "c", "rejected": "r"}\n' * 200)[:-30],
     "truncated or corrupt gzip"),
    ("notgz.jsonl.gz", lambda: b"plain text, not gzip\n", "truncated or corrupt gzip"),
    ("deep.jsonl", lambda: (b'{"prompt": "p", "chosen": "c", "rejected": "r", "x": ' + b"[" * 100_000
                            + b"]" * 100_000 + b"}\n"), "deep.jsonl:1: JSON nested too deeply"),
    ("deep.json", lambda: b"[" * 100_000 + b"]" * 100_000, "deep.json: JSON nested too deeply"),
    ("surrogate.jsonl", lambda: (json.dumps(PAIR) + "\n" + '{"prompt": "p", "chosen": "ok \\ud800 x", '
                                 '"rejected": "r"}\n').encode(), "surrogate.jsonl:2: field 'chosen': lone surrogate"),
    ("wizard.jsonl", lambda: (json.dumps(PAIR) + "\n" + json.dumps(
        {"prompt": [{"role": "wizard", "content": "hi"}], "chosen": "a", "rejected": "b"}) + "\n").encode(),
     "wizard.jsonl:2: field 'prompt' item 0: unknown role 'wizard'"),
    ("chosen-role.jsonl", lambda: json.dumps(
        {"prompt": "p", "chosen": [{"role": "asistant", "content": "a"}], "rejected": "b"}).encode() + b"\n",
     "did you mean 'assistant'"),
    ("surrogate-msg.jsonl", lambda: b'{"prompt": [{"role": "user", "content": "\\udfff"}], "chosen": "a", '
                                    b'"rejected": "b"}\n', "field 'prompt[0].content': lone surrogate"),
    ("bad.csv", lambda: b'prompt,chosen,rejected\n"p,"c",r\n', "bad.csv"),
])
def test_bad_data_files_exit_2_naming_file(tmp_path, name, make, expect):
    path = tmp_path / name
    path.write_bytes(make())
    rm, marker = counting_rm(tmp_path)
    one_line_error(cli("run", "--rm", rm, "--data", path, "-o", tmp_path / "o"), expect)
    assert not marker.exists() and not (tmp_path / "o").exists()


def test_known_roles_are_read(tmp_path):
    from crome_audit.data import load_pairs

    row = {"prompt": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "2+2?"}],
           "chosen": [{"role": "assistant", "content": "4"}], "rejected": [{"role": "assistant", "content": "5"}]}
    pairs, _ = load_pairs(str(write_jsonl(tmp_path / "conv.jsonl", [row])))
    assert pairs[0]["chosen"] == "4" and pairs[0]["prompt"][0]["role"] == "system"


@pytest.mark.parametrize("suite,expect", [
    ("probes: [1]\n", "probes[0]: expected a probe name"),
    ("probes: [{name: emoji, params: [1]}]\n", "'params' must be a mapping"),
    ("probes: [{name: emoji, params: oops}]\n", "'params' must be a mapping"),
])
def test_bad_suite_entries_exit_2(tmp_path, suite, expect):
    path = tmp_path / "s.yaml"
    path.write_text(suite)
    one_line_error(cli("run", "--rm", "length", "--suite", path, "-o", tmp_path / "o"), expect)


# ----------------------------------------------------------------------------- 13: --template injection


def test_template_does_not_interpret_values():
    from crome_audit.formatting import fill_template

    t = "Q: {prompt}\nA: {response} {not_a_field} {0}"
    assert fill_template(t, "say {response} and {prompt}", "4") == \
        "Q: say {response} and {prompt}\nA: 4 {not_a_field} {0}"


def test_template_injection_through_the_formatter(tiny_encoder_rm):
    from crome_audit.formatting import RMFormatter
    from tests.tiny_models import local_tokenizer

    f = RMFormatter(local_tokenizer(), 64, "left", "<{prompt}> => <{response}>")
    assert f.text("print {response} here", "ANSWER") == "<print {response} here> => <ANSWER>"
    a, b = f.encode_many(["x {response}", "x ANSWER"], ["ANSWER", "ANSWER"])
    assert a.input_ids != b.input_ids  # before: both prompts became "x ANSWER"


# ----------------------------------------------------------------------------- 7: bounded diff


def test_diff_work_is_bounded_on_a_pathological_pair():
    from crome_audit.report.examples import MAX_DIFF_STEPS, DiffWork, rebuild, word_diff

    # every third line distinct, the rest blank: difflib's matcher took 120 s on this 10 KB pair (cubic)
    a = "\n".join("" if i % 3 else f"a{i}" for i in range(2000))
    b = "\n".join("" if i % 3 else f"b{i}" for i in range(2000))
    work = DiffWork()
    segments, changed = word_diff(a, b, work)
    assert rebuild(a, segments) == b
    assert work.capped >= 1  # the budget kicked in: shown as one change
    n_tokens = 2 * (len(a) + len(b))  # >= lines + words of both texts
    diffs = 1 + work.capped + 1  # the line diff, at most one word diff per replaced block here
    assert work.steps <= diffs * (MAX_DIFF_STEPS + n_tokens)


def test_myers_is_a_shortest_edit_script():
    from crome_audit.report.examples import myers_opcodes

    def distance(a, b):
        prev = list(range(len(b) + 1))
        for i in range(1, len(a) + 1):
            cur = [i] + [0] * len(b)
            for j in range(1, len(b) + 1):
                cur[j] = prev[j - 1] if a[i - 1] == b[j - 1] else 1 + min(prev[j], cur[j - 1])
            prev = cur
        return prev[-1]

    rng = random.Random(1)
    for _ in range(500):
        a = [rng.choice("abc") for _ in range(rng.randrange(0, 12))]
        b = [rng.choice("abc") for _ in range(rng.randrange(0, 12))]
        ops, out, cost, pos = myers_opcodes(a, b), [], 0, (0, 0)
        for tag, i1, i2, j1, j2 in ops:
            assert (i1, j1) == pos
            pos = (i2, j2)
            if tag == "equal":
                assert a[i1:i2] == b[j1:j2]
            cost += 0 if tag == "equal" else (i2 - i1) + (j2 - j1)
            out += b[j1:j2]
        assert out == b and pos == (len(a), len(b)) and cost == distance(a, b)


def test_report_shows_note_for_capped_diff(tmp_path):
    from crome_audit.report.compare import align
    from crome_audit.report.examples import TOO_LONG_NOTE, build_examples
    from crome_audit.results import read_results

    out = tmp_path / "run"
    assert cli("run", "-q", "--rm", "length", "--limit", "5", "--suite", "quick", "-o", out,
               "--no-report").exit_code == 0
    results = read_results(out)
    rng = random.Random(2)
    big = ["\n".join(" ".join(rng.choice("ab") for _ in range(6)) for _ in range(3000)) for _ in range(2)]
    results["examples"] = {"length_filler": [{"id": "0", "prompt": "p", "side": "rejected", "original": big[0],
                                              "perturbed": big[1], "reward_original": 1.0,
                                              "reward_perturbed": 2.0, "other_reward": 1.5, "flipped": True}]}
    row = build_examples(align([results]))["runs"][0]["probes"][0]["examples"][0]
    assert row["note"] == TOO_LONG_NOTE and TOO_LONG_NOTE in row["side"]


# ----------------------------------------------------------------------------- 12.5: real data


def test_invalid_row_suggests_skip_invalid_and_skips_are_counted(tmp_path, shared_data):
    hh = shared_data / "hh-rlhf" / "harmless-base-test.jsonl.gz"
    one_line_error(cli("run", "--rm", "length", "--data", hh, "-o", tmp_path / "a"),
                   "harmless-base-test.jsonl.gz:87:", "--skip-invalid")
    res = cli("run", "-q", "--rm", "length", "--data", hh, "--skip-invalid", "--suite", "quick", "--no-report",
              "-o", tmp_path / "b")
    assert res.exit_code == 0, res.output
    results = json.loads((tmp_path / "b" / "results.json").read_text())
    n_skipped = results["data"]["skipped"]
    assert n_skipped >= 1 and results["data"]["n"] + n_skipped == 2312
    assert f"skipped {n_skipped} invalid row" in res.stderr and ":87:" in res.stderr


def test_run_reads_biasscope_parquet_like_bench(tmp_path, shared_data):
    from crome_audit.benchmarks.rewardbench import load_rewardbench
    from crome_audit.data import load_records

    pq = shared_data / "rewardbench" / "rewardbench_filtered.biasscope.parquet"
    records, info, kind = load_records(str(pq), limit=50)
    bench_rows, _ = load_rewardbench(str(pq), limit=50)
    assert kind == "pairs" and info["n"] == 50
    assert [(r["prompt"], r["chosen"], r["rejected"]) for r in records] == \
        [(r["prompt"], r["chosen"], r["rejected"]) for r in bench_rows]
    res = cli("run", "-q", "--rm", "length", "--data", pq, "--limit", "20", "--suite", "quick", "--no-report",
              "-o", tmp_path / "o")
    assert res.exit_code == 0, res.output


def test_headline_counts_and_table(tmp_path):
    res = cli("run", "-q", "--rm", "length", "--limit", "30", "-o", tmp_path / "o", "--no-report")
    assert res.exit_code == 0, res.output
    probes = json.loads((tmp_path / "o" / "results.json").read_text())["probes"]
    ran = sum(1 for p in probes if p["n"])
    assert ran < len(probes)  # 30 pairs: some probes find nothing to edit
    assert f"{ran} of {len(probes)} probes changed at least one text; 30 pairs" in res.stdout
    lines = res.stdout.splitlines()
    head = next(i for i, line in enumerate(lines) if line.split()[:3] == ["kind", "probe", "n"])
    assert [line.split()[1] for line in lines[head + 1:head + 1 + len(probes)]] == [p["name"] for p in probes]
    assert "nan" not in res.stdout.lower() and "\u2014" in res.stdout


# ----------------------------------------------------------------------------- 12.7 + 12.3: CLI consistency


def test_bench_data_needed_offline_fails_before_scoring(tmp_path, monkeypatch):
    monkeypatch.delenv("CROME_AUDIT_REWARDBENCH", raising=False)
    rm, marker = counting_rm(tmp_path)
    env = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    for name, args in (("rewardbench", ["run", "--benchmarks", "rewardbench"]),
                       ("rewordbench", ["run", "--benchmarks", "rewordbench"]), ("rewardbench", ["bench", "rewardbench"])):
        one_line_error(cli(*args, "--rm", rm, "-o", tmp_path / "o", env=env),
                       f"--bench-data {name}=PATH", "$CROME_AUDIT_REWARDBENCH")
    one_line_error(cli("run", "--rm", rm, "--benchmarks", "rewardbench", "--bench-data",
                       f"rewardbench={tmp_path / 'missing.jsonl'}", "-o", tmp_path / "o"), "no such file")
    one_line_error(cli("run", "--rm", rm, "--benchmarks", "rewardbench", "--bench-data",
                       "rewardbench=allenai/reward-bench", "-o", tmp_path / "o", env=env),
                   "not a local file or folder, and the hub is offline")
    one_line_error(cli("run", "--rm", rm, "--benchmarks", "rewardbench", "-o", tmp_path / "o",
                       env={**env, "CROME_AUDIT_REWARDBENCH": str(tmp_path / "nope")}),
                   f"$CROME_AUDIT_REWARDBENCH={tmp_path / 'nope'}: no such file")
    one_line_error(cli("run", "--rm", rm, "--benchmarks", "rewardbench", "--bench-data",
                       f"rewardbnch={tmp_path}", "-o", tmp_path / "o"), "did you mean 'rewardbench'")
    one_line_error(cli("run", "--rm", rm, "--benchmarks", "rewardbench", "--bench-option", "rewrdbench.subsets=x",
                       "-o", tmp_path / "o"), "did you mean 'rewardbench'")
    assert not marker.exists()


def test_bench_spellings_agree(tmp_path, shared_data):
    rb = shared_data / "rewardbench" / "filtered.jsonl"
    spellings = {
        "new": ["--bench-data", f"rewardbench={rb}", "--bench-option", "rewardbench.subsets=hep-python"],
        "short": ["--bench-data", rb, "--bench-option", "subsets=hep-python"],
        "old": ["--data", rb, "--option", "subsets=hep-python"],
    }
    scores = {}
    for name, args in spellings.items():
        res = cli("bench", "rewardbench", "-q", "--rm", "length", *args, "-o", tmp_path / name)
        assert res.exit_code == 0, (name, res.output)
        scores[name] = json.loads((tmp_path / name / "results.json").read_text())["benchmarks"]["rewardbench"]
        assert set(scores[name]["subsets"]) == {"hep-python"}
    assert scores["new"]["score"] == scores["short"]["score"] == scores["old"]["score"]
    run = cli("run", "-q", "--rm", "length", "--limit", "3", "--suite", "quick", "--no-report", "-o", tmp_path / "r",
              "--benchmarks", "rewardbench", *spellings["new"])
    assert run.exit_code == 0, run.output
    entry = json.loads((tmp_path / "r" / "results.json").read_text())["benchmarks"]["rewardbench"]
    assert entry["score"] == scores["new"]["score"]


def test_no_false_tokenizer_warning(tmp_path, tiny_encoder_rm):
    data = write_jsonl(tmp_path / "long.jsonl", [{"prompt": "q", "chosen": "word " * 900, "rejected": "short"}])
    proc = subprocess.run([sys.executable, "-m", "crome_audit", "run", "-q", "--rm", tiny_encoder_rm, "--data",
                           str(data), "--suite", "quick", "--no-report", "--no-cache", "-o", str(tmp_path / "o")],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    assert "Token indices sequence length" not in proc.stderr
    results = json.loads((tmp_path / "o" / "results.json").read_text())
    assert results["rm"]["info"]["n_truncated"] >= 1  # we did truncate (silently, and counted)


def test_export_csv_and_md_without_torch(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for rm, out in (("length", a), ("noise", b)):  # 40 pairs: enough prompts for an index
        assert cli("run", "-q", "--rm", rm, "--limit", "40", "--suite", "quick", "-o", out, "--no-report").exit_code == 0
    code = ("import sys; from crome_audit.cli import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
            "assert 'torch' not in sys.modules, 'export imported torch'\n")
    for fmt in ("csv", "md"):
        proc = subprocess.run([sys.executable, "-c", code, "export", str(a), str(b), "--format", fmt, "-o",
                               str(tmp_path / f"t.{fmt}")], capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert proc.returncode == 0, proc.stderr
    import csv

    rows = list(csv.DictReader(open(tmp_path / "t.csv", encoding="utf-8")))
    results = json.loads((a / "results.json").read_text())
    lf = next(p for p in results["probes"] if p["name"] == "length_filler")
    # the length RM has no substance unit (its effect_size is null, exported empty): check the style share
    got = next(r for r in rows if r["table"] == "probes" and r["run"] == "length" and r["name"] == "length_filler"
               and r["metric"] == "instability")
    assert float(got["value"]) == lf["instability"]
    empty = next(r for r in rows if r["table"] == "probes" and r["run"] == "length" and r["name"] == "length_filler"
                 and r["metric"] == "effect_size")
    assert lf["effect_size"] is None and empty["value"] == ""
    idx = [r for r in rows if r["table"] == "indices" and r["metric"] == "Spurious index"]
    assert {"length", "noise"} <= {r["run"] for r in idx}
    assert float(next(r for r in idx if r["run"] == "length")["value"]) == results["summary"]["spurious_index"]
    md = (tmp_path / "t.md").read_text()
    assert "| length_filler |" in md and "## Indices" in md and "nan" not in md.lower()
    one_line_error(cli("export", a, "--format", "csv", "-o", tmp_path), "is a folder")


def test_every_command_with_progress_takes_dash_q():


    for cmd in ("run", "bench rewardbench", "train", "augment", "demo", "gate"):
        out = CliRunner().invoke(main, [*cmd.split(), "--help"]).output
        assert "-q, --quiet" in out, cmd
