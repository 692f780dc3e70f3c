"""Probe suites: YAML files naming which probes run, with parameters.

    name: default
    description: Every spurious and causal probe.
    seed: 0                      # optional; --seed overrides
    probes:
      - length_filler            # a bare name uses default parameters
      - name: emoji
        params: {rate: 0.3}

Built-in suites live in the repo's ``probes/`` folder (shipped in the wheel as ``crome_audit._suites``).
``load_suite`` takes a built-in name or a path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from ..config_loader import parse_yaml
from ..errors import ConfigError, InputError
from ..registry import Registry
from .base import PROBES, Probe

SUITE_KEYS = {"name", "description", "seed", "probes"}
ENTRY_KEYS = {"name", "params"}


@dataclass
class Suite:
    name: str
    description: str
    probes: list[Probe]
    seed: int | None = None
    source: str = ""
    spec: list = field(default_factory=list)


def _suite_dir():
    try:
        return resources.files("crome_audit._suites")
    except ModuleNotFoundError:  # running from a source checkout without install
        return Path(__file__).resolve().parents[2] / "probes"


def list_suites() -> list[str]:
    return sorted(p.name[:-5] for p in _suite_dir().iterdir() if p.name.endswith(".yaml"))


def load_suite(name_or_path: str) -> Suite:
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        if not path.is_file():
            raise InputError(f"{path}: no such suite file")
        text, source = path.read_bytes(), str(path)
    else:
        registry = Registry("suite")
        for n in list_suites():
            registry.register(n)(n)
        registry.get(name_or_path)  # did-you-mean error for unknown names
        res = _suite_dir() / f"{name_or_path}.yaml"
        text, source = res.read_bytes(), f"builtin:{name_or_path}"
    spec = parse_yaml(text, source)  # the one safe loader: size cap, alias limits, YAML 1.2 floats
    if not isinstance(spec, dict):
        raise ConfigError(f"{source}: a suite must be a mapping with a 'probes' list")
    unknown = set(spec) - SUITE_KEYS
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {', '.join(sorted(unknown))} (known: {', '.join(sorted(SUITE_KEYS))})")
    entries = spec.get("probes")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{source}: 'probes' must be a non-empty list")
    probes = []
    for i, entry in enumerate(entries):
        if isinstance(entry, str):
            entry = {"name": entry}
        if not isinstance(entry, dict) or "name" not in entry:
            raise ConfigError(f"{source}: probes[{i}]: expected a probe name or {{name, params}}")
        bad = set(entry) - ENTRY_KEYS
        if bad:
            raise ConfigError(f"{source}: probes[{i}]: unknown key(s) {', '.join(sorted(bad))}")
        params = entry.get("params") or {}
        if not isinstance(params, dict):
            raise ConfigError(f"{source}: probes[{i}]: 'params' must be a mapping, got {type(params).__name__}")
        try:
            cls = PROBES.get(str(entry["name"]))
            probes.append(cls(**params))
        except InputError as e:
            raise ConfigError(f"{source}: probes[{i}]: {e}") from None
    names = [p.name for p in probes]
    if len(set(names)) != len(names):
        raise ConfigError(f"{source}: a probe is listed twice")
    seed = spec.get("seed")
    if seed is not None and not isinstance(seed, int):
        raise ConfigError(f"{source}: 'seed' must be an integer")
    return Suite(name=str(spec.get("name", path.stem)), description=str(spec.get("description", "")),
                 probes=probes, seed=seed, source=source, spec=entries)
