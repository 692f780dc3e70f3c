"""Generator config: unknown keys, spec strings, config files, the API key from the environment only,
and the prompt templates. Run: python -m pytest -q tests/test_generate_config.py"""

import re

import pytest

from crome_audit.errors import ConfigError, InputError
from crome_audit.generate import GeneratorConfig, load_generator, parse_spec, resolve_config
from crome_audit.generate.prompts import (
    ATTRIBUTES,
    TEMPLATE_NAMES,
    load_template,
    render,
    rewrite_template_name,
)
from tests.generate_servers import ScriptedChatServer


@pytest.fixture(autouse=True)
def _no_user_cache(monkeypatch):
    monkeypatch.delenv("CROME_AUDIT_GEN_CACHE", raising=False)


def test_unknown_key_names_key_with_did_you_mean():
    with pytest.raises(ConfigError, match=r"unknown key 'concurency' \(did you mean 'concurrency'\?"):
        GeneratorConfig.from_dict({"backend": "openai", "concurency": 4})
    with pytest.raises(ConfigError, match="unknown key 'colour' \\(known: api_key_env"):
        GeneratorConfig.from_dict({"colour": "blue"})


def test_api_key_is_never_a_config_value(tmp_path):
    for key in ("api_key", "API_KEY", "token"):
        with pytest.raises(ConfigError, match="read only from the environment variable named by 'api_key_env'"):
            GeneratorConfig.from_dict({"backend": "openai", key: "sk-secret"})
    with pytest.raises(ConfigError, match="api_key"):
        parse_spec("openai:http://127.0.0.1:1/v1#m?api_key=sk-secret")
    cfg = tmp_path / "gen.yaml"
    cfg.write_text("backend: openai\nmodel: m\napi_key: sk-secret\n")
    with pytest.raises(ConfigError, match=r"gen.yaml: key 'api_key' is not accepted"):
        resolve_config(str(cfg))


def test_bad_values_and_backends():
    with pytest.raises(ConfigError, match=r"unknown backend 'opneai' \(did you mean 'openai'"):
        GeneratorConfig(backend="opneai")
    with pytest.raises(ConfigError, match="'concurrency' has an invalid value 0"):
        GeneratorConfig(concurrency=0)
    with pytest.raises(ConfigError, match="'timeout_s' must be a number, got 'soon'"):
        GeneratorConfig.from_dict({"timeout_s": "soon"})
    with pytest.raises(ConfigError, match="'model' is required for the local backend"):
        GeneratorConfig(backend="local")


def test_spec_strings(tmp_path):
    cfg = parse_spec("openai:http://127.0.0.1:8080/v1/#smollm2?concurrency=3&temperature=0.5&cache=false")
    assert (cfg.backend, cfg.base_url, cfg.model) == ("openai", "http://127.0.0.1:8080/v1", "smollm2")
    assert (cfg.concurrency, cfg.temperature, cfg.cache) == (3, 0.5, False)
    gguf = tmp_path / "m" / "tiny.Q4.gguf"
    gguf.parent.mkdir()
    gguf.write_bytes(b"GGUF")
    local = parse_spec(f"local:{gguf}?batch_size=2")
    assert (local.model, local.gguf_file, local.batch_size) == (str(gguf.parent), "tiny.Q4.gguf", 2)
    assert parse_spec("local:HuggingFaceTB/SmolLM2-135M-Instruct").model == "HuggingFaceTB/SmolLM2-135M-Instruct"
    for bad, msg in [("vllm:http://x", "expected 'openai:URL#MODEL'"), ("openai:127.0.0.1:8080#m", "http"),
                     ("local:", "needs a model"), ("openai:http://h/v1#m?batchsize=2", "did you mean 'batch_size'")]:
        with pytest.raises(ConfigError, match=msg):
            parse_spec(bad)


def test_config_file_and_overrides(tmp_path):
    path = tmp_path / "gen.yaml"
    path.write_text("generator:\n  backend: openai\n  model: qwen\n  base_url: http://127.0.0.1:9/v1\n"
                    "  extra_body: {top_k: 20}\n")
    cfg = resolve_config(str(path), concurrency=2, seed=None)
    assert (cfg.model, cfg.concurrency, cfg.seed, cfg.extra_body) == ("qwen", 2, 0, {"top_k": 20})
    path.write_text("backend: openai\nmodle: qwen\n")
    with pytest.raises(ConfigError, match=r"gen.yaml: unknown key 'modle' \(did you mean 'model'"):
        resolve_config(str(path))
    with pytest.raises(ConfigError, match="no such config file"):
        resolve_config(str(tmp_path / "missing.yaml"))


def _ok(body, n_call):
    return 200, "fine", {}, 0


def test_api_key_read_from_environment_only(monkeypatch, tmp_path):
    monkeypatch.delenv("MY_LLM_KEY", raising=False)
    with ScriptedChatServer(_ok) as server:
        spec = f"openai:{server.base_url}#m?api_key_env=MY_LLM_KEY&cache=false&progress=false"
        load_generator(spec).generate(["hi"])
        assert "Authorization" not in server.headers[-1]
        monkeypatch.setenv("MY_LLM_KEY", "sk-from-env")
        load_generator(spec).generate(["hi"])
        assert server.headers[-1]["Authorization"] == "Bearer sk-from-env"
        # the default variable is not consulted when another one is named
        monkeypatch.setenv("OPENAI_API_KEY", "sk-default")
        monkeypatch.delenv("MY_LLM_KEY")
        load_generator(spec).generate(["hi"])
        assert "Authorization" not in server.headers[-1]
    with pytest.raises(ConfigError, match="environment variable MY_LLM_KEY is unset"):
        load_generator("openai:http://127.0.0.1:9/v1#m?api_key_env=MY_LLM_KEY&require_api_key=true")


def test_every_template_exists_and_renders():
    assert len(TEMPLATE_NAMES) == 2 * len(ATTRIBUTES) + 5
    for name in TEMPLATE_NAMES:
        text = load_template(name)
        assert "{{" in text, name
        values = {"prompt": "P", "response": "R", "text": "T", "pivot": "German", "attributes": "- a"}
        wanted = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", text))
        msgs = render(name, **{k: values[k] for k in wanted})
        assert msgs[0]["role"] == "system" and msgs[-1]["role"] == "user"
        assert "{{" not in msgs[-1]["content"]
    msgs = render("degrade_factuality", prompt="What is {{x}}?", response="[system]\n{{prompt}} {0}")
    assert "What is {{x}}?" in msgs[-1]["content"] and "[system]\n{{prompt}} {0}" in msgs[-1]["content"]
    assert len(msgs) == 2
    with pytest.raises(ConfigError, match="placeholders"):
        render("paraphrase", prompt="x")


def test_template_names_and_aliases():
    assert rewrite_template_name("coherence", "degrade") == "degrade_clarity"
    assert rewrite_template_name("math_correctness", "upgrade") == "upgrade_reasoning"
    assert rewrite_template_name("style", "neutral") == "neutral_restyle"
    with pytest.raises(ConfigError, match="did you mean 'factuality'"):
        rewrite_template_name("factualty", "degrade")
    with pytest.raises(ConfigError, match="direction"):
        rewrite_template_name("safety", "sideways")
    with pytest.raises(InputError):
        load_generator("openai:http://127.0.0.1:9/v1#m").generate([[{"role": "robot", "content": "x"}]])
