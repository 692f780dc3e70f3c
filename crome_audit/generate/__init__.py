"""LLM generator backends for the trainer (rubrics, counterfactual rewrites) and the benchmarks
(WildGuard Best-of-N candidates, paraphrase / back-translation).

    from crome_audit.generate import load_generator
    gen = load_generator("openai:http://127.0.0.1:8080/v1#smollm2")          # any OpenAI-compatible server
    gen = load_generator("local:/path/SmolLM2-135M-Instruct.Q4_1.gguf")        # transformers, in process
    gen = load_generator({"backend": "openai", "model": "gpt-4o-mini", "base_url": "https://api.openai.com/v1"})
    gen.generate([[{"role": "user", "content": "Hi"}]], n=4, temperature=0.8)  # -> [[4 strings]]

Tasks (``crome_audit.generate.tasks``, re-exported here): generate_rubrics, counterfactual_rewrites,
neutral_restyles, paraphrase, back_translate, best_of_n_candidates. See docs/generators.md for vLLM / llama.cpp / Ollama / hosted APIs, the API-key variable and the cache.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import ConfigError
from .base import GenerationError, Generator
from .config import GeneratorConfig, parse_spec
from .tasks import (
    RewriteLimits,
    RewriteResult,
    RewriteResults,
    RubricResult,
    RubricResults,
    back_translate,
    best_of_n_candidates,
    counterfactual_rewrites,
    generate_rubrics,
    neutral_restyles,
    paraphrase,
)

__all__ = ["GenerationError", "Generator", "GeneratorConfig", "RewriteLimits", "RewriteResult", "RewriteResults",
           "RubricResult", "RubricResults", "back_translate", "best_of_n_candidates", "counterfactual_rewrites",
           "generate_rubrics", "load_generator", "neutral_restyles", "paraphrase", "parse_spec", "resolve_config"]


def _read_config_file(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"{path}: cannot read generator config: {e.strerror or e}") from None
    if path.suffix != ".json":
        from ..config_loader import parse_yaml

        data = parse_yaml(text, str(path))  # the one safe loader: size cap, alias limits, YAML 1.2 floats
        text = None
    try:
        if text is not None:
            data = json.loads(text)
    except Exception as e:
        raise ConfigError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: "
                          f"{str(e).splitlines()[0]}") from None
    if isinstance(data, dict) and isinstance(data.get("generator"), dict) and len(data) == 1:
        data = data["generator"]
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of generator settings")
    return data


def resolve_config(source, **overrides) -> GeneratorConfig:
    """A GeneratorConfig from a config, a dict, a spec string, or a .yaml/.json file path; ``overrides``
    (None values ignored) replace fields."""
    where = "generator"
    if isinstance(source, GeneratorConfig):
        values = source.to_dict()
    elif isinstance(source, dict):
        values = dict(source)
    elif isinstance(source, str) and source.endswith((".yaml", ".yml", ".json")) and ":" not in source.split("/")[0]:
        path = Path(source)
        if not path.is_file():
            raise ConfigError(f"--generator {source}: no such config file")
        values, where = _read_config_file(path), str(path)
    elif isinstance(source, str):
        values = parse_spec(source).to_dict()
    else:
        raise ConfigError(f"generator: expected a spec string, a mapping or a GeneratorConfig, "
                          f"got {type(source).__name__}")
    values.update({k: v for k, v in overrides.items() if v is not None})
    return GeneratorConfig.from_dict(values, where=where)


def load_generator(source, **overrides) -> Generator:
    """Build the backend a config / dict / spec string / config file names (see module docstring)."""
    config = resolve_config(source, **overrides)
    if config.backend == "openai":
        from .openai_http import OpenAIHTTPGenerator

        return OpenAIHTTPGenerator(config)
    from .local_hf import LocalHFGenerator

    return LocalHFGenerator(config)
