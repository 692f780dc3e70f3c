"""The library API (``from crome_audit import audit, load_rm, run_benchmark, render_report``): the same results
the CLI writes, with a spec, a loaded RM or an engine; importing the package stays light.
Run: python -m pytest -q tests/test_api.py"""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from crome_audit import audit, load_rm, render_report, run_benchmark
from crome_audit.cli import main
from crome_audit.errors import InputError
from crome_audit.results import read_results
from tests.generate_servers import ScriptedChatServer
from tests.tiny_models import CHAT_TEMPLATE, build_tiny_causal_lm

ROOT = Path(__file__).resolve().parents[1]


def _file(path) -> dict:
    r = read_results(path)
    r.pop("_path", None)  # read_results notes where it read from
    return r


def _same_run(a: dict, b: dict) -> None:
    """Equal except what legitimately differs between two runs (timing, versions, how options were passed)."""
    a, b = json.loads(json.dumps(a)), json.loads(json.dumps(b))
    for r in (a, b):
        r.pop("versions")
        r.pop("config")
        engine = r.pop("engine")
        r["texts"] = (engine["requested"], engine["unique"])  # cache hits differ: the second run reuses scores
        r["rm"]["info"].pop("n_truncated", None)  # counted while encoding, and cached texts are not encoded
    assert a == b


def test_import_is_light_and_names_resolve():
    code = ("import sys, crome_audit; from crome_audit import audit, load_rm, run_benchmark, render_report; "
            "from crome_audit.audit import run_audit; "
            "from crome_audit import audit as again; "
            "print(callable(audit), again is audit, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    # importing the submodule crome_audit.audit does not shadow the function crome_audit.audit
    assert out.stdout.split() == ["True", "True", "False"]


def test_audit_returns_what_the_cli_writes(tmp_path):
    lib = audit("length", suite="quick", limit=40, out=tmp_path / "lib", report=False)
    assert lib == _file(tmp_path / "lib")  # the returned dict is the file
    assert (tmp_path / "lib" / "samples.jsonl").is_file() and not (tmp_path / "lib" / "report.html").exists()
    res = CliRunner().invoke(main, ["run", "--quiet", "--rm", "length", "--suite", "quick", "--limit", "40",
                                    "--no-report", "--out", str(tmp_path / "cli")], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    cli = _file(tmp_path / "cli")
    _same_run(lib, cli)
    assert cli["engine"]["cache_hits"] == lib["engine"]["scored"]  # one score cache for library and CLI
    assert (tmp_path / "lib" / "samples.jsonl").read_text() == (tmp_path / "cli" / "samples.jsonl").read_text()
    assert lib["summary"]["spurious_index"] is not None and lib["reference"]["length"]["probes"]
    assert cli["config"]["rm"] == lib["config"]["rm"] == "length"


def test_audit_takes_a_loaded_rm_and_records_options(tmp_path, tiny_decoder_rm):
    rm = load_rm(tiny_decoder_rm, device="cpu", max_length=128)
    first = audit(rm, suite="quick", limit=30, cache=tmp_path / "c.sqlite")
    assert first["rm"]["name"] == tiny_decoder_rm and first["rm"]["info"]["formatting"]["max_length"] == 128
    assert first["engine"]["scored"] == first["engine"]["unique"] > 0
    again = audit(tiny_decoder_rm, suite="quick", limit=30, cache=str(tmp_path / "c.sqlite"), device="cpu",
                  max_length=128)
    assert again["engine"]["scored"] == 0  # same fingerprint, all from the cache
    assert again["config"]["rm_options"] == {"device": "cpu", "max_length": 128}
    _same_run(first, again)
    with pytest.raises(InputError, match="loaded already"):
        audit(rm, limit=5, device="cpu")


def test_run_benchmark_and_render_report(tmp_path, shared_data):
    rb = shared_data / "rewardbench" / "filtered.jsonl"
    got = run_benchmark("rewardbench", "length", data=str(rb), options={"subsets": "xstest-should-refuse"},
                        out=tmp_path / "rb")
    entry = got["benchmarks"]["rewardbench"]
    assert set(entry["subsets"]) == {"xstest-should-refuse"} and 0 <= entry["score"] <= 1
    assert got == _file(tmp_path / "rb")
    res = CliRunner().invoke(main, ["bench", "rewardbench", "--quiet", "--rm", "length", "--data", str(rb),
                                    "--option", "subsets=xstest-should-refuse", "--out", str(tmp_path / "cli")],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    _same_run(got, _file(tmp_path / "cli"))
    with pytest.raises(InputError, match="did you mean 'rewardbench'"):
        run_benchmark("rewardbenc", "length")
    run = audit("length", suite="quick", limit=30)
    path = render_report([run, tmp_path / "rb"], tmp_path / "cmp.html", title="two runs")
    html = Path(path).read_text()
    assert "two runs" in html and "rewardbench" in html


def test_dpo_audit_end_to_end(tmp_path):
    policy = build_tiny_causal_lm(tmp_path / "pol", seed=0, chat_template=CHAT_TEMPLATE)
    ref = build_tiny_causal_lm(tmp_path / "ref", seed=1, chat_template=CHAT_TEMPLATE)
    out = audit(f"dpo:{policy},{ref}", suite="quick", limit=30, device="cpu", max_length=256)
    assert out["rm"]["info"]["adapter"] == "DPORewardModel" and out["rm"]["fingerprint"].startswith("dpo-")
    assert out["clean"]["n_responses"] == 60 and out["probes"]


def test_judges_skip_the_score_cache(tmp_path, monkeypatch):
    from crome_audit.api import scoring_engine

    monkeypatch.setenv("CROME_AUDIT_GEN_CACHE", str(tmp_path / "gen.sqlite"))
    with ScriptedChatServer(lambda body, n: (200, "Rating: 6", None, 0)) as srv:
        engine = scoring_engine(load_rm(f"judge:{srv.base_url}#m"))
        assert engine.cache is None
        assert engine.score(["q", "q"], ["a", "b"]) == [6.0, 6.0]
        assert engine.rm.info()["parse_error_rate"] == 0.0
    assert scoring_engine(load_rm("length")).cache is not None
