"""Issue 23 (reliability, round 3), items 7-10 and the low list: one case per defect, each failing on 610aa90.
Bad input must be one line and exit 2 naming the thing (no traceback, nothing half-written, no input
overwritten); valid input must be read right. Model-free RMs (length, small py: files) keep it fast.

    python -m pytest -q tests/test_hardening_round3.py
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_helpers import cli, one_line_error

ROOT = Path(__file__).resolve().parents[1]
PAIR = {"prompt": "What is 2+2?", "chosen": "It is 4.", "rejected": "It is 5, I think."}
OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}




def error_after_progress(res, *contains, code=2):
    """As one_line_error, when transformers' progress bars ("Loading weights") come before the one error line."""
    assert res.exit_code == code, (res.exit_code, res.output)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip() and "it/s]" not in ln]
    assert len(lines) == 1 and lines[0].startswith("crome-audit: error:") and "Traceback" not in res.stderr, res.stderr
    for c in contains:
        assert c in lines[0], (c, lines[0])


def write_jsonl(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def pairs(n: int = 6) -> list[dict]:
    return [{"prompt": f"Question {i}: what is {i}+{i}?", "chosen": f"It is {2 * i}.",
             "rejected": f"It is {2 * i + 1}, I believe, after some thought."} for i in range(n)]


def run_length(tmp_path: Path, *extra, data=None, out=None):
    data = data or write_jsonl(tmp_path / "pairs.jsonl", pairs())
    out = out or tmp_path / "run"
    return cli("run", "-q", "--rm", "length", "--data", data, "--suite", "quick", "--no-cache", "-o", out, *extra), out


# ----------------------------------------------------------------------------- 7: JSON Lines split on "\n" only


@pytest.mark.parametrize("char", ["\u2028", "\u2029", "\u0085"])
def test_jsonl_line_breaks_inside_strings_are_text(tmp_path, char):
    from crome_audit.data import load_pairs

    rows = pairs()
    rows[1]["chosen"] = f"first{char}second"
    path = write_jsonl(tmp_path / "p.jsonl", rows)
    got, _ = load_pairs(str(path))
    assert len(got) == 6 and got[1]["chosen"] == f"first{char}second"


def test_own_samples_jsonl_reads_back(tmp_path):
    rows = pairs()
    rows[0]["chosen"] = "It is 0.\u2028Really."
    res, out = run_length(tmp_path, "--no-report", data=write_jsonl(tmp_path / "p.jsonl", rows))
    assert res.exit_code == 0, res.output
    assert "\u2028" in (out / "samples.jsonl").read_text(encoding="utf-8")
    from crome_audit.data import iter_rows

    rows_back, _ = iter_rows(str(out / "samples.jsonl"))
    assert sum(1 for _ in rows_back) == len((out / "samples.jsonl").read_bytes().split(b"\n")) - 1


# ----------------------------------------------------------------------------- low: input files


def test_gzip_bomb_line_is_refused(tmp_path):
    bomb = tmp_path / "bomb.jsonl.gz"
    with gzip.open(bomb, "wb", compresslevel=1) as f:
        f.write(b'{"prompt": "' + b" " * (65 * 2**20) + b'"}\n')
    assert bomb.stat().st_size < 1_000_000
    res, out = run_length(tmp_path, data=bomb)
    one_line_error(res, "bomb.jsonl.gz:1", "longer than 64 MB")
    assert not out.exists()


def test_zero_width_answer_is_empty(tmp_path):
    rows = pairs()
    rows[2]["rejected"] = "\u200b\u200b\u200b"
    res, out = run_length(tmp_path, data=write_jsonl(tmp_path / "zw.jsonl", rows))
    one_line_error(res, "zw.jsonl:3", "field 'rejected' is empty", "invisible")
    assert not out.exists()


# ----------------------------------------------------------------------------- 8: outputs never eat inputs


def test_run_out_holding_its_data_is_refused(tmp_path):
    run_dir = tmp_path / "d"
    run_dir.mkdir()
    data = write_jsonl(run_dir / "samples.jsonl", pairs())
    before = data.read_bytes()
    res, _ = run_length(tmp_path, data=data, out=run_dir)
    one_line_error(res, "is the input --data", "samples.jsonl")
    assert data.read_bytes() == before


@pytest.fixture
def a_run(tmp_path):
    res, out = run_length(tmp_path)
    assert res.exit_code == 0, res.output
    return out


def test_report_onto_its_run_is_refused(a_run):
    before = (a_run / "results.json").read_bytes()
    one_line_error(cli("report", a_run, "-o", a_run / "results.json"), "-o", "is the input run")
    one_line_error(cli("export", a_run, "--format", "md", "-o", a_run / "results.json"), "is the input run")
    assert (a_run / "results.json").read_bytes() == before


def test_gate_write_baseline_onto_its_run_is_refused(a_run):
    before = (a_run / "results.json").read_bytes()
    one_line_error(cli("gate", a_run, "--write-baseline", a_run / "results.json"), "--write-baseline",
                   "is the input RUN_DIR")
    assert (a_run / "results.json").read_bytes() == before


def test_generate_out_onto_its_prompts_is_refused(tmp_path):
    prompts = write_jsonl(tmp_path / "prompts.jsonl", [{"prompt": "hi", "label": "harmful"}])
    before = prompts.read_bytes()
    res = cli("generate", "--prompts", prompts, "--generator", "openai:http://127.0.0.1:9/v1#m", "-n", "1",
              "--out", prompts)
    one_line_error(res, "--out", "is the input --prompts")
    assert prompts.read_bytes() == before


def test_out_over_another_commands_folder_is_refused(a_run, tmp_path):
    before = {p.name: p.read_bytes() for p in a_run.iterdir() if p.is_file()}
    bench_data = ROOT / "crome_audit" / "assets" / "rewardbench_sample.jsonl"
    res = cli("bench", "rewardbench", "--rm", "length", "--bench-data", bench_data, "--no-cache", "-o", a_run)
    one_line_error(res, "holds the output of `crome-audit run`")
    assert {p.name: p.read_bytes() for p in a_run.iterdir() if p.is_file()} == before
    # the same command again into its own folder is fine
    res, _ = run_length(tmp_path, out=a_run)
    assert res.exit_code == 0, res.output


def test_two_runs_cannot_write_one_folder(tmp_path):
    """A second process finds OUT locked while the first (a slow py: RM) scores; a killed holder's lock is free."""
    import signal
    import time

    slow = tmp_path / "slow_rm.py"
    started = tmp_path / "started"
    slow.write_text(f"import time\ndef score(p, r):\n    open({str(started)!r}, 'w').close()\n    time.sleep(30)\n"
                    "    return [0.0] * len(r)\n")
    out = tmp_path / "shared"
    data = write_jsonl(tmp_path / "pairs.jsonl", pairs())
    env = {**os.environ, **OFFLINE, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "crome_audit", "run", "-q", "--data", str(data), "--suite", "quick",
           "--no-cache", "--no-report", "-o", str(out)]
    first = subprocess.Popen(cmd + ["--rm", f"py:{slow}:score"], env=env, stderr=subprocess.PIPE)
    try:
        for _ in range(600):
            if started.exists():
                break
            time.sleep(0.1)
        assert started.exists()
        second = subprocess.run(cmd + ["--rm", "length"], env=env, capture_output=True, text=True, timeout=120)
        assert second.returncode == 2, second.stderr
        assert "another crome-audit process (PID" in second.stderr and len(second.stderr.strip().splitlines()) == 1
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert (out / ".crome-audit.lock").exists()  # left by the killed run: stale, recovered
    after = subprocess.run(cmd + ["--rm", "length"], env=env, capture_output=True, text=True, timeout=120)
    assert after.returncode == 0, after.stderr
    assert not (out / ".crome-audit.lock").exists() and (out / "results.json").is_file()


# ----------------------------------------------------------------------------- 9 and low: what a py: RM returns


@pytest.mark.parametrize("body,expect", [
    ("def score(p, r):\n    return {float(i): 0.0 for i in range(len(r))}\n", ["must return a list", "got a dict"]),
    ("def score(p, r):\n    return {float(i) for i in range(len(r))}\n", ["got a set"]),
    ("import types\ndef score(p, r):\n    return types.MappingProxyType({i: 1 for i in range(len(r))})\n",
     ["got a mappingproxy"]),
    ("def score(p, r):\n    return [10 ** 400] * len(r)\n", ["integer too large for a float"]),
    ("def score(p, r):\n    return [(-1) ** i * 1.5e308 for i in range(len(r))]\n", ["beyond ±1e+100", "rescale"]),
])
def test_py_rm_returns_are_refused(tmp_path, body, expect):
    mod = tmp_path / "myrm.py"
    mod.write_text(body)
    out = tmp_path / "run"
    res = cli("run", "-q", "--rm", f"py:{mod}:score", "--data", write_jsonl(tmp_path / "pairs.jsonl", pairs()),
              "--suite", "quick", "--no-cache", "-o", out)
    one_line_error(res, *expect)
    assert not out.exists()


# ----------------------------------------------------------------------------- 10 and low: recipes


def test_recipe_section_given_twice_names_the_line(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("name: dup\ntrain:\n  learning_rate: 1.0e-4\nmodel:\n  max_length: 64\n"
                      "train:\n  batch_size: 2\n")
    out = tmp_path / "o"
    one_line_error(cli("train", "--config", recipe, "--out", out), "r.yaml:6", "'train' given twice",
                   "first on line 2")
    assert not out.exists()


def test_suite_key_given_twice_is_an_error(tmp_path):
    suite = tmp_path / "s.yaml"
    suite.write_text("probes:\n  - name: a\n    name: b\n")
    res, out = run_length(tmp_path, "--suite", suite)
    one_line_error(res, "s.yaml:3", "'name' given twice")


def test_absurd_batch_size_refused_before_any_stage(tmp_path):
    out = tmp_path / "o"
    res = cli("train", "--config", "tiny-crome", "--set", f"train.batch_size={10 ** 20}", "--out", out)
    one_line_error(res, "train.batch_size")
    assert not out.exists()


# ----------------------------------------------------------------------------- low: serving and judges


class FakeServer:
    """A real HTTP server on 127.0.0.1 whose routes are (method, path) -> handler(request_handler)."""

    def __init__(self, routes: dict):
        import http.server
        import threading

        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _route(self, method):
                length = int(self.headers.get("Content-Length") or 0)
                self.body = self.rfile.read(length) if length else b""
                handler = outer.routes.get((method, self.path.split("?")[0]))
                if handler is None:
                    return send_json(self, {"error": "not found"}, 404)
                try:
                    handler(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_GET(self):
                self._route("GET")

            def do_POST(self):
                self._route("POST")

        self.routes = routes
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def send_json(h, obj, status=200):
    raw = json.dumps(obj).encode()
    h.send_response(status)
    h.send_header("Content-Type", "application/json")
    h.send_header("Content-Length", str(len(raw)))
    h.end_headers()
    h.wfile.write(raw)


def drip(h):
    """Headers at once, then one byte of a 10,000-byte body every 0.2 s (each read well within the timeout)."""
    import time

    h.send_response(200)
    h.send_header("Content-Type", "application/json")
    h.send_header("Content-Length", "10000")
    h.end_headers()
    for _ in range(10000):
        h.wfile.write(b" ")
        h.wfile.flush()
        time.sleep(0.2)


def cli_subprocess(*args, timeout=60):
    """The CLI in a child process with a hard wall-clock limit (a hang fails the test, not the suite)."""
    env = {**os.environ, **OFFLINE, "PYTHONPATH": str(ROOT)}
    try:
        return subprocess.run([sys.executable, "-m", "crome_audit", *map(str, args)], env=env, capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running after {timeout} s: {args}")


def one_line_error_proc(proc, *contains, code=2):
    assert proc.returncode == code, (proc.returncode, proc.stderr[-2000:])
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.startswith("crome-audit: error:")]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    for c in contains:
        assert c in lines[0], (c, lines[0])


def test_served_rm_timeout_is_a_deadline_per_answer(tmp_path):
    with FakeServer({("POST", "/get_reward"): drip}) as srv:
        proc = cli_subprocess("run", "-q", "--rm", f"openrlhf:{srv.url}", "--rm-arg", "template={prompt} {response}",
                              "--rm-arg", "timeout=1", "--rm-arg", "retries=0", "--no-cache", "-o", tmp_path / "o")
    one_line_error_proc(proc, "/get_reward", "no complete answer within 1 s")


def judge_routes(reply):
    def chat(h):
        send_json(h, {"choices": [{"message": {"role": "assistant", "content": reply}}]})

    return {("GET", "/v1/models"): lambda h: send_json(h, {"data": [{"id": "m"}]}),
            ("POST", "/v1/chat/completions"): chat}


def test_judge_timeout_is_a_deadline_per_answer(tmp_path):
    routes = {**judge_routes("Rating: 5"), ("POST", "/v1/chat/completions"): drip}
    with FakeServer(routes) as srv:
        proc = cli_subprocess("run", "-q", "--rm", f"judge:{srv.url}/v1#m", "--rm-arg", "timeout_s=1", "--rm-arg",
                              "max_retries=0", "--limit", "2", "--suite", "quick", "--no-cache", "-o", tmp_path / "o")
    assert proc.returncode != 0 and "timed out after 1s" in proc.stderr, proc.stderr[-2000:]


def test_judge_reply_is_capped(tmp_path):
    with FakeServer(judge_routes("Rating: 5 " + "x" * (5 * 2**20))) as srv:
        proc = cli_subprocess("run", "-q", "--rm", f"judge:{srv.url}/v1#m", "--rm-arg", "max_retries=0",
                              "--limit", "2", "--suite", "quick", "-o", tmp_path / "o",
                              "--cache", tmp_path / "scores.sqlite")
    one_line_error_proc(proc, "/v1/chat/completions", "answer larger than 4 MB")
    assert sum(p.stat().st_size for p in tmp_path.rglob("*") if p.is_file()) < 2**20


def fake_vllm(models):
    return {("GET", "/version"): lambda h: send_json(h, {"version": "0.8.5"}),
            ("GET", "/v1/models"): lambda h: send_json(h, models)}


def test_malformed_get_is_reported_as_get(tmp_path):
    with FakeServer(fake_vllm({"data": 5})) as srv:
        proc = cli_subprocess("run", "-q", "--rm", f"vllm:{srv.url}", "--no-cache", "-o", tmp_path / "o")
    one_line_error_proc(proc, "malformed answer from GET", "/v1/models")


def test_numeric_model_ids_are_names(tmp_path):
    with FakeServer(fake_vllm({"data": [{"id": 7}, {"id": 8}]})) as srv:
        proc = cli_subprocess("run", "-q", "--rm", f"vllm:{srv.url}", "--no-cache", "-o", tmp_path / "o")
    one_line_error_proc(proc, "serves 2 models (7, 8)")


def test_latin1_judge_prompt_file(tmp_path):
    prompt_file = tmp_path / "prompt.txt"
    prompt_file.write_bytes("Évaluez {prompt} → {response}".encode("latin-1", "replace"))
    with FakeServer(judge_routes("Rating: 5")) as srv:
        res = cli("run", "-q", "--rm", f"judge:{srv.url}/v1#m", "--rm-arg", f"prompt_file={prompt_file}",
                  "--no-cache", "-o", tmp_path / "o")
    one_line_error(res, "prompt_file", "prompt.txt", "not valid UTF-8")


# ----------------------------------------------------------------------------- low: paths and output folders


def test_cache_variable_with_tilde_is_expanded(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    res = cli("run", "-q", "--rm", "length", "--limit", "3", "--suite", "quick", "--no-report", "-o", tmp_path / "o",
              env={"HOME": str(home), "CROME_AUDIT_CACHE": "~/c/scores.sqlite"})
    assert res.exit_code == 0, res.output
    assert (home / "c" / "scores.sqlite").is_file() and not (tmp_path / "~").exists()


@pytest.mark.parametrize("command", ["report", "gate"])
@pytest.mark.parametrize("target", ["/sys/crome-audit-out.json", "LONG"])
def test_unwritable_single_file_outputs_are_exit_2(a_run, tmp_path, command, target):
    """A read-only place (/sys refuses even root) and a 300-byte file name."""
    path = tmp_path / ("n" * 300 + ".json") if target == "LONG" else Path(target)
    flag = ["-o", path] if command == "report" else ["--write-baseline", path]
    one_line_error(cli(command, a_run, *flag), str(path)[:40])


def test_relative_out_is_where_the_command_ran(tmp_path, monkeypatch):
    """A py: RM that changes the working folder while it scores: -o out still means ./out of the command."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    mod = tmp_path / "chdir_rm.py"
    mod.write_text(f"import os\ndef score(p, r):\n    os.chdir({str(elsewhere)!r})\n    return [float(len(x)) for x in r]\n")
    monkeypatch.chdir(tmp_path)
    res = cli("run", "-q", "--rm", f"py:{mod}:score", "--data", write_jsonl(tmp_path / "p.jsonl", pairs()),
              "--suite", "quick", "--no-cache", "--no-report", "-o", "out")
    os.chdir(tmp_path)
    assert res.exit_code == 0, res.output
    assert (tmp_path / "out" / "results.json").is_file() and not (elsewhere / "out").exists()


def test_non_utf8_file_name_under_c_locale(tmp_path):
    folder = os.fsencode(tmp_path) + b"/donn\xe9es"
    os.mkdir(folder)
    write_jsonl(Path(os.fsdecode(folder)) / "pairs.jsonl", pairs())
    env = {**os.environ, **OFFLINE, "PYTHONPATH": str(ROOT), "LC_ALL": "C", "LANG": "C"}
    proc = subprocess.run([sys.executable, "-m", "crome_audit", "run", "-q", "--rm", "length", "--data",
                           folder + b"/pairs.jsonl", "--suite", "quick", "--no-cache", "-o", str(tmp_path / "o")],
                          env=env, capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    recorded = json.loads((tmp_path / "o" / "results.json").read_text(encoding="utf-8"))["data"]["path"]
    assert recorded.endswith("donn\\xe9es/pairs.jsonl")


def test_incomplete_marker_is_not_read_as_a_run(a_run):
    (a_run / ".incomplete").write_text("interrupted\n")
    one_line_error(cli("report", a_run, "-o", a_run.parent / "r.html"), ".incomplete", "interrupted")
    one_line_error(cli("gate", a_run, "--max-spurious-index", "1"), ".incomplete")


# ----------------------------------------------------------------------------- low: injection through names


def test_names_cannot_inject_into_console_junit_or_markdown(a_run, tmp_path):
    import xml.etree.ElementTree as ET

    doc = json.loads((a_run / "results.json").read_text(encoding="utf-8"))
    names = ["evil\r\n::error title=pwned::injected", "bell\x07nul\x00", "<img src=x onerror=alert(1)>"]
    for probe, name in zip(doc["probes"], names):
        probe["name"] = name
    (a_run / "results.json").write_text(json.dumps(doc), encoding="utf-8")
    junit = tmp_path / "gate.xml"
    res = cli("gate", a_run, "--baseline", a_run, "--junit", junit)
    assert res.exit_code in (0, 1), res.output
    assert not any(line.startswith("::") for line in res.output.splitlines()), res.output
    assert "evil\\r\\n::error" in res.output
    ET.parse(junit)  # well-formed XML 1.0
    md = tmp_path / "t.md"
    assert cli("export", a_run, "--format", "md", "-o", md).exit_code == 0
    text = md.read_text(encoding="utf-8")
    assert "<img" not in text and "&lt;img src=x onerror=alert(1)&gt;" in text
    assert not any(line.startswith("::") for line in text.splitlines())


# ----------------------------------------------------------------------------- low: models, checkpoints, recipes


def test_chat_template_escaping_the_sandbox_is_named(tiny_decoder_rm, tmp_path):
    import shutil

    model = tmp_path / "rm"
    shutil.copytree(tiny_decoder_rm, model)
    (model / "chat_template.jinja").write_text(
        "{{ ''.__class__.__mro__[1].__subclasses__() }}{% for m in messages %}{{ m.content }}{% endfor %}")
    res, out = run_length(tmp_path)  # the data file
    res = cli("run", "-q", "--rm", model, "--data", tmp_path / "pairs.jsonl", "--suite", "quick", "--no-cache",
              "-o", tmp_path / "o2")
    error_after_progress(res, "the chat template", "SecurityError")


def test_three_label_classifier_is_not_a_reward_model(tmp_path):
    from transformers import BertConfig, BertForSequenceClassification

    from tests.tiny_models import local_tokenizer

    tok = local_tokenizer()
    model = tmp_path / "clf3"
    BertForSequenceClassification(BertConfig(vocab_size=tok.vocab_size, hidden_size=16, num_hidden_layers=1,
                                             num_attention_heads=2, intermediate_size=32,
                                             num_labels=3)).save_pretrained(model)
    tok.save_pretrained(model)
    res = cli("run", "-q", "--rm", model, "--limit", "3", "--suite", "quick", "--no-cache", "-o", tmp_path / "o")
    error_after_progress(res, "3 outputs, not a reward model")


@pytest.fixture(scope="module")
def checkpointed(tmp_path_factory):
    """A 3-step run that checkpoints every step (tiny BERT): step-2 is the newest checkpoint."""
    from tests.train_helpers import separable_pairs, write_recipe

    tmp = tmp_path_factory.mktemp("ckpt3")
    data = separable_pairs(tmp / "pairs.jsonl", n=40)
    recipe = write_recipe(tmp / "r.yaml", data={"path": data, "heldout_fraction": 0.2},
                          train={"max_steps": 3, "save_steps": 1, "save_total_limit": None, "batch_size": 8})
    out = tmp / "out"
    res = cli("train", "--config", recipe, "--out", out)
    assert res.exit_code == 0, res.output
    return recipe, out


def _damaged_copy(checkpointed, tmp_path, damage):
    import shutil

    recipe, out = checkpointed
    dst = tmp_path / "out"
    shutil.copytree(out, dst, symlinks=True)
    for stage in ("train", "eval"):
        (dst / ".cache/pipeline/stages" / f"{stage}.json").unlink(missing_ok=True)
    damage(dst / ".cache/pipeline/checkpoints/step-2")
    return recipe, dst


def _truncate(folder):
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])


def _symlink(folder, target=None):
    weights = folder / "model.safetensors"
    real = folder.parent / "elsewhere.safetensors"
    weights.rename(real)
    weights.symlink_to(real)


def _step_eight(folder):
    state = json.loads((folder / "trainer_state.json").read_text())
    (folder / "trainer_state.json").write_text(json.dumps({**state, "step": "eight"}))


@pytest.mark.parametrize("damage,expect", [(_truncate, ["model.safetensors", "corrupt safetensors"]),
                                           (_symlink, ["model.safetensors (a symlink)"]),
                                           (_step_eight, ["trainer_state.json", "'step'", "'eight'"])])
def test_corrupt_checkpoint_files_are_named(checkpointed, tmp_path, damage, expect):
    recipe, out = _damaged_copy(checkpointed, tmp_path, damage)
    error_after_progress(cli("train", "--config", recipe, "--out", out), *expect)


# ----------------------------------------------------------------------------- low: reading results.json


def _edited_run(a_run, tmp_path, edit):
    doc = json.loads((a_run / "results.json").read_text(encoding="utf-8"))
    edit(doc)
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(doc) if not isinstance(doc, str) else doc, encoding="utf-8")
    return path


@pytest.mark.parametrize("edit,expect", [
    (lambda d: d.update(probes=[1]), "probes[0]: must be an object, got int"),
    (lambda d: d.update(probes=[None]), "probes[0]: must be an object, got NoneType"),
    (lambda d: d["probes"][0].update(n=-5), "probes[0].n: must be a whole number >= 0"),
    (lambda d: d.update(summary=[]), "field 'summary' must be an object"),
])
def test_malformed_results_files_are_exit_2(a_run, tmp_path, edit, expect):
    path = _edited_run(a_run, tmp_path, edit)
    for args in (["report", path, "-o", tmp_path / "r.html"], ["gate", path, "--max-spurious-index", "1"]):
        one_line_error(cli(*args), "edited.json", expect)


def test_deeply_nested_results_file_is_exit_2(a_run, tmp_path):
    path = tmp_path / "edited.json"
    doc = (a_run / "results.json").read_text(encoding="utf-8").rstrip()
    path.write_text(doc[:-1] + ', "deep": ' + "[" * 50_000 + "]" * 50_000 + "}", encoding="utf-8")
    one_line_error(cli("report", path, "-o", tmp_path / "r.html"), "edited.json", "nested")


@pytest.mark.parametrize("edit,expect", [
    (lambda b: b["probes"][0].update(instability=0.9, instability_ci=[0.1, 0.2]), "does not contain its value 0.9"),
    (lambda b: b["probes"][0].update(n=-3), "probes[0].n: must be a whole number >= 0"),
    (lambda b: b["summary"].update(spurious_index=0.5, spurious_index_ci=[0.6, 0.7]), "summary.spurious_index_ci"),
])
def test_untrustworthy_baseline_is_exit_2(a_run, tmp_path, edit, expect):
    baseline = tmp_path / "baseline.json"
    assert cli("gate", a_run, "--write-baseline", baseline).exit_code == 0
    doc = json.loads(baseline.read_text(encoding="utf-8"))
    edit(doc)
    baseline.write_text(json.dumps(doc), encoding="utf-8")
    one_line_error(cli("gate", a_run, "--baseline", baseline), "baseline.json", expect)


def test_train_refuses_a_folder_another_process_is_writing(tmp_path):
    """`train` holds OUT's lock for every stage (as run/bench do for their output sets): while another process
    holds it, a second train into the same folder is one line, exit 2, and writes nothing there."""
    from crome_audit.outputs import folder_lock

    out = tmp_path / "rm"
    with folder_lock(out):
        r = cli("train", "--config", "tiny-bt", "--out", out, "--set", "train.max_steps=1")
    assert r.exit_code == 2, r.output
    assert "another crome-audit process" in r.output and "Traceback" not in r.output
    assert not (out / "crome_training.json").exists()
