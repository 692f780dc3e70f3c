"""The one typed config loader: YAML recipes, ``--set`` overrides, suites and ``--rm-arg`` values all go through it.

    from crome_audit.config_loader import load_typed, read_yaml, parse_scalar
    raw = read_yaml("train/tiny-crome.yaml")              # safe YAML: size cap, alias-bomb proof, 5e-5 is a float
    cfg = load_typed(TrainSection, raw["train"], where="train/tiny-crome.yaml: train")
    load_typed(MyRMArgs, {"temperature": "0.5"}, where="--rm-arg")   # strings coerced to the declared types

``load_typed(cls, mapping, where)`` builds a dataclass from a mapping:
- every value is coerced to the field's declared type: ``int``, ``float`` (``"5e-5"`` -> 5e-05; NaN/inf refused
  unless the field says ``allow_nonfinite``), ``bool`` (true/false/yes/no/1/0/on/off), ``str``, ``X | None``
  (``null``/``none``/empty -> None), ``list[T]`` (a YAML list, or one comma-separated string), ``dict`` and
  nested dataclasses;
- range checks come from the field's metadata: ``min``/``max`` (inclusive), ``gt``/``lt`` (exclusive) and
  ``choices``; e.g. ``field(default=8, metadata={"help": "...", "min": 1})``;
- unknown keys are a :class:`ConfigError` with a did-you-mean hint (:func:`crome_audit.registry.suggest`).

Every error is one line that starts with ``where`` and names the key, so the user sees the file or flag.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import types
import typing
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .registry import suggest

MAX_YAML_BYTES = 1_000_000   # recipes, suites and gate files are hand-written: 1 MB is generous
MAX_ALIASES = 100            # alias references (*name) per document
MAX_NODES = 100_000          # scalars + containers after alias expansion (a "billion laughs" stops here)

# YAML 1.1 (PyYAML) reads `5e-5` and `1e3` as strings: it wants a dot in the mantissa and a sign in the
# exponent. YAML 1.2's core schema reads them as floats, which is what a person writing a recipe means.
_FLOAT_12 = re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$")
_TRUE = ("true", "yes", "on", "1", "y")
_FALSE = ("false", "no", "off", "0", "n")


def _loader_class():
    import yaml

    class SafeLimitedLoader(yaml.SafeLoader):
        """SafeLoader that counts alias references (a bomb is many aliases of aliases)."""

        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                self._aliases = getattr(self, "_aliases", 0) + 1
                if self._aliases > MAX_ALIASES:
                    mark = self.peek_event().start_mark
                    raise ConfigError(f"{self._where}:{mark.line + 1}: more than {MAX_ALIASES} YAML aliases (*name); "
                                      f"write the values out")
            return super().compose_node(parent, index)

        def construct_mapping(self, node, deep=False):
            # a key given twice (a recipe section written twice) would silently replace the first
            seen = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # `<<: *base` then overriding a key is how merges are meant to be used
                key = self.construct_object(key_node, deep=False)
                try:
                    first = seen.get(key)
                except TypeError:  # an unhashable key: the base constructor reports it
                    continue
                if first is not None:
                    raise ConfigError(f"{self._where}:{key_node.start_mark.line + 1}: key {key!r} given twice "
                                      f"(first on line {first}); the second would silently replace the first")
                seen[key] = key_node.start_mark.line + 1
            return super().construct_mapping(node, deep=deep)

    SafeLimitedLoader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_12, list("-+0123456789."))
    return SafeLimitedLoader


_LOADER = None


def _count_nodes(obj, where: str) -> None:
    """Walk the loaded value as if aliases were expanded; stop as soon as it gets too big."""
    count, stack = 0, [obj]
    while stack:
        node = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise ConfigError(f"{where}: more than {MAX_NODES} values after expanding YAML aliases "
                              f"(an alias bomb?); refusing to read it")
        if isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def parse_yaml(text: str | bytes, where: str) -> Any:
    """Parse YAML text safely (size cap, alias limits, YAML 1.2 floats); errors name ``where`` and the line."""
    import yaml

    global _LOADER
    if _LOADER is None:
        _LOADER = _loader_class()
    if isinstance(text, bytes):
        if len(text) > MAX_YAML_BYTES:
            raise ConfigError(f"{where}: {len(text):,} bytes is over the {MAX_YAML_BYTES:,}-byte limit for a config file")
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ConfigError(f"{where}: not valid UTF-8 (byte {e.start})") from None
    if len(text.encode("utf-8", "surrogatepass")) > MAX_YAML_BYTES:
        raise ConfigError(f"{where}: over the {MAX_YAML_BYTES:,}-byte limit for a config file")
    loader = _LOADER(text)
    loader._where = where
    try:
        value = loader.get_single_data()
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"{where}{line}: invalid YAML: {problem}") from None
    except RecursionError:
        raise ConfigError(f"{where}: YAML nested too deeply") from None
    finally:
        loader.dispose()
    _count_nodes(value, where)
    return value


def read_yaml(path: str | os.PathLike, what: str = "config file") -> Any:
    """Read a YAML file with :func:`parse_yaml`; a missing/unreadable/oversized file is a ConfigError."""
    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError:
        raise ConfigError(f"{path}: no such {what}") from None
    if not p.is_file():
        raise ConfigError(f"{path}: not a file (expected a YAML {what})")
    if size > MAX_YAML_BYTES:
        raise ConfigError(f"{path}: {size:,} bytes is over the {MAX_YAML_BYTES:,}-byte limit for a {what}")
    try:
        data = p.read_bytes()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read {what}: {e.strerror or e}") from None
    return parse_yaml(data, str(path))


def parse_scalar(text: str, where: str) -> Any:
    """A ``KEY=VALUE`` value as YAML (``50`` -> 50, ``5e-5`` -> 5e-05, ``[a, b]`` -> list); text that is not
    valid YAML stays a string. Empty -> None."""
    if not text.strip():
        return None
    try:
        return parse_yaml(text, where)
    except ConfigError as e:
        if "alias" in str(e) or "limit" in str(e):
            raise
        return text


# --------------------------------------------------------------------------------------------- typing


def _type_name(hint) -> str:
    if hint is type(None):
        return "null"
    if dataclasses.is_dataclass(hint):
        return "a mapping"
    origin = typing.get_origin(hint)
    if origin in (list, tuple):
        return "a list"
    if origin is dict or hint is dict:
        return "a mapping"
    if isinstance(hint, types.UnionType) or origin is typing.Union:
        return " or ".join(_type_name(a) for a in typing.get_args(hint))
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(hint))
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(hint, str(hint))


class _NoMatch(Exception):
    pass


def coerce(value: Any, hint: Any, where: str, allow_nonfinite: bool = False) -> Any:
    """Coerce one value to ``hint`` (see module docstring); raise ConfigError naming ``where``."""
    try:
        return _coerce(value, hint, where, allow_nonfinite)
    except _NoMatch:
        shown = repr(value) if not isinstance(value, dict | list) else type(value).__name__
        raise ConfigError(f"{where}: expected {_type_name(hint)}, got {shown}") from None


def _coerce(value, hint, where, allow_nonfinite):
    if hint is Any or hint is object:
        return value
    origin = typing.get_origin(hint)
    if isinstance(hint, types.UnionType) or origin is typing.Union:
        args = typing.get_args(hint)
        if type(None) in args and (value is None or (isinstance(value, str) and value.strip().lower()
                                                      in ("none", "null", "~", ""))):
            return None
        # exact type first (a list stays a list for `list[str] | str`), then coercions in declared order
        for a in args:
            base = typing.get_origin(a) or a
            if a is not type(None) and isinstance(base, type) and isinstance(value, base) \
                    and not (isinstance(value, bool) and base in (int, float)):
                return _coerce(value, a, where, allow_nonfinite)
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, where, allow_nonfinite)
            except (_NoMatch, ConfigError):
                continue
        raise _NoMatch
    if origin is typing.Literal:
        if value in typing.get_args(hint):
            return value
        raise ConfigError(f"{where}: must be one of {', '.join(map(str, typing.get_args(hint)))}, got {value!r}"
                          f"{suggest(str(value), [str(a) for a in typing.get_args(hint)])}")
    if dataclasses.is_dataclass(hint):
        if isinstance(value, hint):
            return value
        base, _, key = where.rpartition(": ")
        return load_typed(hint, {} if value is None else value, base or where, prefix=f"{key}." if base else "")
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
            return value.strip().lower() in _TRUE
        raise _NoMatch
    if hint is int:
        if isinstance(value, bool):
            raise _NoMatch
        if isinstance(value, int):
            return value
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            s = value.strip().replace("_", "")
            if re.fullmatch(r"[-+]?[0-9]+", s):
                return int(s)
            try:
                f = float(s)
            except ValueError:
                raise _NoMatch from None
            if math.isfinite(f) and f.is_integer():
                return int(f)
        raise _NoMatch
    if hint is float:
        if isinstance(value, bool):
            raise _NoMatch
        if isinstance(value, int | float):
            out = float(value)
        elif isinstance(value, str):
            try:
                out = float(value.strip().replace("_", ""))
            except ValueError:
                raise _NoMatch from None
        else:
            raise _NoMatch
        if not allow_nonfinite and not math.isfinite(out):
            raise ConfigError(f"{where}: must be a finite number, got {value!r}")
        return out
    if hint is str:
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        raise _NoMatch
    if origin in (list, tuple) or hint in (list, tuple):
        args = typing.get_args(hint)
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list | tuple):
            raise _NoMatch
        item = args[0] if args else Any
        out = [coerce(v, item, f"{where}[{i}]", allow_nonfinite) for i, v in enumerate(value)]
        return tuple(out) if (origin or hint) is tuple else out
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise _NoMatch
        args = typing.get_args(hint)
        if args:
            return {coerce(k, args[0], f"{where} key", allow_nonfinite):
                    coerce(v, args[1], f"{where}.{k}", allow_nonfinite) for k, v in value.items()}
        return dict(value)
    if isinstance(hint, type):
        if isinstance(value, hint):
            return value
        raise _NoMatch
    return value


def check_range(value: Any, meta, where: str) -> None:
    """Apply ``min``/``max``/``gt``/``lt``/``choices`` from a field's metadata."""
    if value is None:
        return
    if "choices" in meta and value not in meta["choices"]:
        choices = [str(c) for c in meta["choices"]]
        raise ConfigError(f"{where}: must be one of {', '.join(choices)}, got {value!r}{suggest(str(value), choices)}")
    items = value if isinstance(value, list | tuple) else [value]
    for v in items:
        if not isinstance(v, int | float) or isinstance(v, bool):
            continue
        if "min" in meta and v < meta["min"]:
            raise ConfigError(f"{where}: must be >= {meta['min']}, got {v!r}{_why(meta)}")
        if "max" in meta and v > meta["max"]:
            raise ConfigError(f"{where}: must be <= {meta['max']}, got {v!r}{_why(meta)}")
        if "gt" in meta and not v > meta["gt"]:
            raise ConfigError(f"{where}: must be > {meta['gt']}, got {v!r}{_why(meta)}")
        if "lt" in meta and not v < meta["lt"]:
            raise ConfigError(f"{where}: must be < {meta['lt']}, got {v!r}{_why(meta)}")


def _why(meta) -> str:
    return f" ({meta['range_hint']})" if meta.get("range_hint") else ""


def load_typed(cls, mapping, where: str, prefix: str = ""):
    """Build dataclass ``cls`` from ``mapping``: coerced values, range checks, did-you-mean for unknown keys.

    Errors read ``{where}: {prefix}{key}: ...``, e.g. ``train/x.yaml: train.learning_rate: expected a number``."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"load_typed needs a dataclass type, got {cls!r}")
    if mapping is None:
        mapping = {}
    if not isinstance(mapping, dict):
        label = f"{where}: {prefix[:-1]}" if prefix else where
        raise ConfigError(f"{label}: expected a mapping of settings, got {type(mapping).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, value in mapping.items():
        name = str(key)
        if name not in fields:
            raise ConfigError(f"{where}: unknown key '{prefix}{name}'{suggest(name, fields)}")
        meta = fields[name].metadata
        sub = f"{where}: {prefix}{name}"
        out = coerce(value, hints[name], sub, allow_nonfinite=bool(meta.get("allow_nonfinite")))
        check_range(out, meta, sub)
        kwargs[name] = out
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{where}: {prefix}{e}") from None
