"""Generator configuration: one dataclass for both backends, with help text on every field.

    from crome_audit.generate.config import GeneratorConfig, parse_spec
    cfg = GeneratorConfig.from_dict({"backend": "openai", "model": "qwen2.5-7b", "base_url": "http://..."})
    cfg = parse_spec("openai:http://127.0.0.1:8080/v1#smollm2")    # same thing as a spec string
    cfg = parse_spec("local:/models/SmolLM2-135M-Instruct.Q4_1.gguf?batch_size=4")

Unknown keys raise :class:`ConfigError` naming the key (with "did you mean"). The API key is never a
config value: only the *name* of the environment variable that holds it (``api_key_env``). Credentials that
do end up in a config anyway (a key in ``extra_body``, ``user:password@`` or ``?api_key=`` in ``base_url``) are
sent to the server but redacted everywhere else (crome_audit.secrets): cache keys, provenance, errors.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl

from ..errors import ConfigError
from ..registry import suggest
from ..secrets import is_env_var_name, redact, redact_text, redact_url, remember, secret_values

BACKENDS = ("openai", "local")
SECRET_KEYS = {"api_key", "key", "token", "openai_api_key", "authorization", "bearer"}


@dataclass
class GeneratorConfig:
    backend: str = field(default="openai", metadata={
        "help": "'openai' (any OpenAI-compatible /v1/chat/completions server: vLLM, llama.cpp server, "
                "Ollama, hosted APIs) or 'local' (a transformers causal LM in this process)."})
    model: str = field(default="", metadata={
        "help": "openai: the model name sent in each request (part of the cache key, so name the model you "
                "really serve). local: a model folder, a hub id, or a .gguf file path."})
    base_url: str = field(default="http://127.0.0.1:8000/v1", metadata={
        "help": "openai: the API root that /chat/completions is appended to (e.g. http://127.0.0.1:8080/v1)."})
    api_key_env: str = field(default="OPENAI_API_KEY", metadata={
        "help": "openai: NAME of the environment variable holding the API key (sent as 'Authorization: "
                "Bearer ...'). The key itself is never read from a file or a flag. Unset -> no header."})
    require_api_key: bool = field(default=False, metadata={
        "help": "openai: fail at start-up if the variable named by api_key_env is unset or empty "
                "(hosted APIs); local servers usually need no key."})
    concurrency: int = field(default=8, metadata={
        "help": "openai: requests in flight at once (a thread pool)."})
    timeout_s: float = field(default=120.0, metadata={
        "help": "openai: per-request timeout in seconds (connect + read). A timeout is retried."})
    max_retries: int = field(default=5, metadata={
        "help": "openai: retries per request on HTTP 429, 5xx, timeouts and connection errors "
                "(other 4xx fail at once)."})
    backoff: float = field(default=1.0, metadata={
        "help": "openai: first retry delay in seconds; doubles each retry (exponential backoff). A "
                "Retry-After header from the server is honoured up to backoff_max."})
    backoff_max: float = field(default=60.0, metadata={
        "help": "openai: upper bound of one retry delay in seconds."})
    extra_body: dict = field(default_factory=dict, metadata={
        "help": "openai: extra JSON fields merged into every request (e.g. {'top_k': 20}); part of the "
                "cache key."})
    max_new_tokens: int = field(default=512, metadata={
        "help": "Default cap on generated tokens per sample (max_tokens in the HTTP request)."})
    temperature: float = field(default=0.0, metadata={
        "help": "Default sampling temperature; 0 = greedy (deterministic)."})
    top_p: float = field(default=1.0, metadata={
        "help": "Nucleus sampling mass (1.0 = off)."})
    seed: int = field(default=0, metadata={
        "help": "Base seed. Sample k of a conversation gets a seed derived from (seed, k, messages), sent "
                "to the server / used by the local sampler, so the same inputs give the same outputs."})
    cache: bool = field(default=True, metadata={
        "help": "Keep every request/response in an on-disk SQLite cache; a re-run costs no generation."})
    cache_dir: str | None = field(default=None, metadata={
        "help": "Folder of the cache (file generations.sqlite). Default: $CROME_AUDIT_GEN_CACHE's folder, "
                "else next to the score cache ($CROME_AUDIT_CACHE or ~/.cache/crome-audit/)."})
    gguf_file: str | None = field(default=None, metadata={
        "help": "local: name of a GGUF file inside the model folder/hub repo (de-quantized by transformers). "
                "Set automatically when model is a path to a .gguf file."})
    device: str = field(default="auto", metadata={
        "help": "local: auto, cpu, cuda, cuda:1, mps."})
    dtype: str = field(default="auto", metadata={
        "help": "local: auto (bf16/fp16 on GPU, fp32 on CPU), fp32, bf16, fp16."})
    batch_size: int = field(default=8, metadata={
        "help": "local: sequences generated together (left-padded)."})
    num_threads: int | None = field(default=None, metadata={
        "help": "local: torch CPU threads while generating (restored afterwards); None = torch's default. On "
                "a busy, shared CPU, 1 can be many times faster than oversubscribed threads."})
    trust_remote_code: bool = field(default=False, metadata={
        "help": "local: allow custom model code from the model folder/hub."})
    progress: bool = field(default=True, metadata={
        "help": "Show a progress bar on stderr."})

    def __post_init__(self):
        if self.backend not in BACKENDS:
            raise ConfigError(f"generator: unknown backend '{self.backend}'{suggest(self.backend, BACKENDS)}")
        if not str(self.model).strip() and self.backend == "local":
            raise ConfigError("generator: 'model' is required for the local backend (folder, hub id or .gguf)")
        checks = [("concurrency", self.concurrency >= 1), ("timeout_s", self.timeout_s > 0),
                  ("max_retries", self.max_retries >= 0), ("backoff", self.backoff >= 0),
                  ("backoff_max", self.backoff_max >= 0), ("max_new_tokens", self.max_new_tokens >= 1),
                  ("temperature", self.temperature >= 0), ("top_p", 0 < self.top_p <= 1),
                  ("batch_size", self.batch_size >= 1),
                  ("num_threads", self.num_threads is None or self.num_threads >= 1)]
        for name, ok in checks:
            if not ok:
                raise ConfigError(f"generator: '{name}' has an invalid value {getattr(self, name)!r}")
        if not isinstance(self.extra_body, dict):
            raise ConfigError("generator: 'extra_body' must be a mapping")
        if self.api_key_env and not is_env_var_name(self.api_key_env):  # a key where a name belongs: not echoed
            remember(self.api_key_env)
            raise ConfigError("generator: 'api_key_env' takes the NAME of an environment variable (letters, "
                              "digits, _), not the key itself (the value given is not shown)")
        _remember_secrets(self)
        if self.backend == "local" and self.model.endswith(".gguf") and Path(self.model).is_file():
            self.gguf_file = Path(self.model).name
            self.model = str(Path(self.model).resolve().parent)

    # ------------------------------------------------------------------ construction

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_dict(cls, values: dict, where: str = "generator") -> GeneratorConfig:
        if not isinstance(values, dict):
            raise ConfigError(f"{where}: expected a mapping of generator settings, got {type(values).__name__}")
        known = cls.field_names()
        for key in values:
            if key in known:
                continue
            if str(key).lower() in SECRET_KEYS:
                raise ConfigError(f"{where}: key '{key}' is not accepted: API keys are read only from the "
                                  f"environment variable named by 'api_key_env' (default OPENAI_API_KEY)")
            raise ConfigError(f"{where}: unknown key '{key}'{suggest(key, known)}")
        hints = typing.get_type_hints(cls)
        coerced = {k: _coerce(k, v, hints[k], where) for k, v in values.items()}
        return cls(**coerced)

    def to_dict(self) -> dict:
        """All fields, secrets included (what the backend needs); use :meth:`public_dict` for anything written."""
        return dataclasses.asdict(self)

    def public_dict(self) -> dict:
        """All fields with credentials masked (extra_body secrets, URL user:password and key parameters)."""
        d = redact(dataclasses.asdict(self))
        d["base_url"] = redact_url(self.base_url)
        return d

    def public_extra_body(self) -> dict:
        """extra_body with secret values masked: what cache keys and provenance see (a key changes no output)."""
        return redact(self.extra_body)

    def api_key(self) -> str | None:
        """The API key from the environment variable named by ``api_key_env`` (None when unset)."""
        value = os.environ.get(self.api_key_env, "").strip() if self.api_key_env else ""
        if not value and self.require_api_key:
            raise ConfigError(f"generator: environment variable {self.api_key_env} is unset or empty "
                              f"(require_api_key is on)")
        return value or None


def _remember_secrets(cfg: GeneratorConfig) -> None:
    """Register every credential the config holds, so that no error message or log can echo it."""
    from urllib.parse import parse_qsl, urlsplit

    from ..secrets import is_secret_key

    for v in secret_values(cfg.extra_body):
        remember(v)
    try:
        parts = urlsplit(cfg.base_url)
        remember(parts.password)
        for k, v in parse_qsl(parts.query):
            if is_secret_key(k):
                remember(v)
    except ValueError:
        pass


def _coerce(key: str, value, hint, where: str):
    """Coerce strings (from spec query strings / CLI) to the field's type; check other types."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null", "")):
            return None
        hint = args[0]
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return value.lower() in ("1", "true", "yes", "on")
        raise ConfigError(f"{where}: '{key}' must be true or false, got {value!r}")
    if hint in (int, float):
        if isinstance(value, bool):
            raise ConfigError(f"{where}: '{key}' must be a number, got {value!r}")
        try:
            out = hint(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: '{key}' must be {'an integer' if hint is int else 'a number'}, "
                              f"got {value!r}") from None
        if hint is int and isinstance(value, float) and value != out:
            raise ConfigError(f"{where}: '{key}' must be an integer, got {value!r}")
        return out
    if hint is str:
        if not isinstance(value, str | int | float):
            raise ConfigError(f"{where}: '{key}' must be a string, got {type(value).__name__}")
        return str(value)
    if hint is dict and not isinstance(value, dict):
        raise ConfigError(f"{where}: '{key}' must be a mapping, got {type(value).__name__}")
    return value


