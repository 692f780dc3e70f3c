"""Reward-model adapters behind one interface, ``score(prompts, responses) -> list[float]``, chosen by spec prefix.

    from crome_audit.models import load_rm
    rm = load_rm("./my-rm", dtype="bf16")                                  # hf: (the default for a folder/hub id)
    rm = load_rm("vllm:http://127.0.0.1:8000", max_concurrency=16)         # a served RM
    rm = load_rm("length")                                                 # model-free baseline
    rm.score(["prompt"], ["response"])

    crome-audit run --rm sglang:http://gpu-box:30000 --rm-arg tokenizer=org/rm --rm-arg api_key_env=SGL_KEY
    crome-audit rms                                                        # every adapter with its options

Spec grammar: ``PREFIX:TARGET`` for a registered prefix (``hf:``, ``vllm:``, ``sglang:``, ``openrlhf:``, ``py:``,
``judge:``, ``dpo:``...), a bare adapter name that takes no target (``length``, ``noise``), anything else is a
Hugging Face folder, hub id or .gguf file (``hf:``). Each adapter is one file in this package that registers its
prefix and an options dataclass (:func:`crome_audit.models.base.register_adapter`); the files are discovered on
first use, so importing this package stays cheap (``report``/``gate`` never import torch).

Options: Python keyword arguments or the CLI's repeatable ``--rm-arg KEY=VALUE``; values are coerced to the
options dataclass's field types, unknown keys fail with a did-you-mean (exit 2). The shared CLI flags
(``--device``, ``--max-length``, ...) reach every adapter that has an option of that name and are ignored by the
others; ``--rm-arg`` keys are always checked.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import importlib.util
import os
import pkgutil
import re
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, Union

from ..errors import InputError, ModelLoadError
from ..registry import suggest
from .base import ADAPTERS, Adapter, RewardModel, option, register_adapter

__all__ = ["ADAPTERS", "Adapter", "RewardModel", "option", "register_adapter", "load_rm", "load_reward_model",
           "parse_spec", "adapters", "describe_adapters", "coerce_options", "discover"]

# The CLI's shared RM flags: passed to whichever adapter has an option of that name, ignored by the rest.
COMMON_OPTIONS = frozenset({"device", "dtype", "max_length", "truncation", "template", "trust_remote_code",
                            "batch_size", "max_batch_tokens"})

# Names that used to live in models.py, served lazily so `import crome_audit.models` imports no adapter.
_LAZY = {"LengthRM": "simple", "NoiseRM": "simple", "CallableRM": "simple", "WORD_RE": "simple",
         "HFRewardModel": "hf", "resolve_device": "hf", "resolve_dtype": "hf",
         "_weights_fingerprint": "hf", "_recorded_formatting": "hf"}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_discovered = False


def discover() -> None:
    """Import every adapter file of this package once (each registers itself)."""
    global _discovered
    if _discovered:
        return
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name != "base" and not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")
    _discovered = True


def adapters() -> list[Adapter]:
    discover()
    return [ADAPTERS.get(name) for name in ADAPTERS.names()]


# ------------------------------------------------------------------------------------------------ spec parsing

_PREFIX_RE = re.compile(r"^([A-Za-z][A-Za-z0-9_-]*):(.*)$", re.S)


def parse_spec(spec: str) -> tuple[Adapter, str | None]:
    """``--rm`` string -> (adapter, target). Raises InputError with a did-you-mean for unknown prefixes."""
    if not spec or not str(spec).strip():
        raise InputError("--rm: empty reward-model spec")
    spec = str(spec).strip()
    discover()
    if spec in ADAPTERS:
        adapter = ADAPTERS.get(spec)
        if adapter.target is None:
            return adapter, None
        raise InputError(f"--rm {spec}: the '{spec}' adapter needs a target: --rm {spec}:{adapter.target}")
    m = _PREFIX_RE.match(spec)
    if m and not os.path.exists(spec):
        prefix, rest = m.group(1), m.group(2)
        if prefix in ADAPTERS:
            adapter = ADAPTERS.get(prefix)
            if adapter.target is None:
                raise InputError(f"--rm {spec}: the '{prefix}' adapter takes no target (use --rm {prefix})")
            if not rest.strip():
                raise InputError(f"--rm {spec}: nothing after '{prefix}:' (expected {prefix}:{adapter.target})")
            _refuse_url_credentials(prefix, rest.strip())
            return adapter, rest.strip()
        if len(prefix) > 1:  # one letter is a Windows drive (C:\...), a path
            hint = (" (a served RM is vllm:URL, sglang:URL or openrlhf:URL)" if prefix.lower() in ("http", "https")
                    else suggest(prefix, ADAPTERS.names()))
            raise InputError(f"--rm {spec}: unknown reward-model adapter '{prefix}'{hint}")
    if not os.path.exists(spec) and "/" not in spec and "\\" not in spec:
        bare = [a.prefix for a in adapters() if a.target is None]
        close = difflib.get_close_matches(spec, bare, n=1, cutoff=0.75)
        if close:
            raise InputError(f"--rm {spec}: no such folder or adapter (did you mean '{close[0]}'?)")
    return ADAPTERS.get("hf"), spec


def _refuse_url_credentials(prefix: str, target: str) -> None:
    """A served RM's or judge's URL may not carry a key (``http://user:KEY@host``, ``?api_key=KEY``): it would
    land in results.json, the report and the folder name. The key goes in an environment variable named by
    ``--rm-arg api_key_env``. The message shows the URL with the credentials masked."""
    from ..secrets import redact_url, url_credentials

    if not re.match(r"^https?://", target, re.I):
        return
    found = url_credentials(target.partition("#")[0])
    if found:
        raise InputError(f"--rm {prefix}:{redact_url(target)}: the URL carries credentials ({', '.join(found)}); "
                         "they are neither sent nor written: put the key in an environment variable and pass "
                         "--rm-arg api_key_env=NAME")


# ------------------------------------------------------------------------------------------------ options
# Value coercion is the project's one typed config loader (crome_audit.config_loader.coerce), as for YAML
# recipes and --set; the key check (did-you-mean naming the adapter) and "auto"/None = unset live here.


def _type_name(tp) -> str:
    """A field type as `crome-audit rms` prints it."""
    if typing.get_origin(tp) is Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    if typing.get_origin(tp) in (Union, types.UnionType):
        return " | ".join(_type_name(a) for a in typing.get_args(tp))
    return "None" if tp is type(None) else getattr(tp, "__name__", str(tp))


def _auto_is_unset(tp) -> bool:
    """'auto' means "the adapter's default" for an optional field that has no 'auto' value of its own."""
    if typing.get_origin(tp) not in (Union, types.UnionType) or type(None) not in typing.get_args(tp):
        return False
    members = [a for a in typing.get_args(tp) if a is not type(None)]
    return not any(m is str or (typing.get_origin(m) is Literal and "auto" in typing.get_args(m)) for m in members)


def coerce_options(adapter: Adapter, values: Mapping[str, Any], where: str = "--rm-arg",
                   lenient: frozenset = frozenset()) -> dict:
    """Check keys against the adapter's options dataclass and coerce values to the field types.
    Keys in ``lenient`` that the adapter lacks are dropped silently; None means "unset" and is dropped."""
    from ..config_loader import check_range, coerce

    hints = typing.get_type_hints(adapter.options)
    fields = {f.name: f for f in adapter.option_fields()}
    out = {}
    for key, value in values.items():
        if key not in hints:
            if key in lenient:
                continue
            known = suggest(key, list(fields)) if fields else " (it takes no options)"
            raise InputError(f"{where} {key}: unknown option of the '{adapter.prefix}' adapter{known}; "
                             f"see `crome-audit rms`")
        if value is None or (isinstance(value, str) and value.strip().lower() == "auto"
                             and _auto_is_unset(hints[key])):
            continue
        out[key] = coerce(value, hints[key], f"{where} {key}")
        check_range(out[key], fields[key].metadata, f"{where} {key}")
    return out


def parse_rm_args(pairs) -> dict[str, str]:
    """``["k=v", ...]`` (the repeatable --rm-arg) -> {k: v}; a key given twice is an error."""
    out: dict[str, str] = {}
    for pair in pairs or ():
        key, sep, value = str(pair).partition("=")
        key = key.strip()
        if not sep or not key:
            raise InputError(f"--rm-arg {pair!r}: expected KEY=VALUE")
        if key in out:
            raise InputError(f"--rm-arg {key}: given twice")
        out[key] = value
    return out


# ------------------------------------------------------------------------------------------------ loading


def _check_requirements(adapter: Adapter, spec: str) -> None:
    for pip_name, import_name in adapter.requires:
        if importlib.util.find_spec(import_name) is None:
            raise ModelLoadError(f"--rm {spec}: the '{adapter.prefix}' adapter needs the Python package "
                                 f"'{pip_name}', which is not installed (pip install {pip_name})")


def load_reward_model(spec: str, rm_args: Mapping[str, Any] | None = None, **options) -> RewardModel:
    """Build an adapter from a spec string (see module docstring).

    ``options``: keyword options, checked against the adapter's options (the shared CLI names in
    COMMON_OPTIONS are dropped by adapters that lack them). ``rm_args``: the --rm-arg mapping, always
    checked, and winning over ``options``."""
    adapter, target = parse_spec(spec)
    opts = coerce_options(adapter, options, where="option", lenient=COMMON_OPTIONS)
    opts.update(coerce_options(adapter, dict(rm_args or {}), where="--rm-arg"))
    _check_requirements(adapter, spec)
    try:
        return adapter.construct(target, opts)
    except ModuleNotFoundError as e:  # a dependency the adapter did not declare, or a broken install
        missing = (e.name or "").split(".")[0] or str(e)
        raise ModelLoadError(f"--rm {spec}: the '{adapter.prefix}' adapter needs the Python package "
                             f"'{missing}', which is not installed (pip install {missing})") from None


load_rm = load_reward_model


def describe_adapters() -> list[dict]:
    """Plain data for ``crome-audit rms``: every adapter with its options, types, defaults and help."""
    out = []
    for a in adapters():
        hints = typing.get_type_hints(a.options)
        opts = []
        for f in a.option_fields():
            if f.default is not dataclasses.MISSING:
                default = f.default
            elif f.default_factory is not dataclasses.MISSING:
                default = f.default_factory()
            else:
                default = None
            opts.append({"name": f.name, "type": _type_name(hints[f.name]), "default": default,
                         "help": f.metadata.get("help", "")})
        out.append({"prefix": a.prefix, "spec": a.prefix if a.target is None else f"{a.prefix}:{a.target}",
                    "summary": a.summary, "example": a.example,
                    "requires": [p for p, _ in a.requires], "options": opts})
    return out

