"""The one results format, ``results.json``, written by ``run`` and ``bench``, read by ``report`` and ``gate``.

Contract (keys other tools rely on; adding keys is always allowed):

    schema_version: "3.0"                  (docs/results.md defines every number)
    rm:        {name, fingerprint, info?}
    data:      {path, sha256, n}
    config:    {...every option of the run...}
    versions:  {crome_audit, python, torch?, transformers?, git_commit?}
    probes:    [{name, attribute, kind, n, effect_size, ci_low, ci_high,      (the 1.0 keys, same places)
                 instability, instability_ci, hack_rate(_ci), decision_change_rate(_ci), detection_rate(_ci),
                 insufficient_n, length_confounded, n_clusters, per_template, ...}]
    summary:   {spurious_index(_ci), causal_index(_ci), spurious_attributes, causal_attributes, excluded,
                degenerate: {flagged, reasons}}       (indices None when no probe ran)
    clean:     {reward_std, margin_std, pairwise_accuracy(_ci), ...}
    reference: {length: {probes, summary, clean}, noise: {probes, summary, clean}}
    benchmarks: {name: {score, metrics: {metric: {value, ci, n, higher_is_better}}, ...}}   (optional)
    examples:  {probe name: [{id, prompt, original, perturbed, side, reward_original, reward_perturbed,
                             other_reward}]}                 (a bounded sample of flipped pairs)
    engine:    {requested, unique, cache_hits, scored, seconds}

This module never imports torch (report and gate run anywhere).
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import subprocess
from pathlib import Path

from .errors import InputError

SCHEMA_VERSION = "3.0"
REQUIRED = ("schema_version", "rm", "data", "config", "versions", "probes", "summary")
# The keys every 2.0 probe record carries (the 1.0 keys that kept their place; the new metrics may be null
# for a probe that edited nothing, so readers use .get() for them).
PROBE_KEYS = ("name", "attribute", "kind", "n", "effect_size", "ci_low", "ci_high")


def package_versions(names=("torch", "transformers", "datasets", "accelerate", "numpy", "scipy")) -> dict:
    from importlib import metadata

    from . import __version__

    out = {"crome_audit": __version__, "python": platform.python_version()}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            pass
    try:
        here = Path(__file__).resolve().parent
        commit = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=5)
        if commit.returncode == 0:
            out["git_commit"] = commit.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return out


_SURROGATE = re.compile("[\ud800-\udfff]")


def _clean(obj):
    """NaN/inf -> None so the file is strict JSON (browsers and jq reject NaN)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, str) and _SURROGATE.search(obj):
        # a file name in another encoding under LC_ALL=C reaches us as lone surrogates, which UTF-8 cannot hold
        return obj.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalars
        return _clean(obj.item())
    return obj


def write_json_atomic(path: str | os.PathLike, obj) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(_clean(obj), f, indent=2, ensure_ascii=False, allow_nan=False)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # no half-written temp file left beside the output
        raise


def new_results(rm: dict, data: dict, config: dict) -> dict:
    return {"schema_version": SCHEMA_VERSION, "rm": rm, "data": data, "config": config,
            "versions": package_versions(), "probes": [],
            "summary": {"spurious_index": None, "causal_index": None}, "benchmarks": {}, "examples": {}}


def write_results(out_dir: str | os.PathLike, results: dict) -> Path:
    path = Path(out_dir) / "results.json"
    write_json_atomic(path, results)
    return path


MAX_JSON_DEPTH = 64  # results files nest ~6 deep; deeper is not ours and would overflow recursive readers


def _too_deep(obj, limit: int = MAX_JSON_DEPTH) -> bool:
    stack = [(obj, 1)]
    while stack:  # iterative: the check itself must not recurse
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        for child in children:
            if isinstance(child, (dict, list)):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False


def read_json_file(path: Path, what: str = "file"):
    """Parse a JSON file; every failure is one InputError line naming the file (and line)."""
    if not path.is_file():
        raise InputError(f"{path}: no such {what}")
    if (path.parent / ".incomplete").exists():  # crome_audit.outputs.INCOMPLETE: a move into place was cut off
        raise InputError(f"{path}: the folder holds .incomplete (a command was interrupted while writing it); "
                         "re-run that command")
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise InputError(f"{path}: not valid UTF-8") from None
    except json.JSONDecodeError as e:
        raise InputError(f"{path}:{e.lineno}: invalid JSON: {e.msg}") from None
    except RecursionError:
        raise InputError(f"{path}: JSON nested too deeply to read") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror or e}") from None
    if _too_deep(obj):
        raise InputError(f"{path}: JSON nested more than {MAX_JSON_DEPTH} levels deep; not a crome-audit {what}")
    return obj


def check_count(where: str, value) -> None:
    """A count (``n``, ``n_clusters``) must be a whole number >= 0 (or absent)."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or value != int(value):
        raise InputError(f"{where}: must be a whole number >= 0, got {value!r}")


def check_interval(where: str, value, ci) -> None:
    """A recorded CI must be two numbers, low <= high, that contain the value they belong to."""
    if ci is None or value is None:
        return
    if (not isinstance(ci, (list, tuple)) or len(ci) != 2
            or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in ci)):
        raise InputError(f"{where}: must be [low, high], got {ci!r}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        slack = 1e-9 * max(1.0, abs(value))
        if not ci[0] - slack <= value <= ci[1] + slack:
            raise InputError(f"{where}: [{ci[0]}, {ci[1]}] does not contain its value {value}")


def read_results(path: str | os.PathLike) -> dict:
    """Read and validate a results.json (or a run folder holding one)."""
    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    obj = read_json_file(path, "results file")
    if not isinstance(obj, dict):
        raise InputError(f"{path}: expected a JSON object")
    missing = [k for k in REQUIRED if k not in obj]
    if missing:
        raise InputError(f"{path}: not a crome-audit results file (missing {', '.join(missing)})")
    major = str(obj["schema_version"]).split(".")[0]
    if major != SCHEMA_VERSION.split(".")[0]:
        why = (" (schema 2 measured style in units of the clean-margin SD, which the bias under test inflates: "
               "its numbers are not comparable with schema 3's)") if major == "2" else ""
        raise InputError(f"{path}: schema_version {obj['schema_version']} is not supported (need {SCHEMA_VERSION}"
                         f"{why}; re-run the audit with this crome-audit version)")
    if not isinstance(obj["probes"], list):
        raise InputError(f"{path}: field 'probes' must be a list")
    for key in ("rm", "data", "config", "summary"):
        if not isinstance(obj[key], dict):
            raise InputError(f"{path}: field '{key}' must be an object, got {type(obj[key]).__name__}")
    for i, p in enumerate(obj["probes"]):
        if not isinstance(p, dict):
            raise InputError(f"{path}: probes[{i}]: must be an object, got {type(p).__name__}")
        lack = [k for k in PROBE_KEYS if k not in p]
        if lack:
            raise InputError(f"{path}: probes[{i}]: missing {', '.join(lack)}")
        for key in ("n", "n_clusters"):
            check_count(f"{path}: probes[{i}].{key}", p.get(key))
    obj.setdefault("benchmarks", {})
    obj.setdefault("examples", {})
    obj["_path"] = str(path)
    return obj