def parse_spec(spec: str) -> GeneratorConfig:
    """Parse ``openai:URL#model[?k=v&...]`` or ``local:PATH_OR_HUB_ID[?k=v&...]`` into a config.

    Query parameters set any other field (``?concurrency=4&temperature=0.7``).
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError("--generator: empty generator spec")
    spec = spec.strip()
    shown = redact_text(redact_url(spec.partition(":")[2]))  # the spec may carry credentials: never echo them
    shown = f"{spec.partition(':')[0]}:{shown}"
    backend, sep, rest = spec.partition(":")
    if not sep or backend not in BACKENDS:
        close = difflib.get_close_matches(backend, BACKENDS, n=1)
        hint = f" (did you mean '{close[0]}:...'?)" if close and sep else ""
        raise ConfigError(f"--generator {shown}: expected 'openai:URL#MODEL' or 'local:PATH_OR_HUB_ID'{hint}")
    query = ""
    if "?" in rest:
        rest, _, query = rest.rpartition("?")
    values: dict = dict(parse_qsl(query, keep_blank_values=True, strict_parsing=False)) if query else {}
    values["backend"] = backend
    if backend == "openai":
        url, _, model = rest.partition("#")
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"--generator {shown}: the openai backend needs an http(s) URL, e.g. "
                              f"openai:http://127.0.0.1:8080/v1#model-name")
        values["base_url"] = url.rstrip("/")
        values["model"] = model or values.get("model", "default")
    else:
        if not rest.strip():
            raise ConfigError(f"--generator {shown}: the local backend needs a model folder, .gguf file or hub id")
        values["model"] = rest
    return GeneratorConfig.from_dict(values, where=f"--generator {shown}")
