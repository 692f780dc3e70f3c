"""Align several ``results.json`` runs (schema 3.0) on what they share, and say what they do not share.

The report compares runs only on common ground: probes present in every run that has probes, benchmark
metrics present in every run that has that benchmark. Everything left out, and every difference in data
(sha256) or suite, becomes a one-line note the report shows at the top. The model-free ``length`` and
``noise`` references come from the first run whose ``reference`` covers the shared probes.

Colours: each RM gets an Okabe–Ito colour (safe under the common colour-vision deficiencies) chosen by a hash
of its name, so one RM keeps its colour in every report; collisions move to the next free colour in a fixed
order (names processed sorted, so the outcome does not depend on argument order). Each colour slot also has
a bar pattern and a marker symbol, so no chart depends on colour alone.

    from crome_audit.report.compare import align
    cmp = align([read_results("runs/a"), read_results("runs/b")])
    cmp.runs[0].label, cmp.runs[0].index("spurious"), cmp.references["noise"], cmp.notes

Plain data in, plain data out; no torch, no plotly.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

# Okabe & Ito (2008) without black (the noise reference's) and yellow (too faint on white for dots and lines)
PALETTE = ("#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7")
PATTERNS = ("", "/", ".", "x", "\\", "+")
SYMBOLS = ("circle", "square", "triangle-up", "pentagon", "star", "hexagon")
REFERENCE_STYLE = {"length": {"color": "#6B6B6B", "symbol": "diamond-open", "dash": "dash"},
                   "noise": {"color": "#000000", "symbol": "x-thin-open", "dash": "dot"}}
REFERENCE_NAMES = ("length", "noise")


def num(value) -> float | None:
    """A finite float, or None (null, NaN, strings, missing)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def interval(ci, value=None) -> tuple[float, float] | None:
    """A ``[low, high]`` pair of finite numbers as a sorted tuple; else ``(value, value)``; else None."""
    if isinstance(ci, (list, tuple)) and len(ci) == 2:
        lo, hi = num(ci[0]), num(ci[1])
        if lo is not None and hi is not None:
            return (min(lo, hi), max(lo, hi))
    v = num(value)
    return (v, v) if v is not None else None


def dig(obj, *keys):
    """obj[k1][k2]... or None when any level is missing or not a dict."""
    for k in keys:
        if not isinstance(obj, dict) or k not in obj:
            return None
        obj = obj[k]
    return obj


def dmap(obj, *keys) -> dict:
    """dig(), but always a dict ({} when missing or not a dict)."""
    v = dig(obj, *keys)
    return v if isinstance(v, dict) else {}


@dataclass
class Run:
    """One results.json (or one of its references), with a unique label and a colour/pattern/symbol."""

    label: str
    results: dict
    color: str
    pattern: str = ""
    symbol: str = "circle"
    reference: str | None = None  # "length" / "noise" for the model-free references
    probes: dict = field(default_factory=dict)  # name -> probe dict
    indices: dict = field(default_factory=dict)  # spurious/causal(+_heldout) -> (value, ci | None)
    degenerate: list | None = None  # the reasons, when summary.degenerate is flagged

    @property
    def is_reference(self) -> bool:
        return self.reference is not None

    @property
    def is_length(self) -> bool:  # kept for the example browser and older callers
        return self.reference == "length"

    @property
    def benchmarks(self) -> dict:
        b = self.results.get("benchmarks")
        return b if isinstance(b, dict) else {}

    @property
    def summary(self) -> dict:
        s = self.results.get("summary")
        return s if isinstance(s, dict) else {}

    def index(self, kind: str) -> tuple[float | None, tuple | None]:
        return self.indices.get(kind, (None, None))

    def attribute(self, kind: str, attr: str) -> tuple[float | None, tuple | None]:
        rec = dig(self.summary, f"{kind}_attributes", attr)
        if not isinstance(rec, dict):
            return None, None
        v = num(rec.get("value"))
        ci = interval(rec.get("ci"))
        return v, ci

    def seen_in_training(self) -> list[str]:
        return [n for n, p in self.probes.items() if p.get("seen_in_training")]


@dataclass
class Comparison:
    runs: list[Run]
    shared_probes: list[str]  # ordered: spurious first, then causal, grouped by attribute, first-run order
    probe_meta: dict  # name -> {attribute, kind, family}
    notes: list[str]
    indices_recomputed: bool = False
    references: dict = field(default_factory=dict)  # "length"/"noise" -> Run (same data, same probes)

    @property
    def probe_runs(self) -> list[Run]:
        return [r for r in self.runs if r.probes]

    @property
    def rated_runs(self) -> list[Run]:
        """Runs that can be starred or compared in verdicts: not references, not degenerate."""
        return [r for r in self.probe_runs if not r.is_reference and not r.degenerate]

    def bench_runs(self, name: str) -> list[Run]:
        return [r for r in self.runs if isinstance(r.benchmarks.get(name), dict)]

    @property
    def bench_names(self) -> list[str]:
        names: list[str] = []
        for r in self.runs:
            names += [n for n in r.benchmarks if n not in names]
        return names

    @property
    def reference(self) -> Run | None:  # the length reference (older callers)
        return self.references.get("length")


def display_name(name: str) -> str:
    """A local model folder is shown by its last part (``/tmp/runs/my-rm/`` -> ``my-rm``), a ``py:`` file by
    its file name (``py:/x/y/my_rm.py:score`` -> ``py:my_rm.py:score``); hub ids, ``py:module:function`` and
    ``length`` stay as they are (duplicates are told apart by their run folder, see _labels)."""
    n = name.strip()
    if n.startswith("py:") and ("/" in n or "\\" in n):
        path, sep, func = n[3:].rpartition(":")
        if not sep or "/" in func or "\\" in func:  # no function part (or a Windows drive colon only)
            path, func = n[3:], ""
        base = path.replace("\\", "/").rstrip("/").split("/")[-1] or path
        return f"py:{base}" + (f":{func}" if func else "")
    if n.startswith(("/", "./", "../", "~")) or "\\" in n:
        last = n.replace("\\", "/").rstrip("/").split("/")[-1]
        return last or n
    return n


def _labels(results_list: list[dict]) -> list[str]:
    names = [display_name(str(dig(r, "rm", "name") or "unnamed RM")) for r in results_list]
    out = []
    for i, name in enumerate(names):
        if names.count(name) > 1:
            where = str(r_path(results_list[i]) or f"run {i + 1}")
            out.append(f"{name} [{where}]")
        else:
            out.append(name)
    # still identical (same name and same folder given twice): number them
    return [lab if out.count(lab) == 1 else f"{lab} #{i + 1}" for i, lab in enumerate(out)]


def r_path(results: dict) -> str | None:
    p = results.get("_path")
    if not p:
        return None
    parts = str(p).replace("\\", "/").split("/")
    if parts[-1] == "results.json" and len(parts) > 1:
        return parts[-2]
    return parts[-1]


def color_slots(names: list[str]) -> dict:
    """name -> palette slot: the name's hash slot, or the next free one (names taken in sorted order)."""
    taken: dict = {}
    used: set = set()
    for name in sorted(set(names)):
        slot = int(hashlib.sha256(name.encode("utf-8")).hexdigest()[:8], 16) % len(PALETTE)
        if len(used) < len(PALETTE):
            while slot in used:
                slot = (slot + 1) % len(PALETTE)
        used.add(slot)
        taken[name] = slot
    return taken


def degenerate_of(results: dict) -> list | None:
    d = dig(results, "summary", "degenerate")
    if isinstance(d, dict) and d.get("flagged") is True:
        reasons = d.get("reasons")
        return [str(x) for x in reasons] if isinstance(reasons, list) and reasons else ["(no reason given)"]
    return None


def recompute_index(probes: list[dict], kind: str) -> float | None:
    """The index on a subset of probes (no CI: that needs the joint bootstrap): the mean over attributes of
    the mean instability (spurious) or 2·detection − 1 (causal) of the probes the run did not exclude."""
    groups: dict = {}
    for p in probes:
        if p.get("kind") != kind or p.get("insufficient_n") or (kind == "causal" and p.get("length_confounded")):
            continue
        v = num(p.get("instability" if kind == "spurious" else "detection_rate"))
        if v is None:
            continue
        groups.setdefault(str(p.get("attribute")), []).append(v if kind == "spurious" else 2 * v - 1)
    if not groups:
        return None
    return sum(sum(v) / len(v) for v in groups.values()) / len(groups)


def _indices(run: Run, use: list[dict], recompute: bool) -> dict:
    out = {}
    for kind in ("spurious", "causal"):
        if recompute:
            out[kind] = (recompute_index(use, kind), None)
            held = [p for p in use if not p.get("seen_in_training")]
            out[f"{kind}_heldout"] = (recompute_index(held, kind) if len(held) < len(use) else None, None)
        else:
            for key in (kind, f"{kind}_heldout"):
                v = num(run.summary.get(f"{key}_index" if key == kind else f"{kind}_index_heldout"))
                ci_key = f"{kind}_index_ci" if key == kind else f"{kind}_index_heldout_ci"
                out[key] = (v, interval(run.summary.get(ci_key)) if v is not None else None)
    return out


def _probe_map(probes) -> dict:
    out = {}
    for p in probes or []:
        if isinstance(p, dict) and p.get("name") is not None:
            out[str(p["name"])] = p
    return out


def align(results_list: list[dict]) -> Comparison:
    """Build the comparison of any number (>= 1) of results dicts."""
    if not results_list:
        raise ValueError("align() needs at least one results dict")
    labels = _labels(results_list)
    names = [str(dig(r, "rm", "name") or lab) for r, lab in zip(results_list, labels)]
    slots = color_slots([lab for lab, n in zip(labels, names) if n.strip().lower() not in REFERENCE_NAMES])
    runs, notes = [], []
    for label, name, res in zip(labels, names, results_list):
        ref = name.strip().lower() if name.strip().lower() in REFERENCE_NAMES else None
        if ref:
            st = REFERENCE_STYLE[ref]
            run = Run(label=label, results=res, color=st["color"], pattern="", symbol=st["symbol"], reference=ref)
        else:
            k = slots[label]
            run = Run(label=label, results=res, color=PALETTE[k], pattern=PATTERNS[k], symbol=SYMBOLS[k])
        run.probes = _probe_map(res.get("probes"))
        run.degenerate = degenerate_of(res)
        runs.append(run)

    shas: dict = {}
    for r in runs:
        sha = dig(r.results, "data", "sha256")
        shas.setdefault(str(sha)[:12] if sha else "unknown", []).append(r.label)
    if len(runs) > 1 and len(shas) > 1:
        parts = "; ".join(f"{', '.join(v)}: data {k}" for k, v in shas.items())
        notes.append(f"Runs used different data ({parts}). Probe numbers are compared on the probes they share, "
                     "but they were measured on different pairs.")

    with_probes = [r for r in runs if r.probes]
    without = [r.label for r in runs if not r.probes]
    if without and with_probes:
        notes.append(f"No probe audit in: {', '.join(without)} (benchmarks only); probe sections leave them out.")
    meta: dict = {}
    shared: list[str] = []
    recomputed = False
    if with_probes:
        common = set(with_probes[0].probes)
        for r in with_probes[1:]:
            common &= set(r.probes)
        order: list[str] = []
        for r in with_probes:
            order += [n for n in r.probes if n not in order]
        for name in order:
            if name in common:
                p = with_probes[0].probes[name]
                meta[name] = {"attribute": str(p.get("attribute") or name), "kind": str(p.get("kind") or "?"),
                              "family": str(p.get("family") or "")}
        attrs = list(dict.fromkeys(meta[n]["attribute"] for n in meta))
        shared = sorted(meta, key=lambda n: (0 if meta[n]["kind"] == "spurious" else 1,
                                             attrs.index(meta[n]["attribute"]), order.index(n)))
        for r in with_probes:
            only = [n for n in r.probes if n not in common]
            if only:
                notes.append(f"Probes only in {r.label} (not compared): {', '.join(only)}.")
        recomputed = len(with_probes) > 1 and any(len(r.probes) != len(common) for r in with_probes)
        if recomputed:
            notes.append(f"The runs ran different probe suites: spurious and causal indices are recomputed on "
                         f"the {len(common)} probes all runs share, without CIs (a CI needs the run's own joint "
                         "bootstrap), so no index is starred.")
    for r in runs:
        r.indices = _indices(r, [r.probes[n] for n in shared], recomputed) if r.probes else {}

    notes += _benchmark_notes(runs)
    references = {}
    for kind in REFERENCE_NAMES:
        if any(r.reference == kind for r in runs):
            continue
        ref = _reference(with_probes, shared, kind, recomputed, name_data=len(shas) > 1)
        if ref is not None:
            references[kind] = ref
    return Comparison(runs=runs, shared_probes=shared, probe_meta=meta, notes=notes,
                      indices_recomputed=recomputed, references=references)


def _reference(with_probes: list[Run], shared: list[str], kind: str, recompute: bool,
               name_data: bool = False) -> Run | None:
    """A model-free reference (``results["reference"][kind]``) on the same data, from the first run with it."""
    for r in with_probes:
        ref = dig(r.results, "reference", kind)
        if not isinstance(ref, dict) or not isinstance(ref.get("probes"), list):
            continue
        probes = _probe_map(ref["probes"])
        if not all(n in probes for n in shared):
            continue
        label = f"{kind} reference" + (f" (on {r.label}'s data)" if name_data else "")
        res = {"rm": {"name": kind}, "probes": list(probes.values()), "summary": ref.get("summary"),
               "clean": ref.get("clean")}
        st = REFERENCE_STYLE[kind]
        run = Run(label=label, results=res, color=st["color"], symbol=st["symbol"], reference=kind,
                  probes={n: probes[n] for n in shared})
        run.indices = _indices(run, [probes[n] for n in shared], recompute or len(shared) != len(probes))
        return run
    return None


def _benchmark_notes(runs: list[Run]) -> list[str]:
    notes = []
    names: list[str] = []
    for r in runs:
        names += [n for n in r.benchmarks if n not in names]
    for name in names:
        have = [r for r in runs if isinstance(r.benchmarks.get(name), dict)]
        if len(runs) > 1 and len(have) < len(runs):
            missing = [r.label for r in runs if r not in have]
            notes.append(f"Benchmark {name} not run for: {', '.join(missing)}.")
        unreadable = [r.label for r in have if not isinstance(r.benchmarks[name].get("metrics"), dict)]
        if unreadable:
            notes.append(f"Benchmark {name} is unreadable for: {', '.join(unreadable)} (no 'metrics' record; "
                         "re-run it with this version).")
        readable = [r for r in have if r.label not in unreadable]
        if len(readable) >= 2:
            sets = [set(dmap(r.benchmarks[name], "metrics")) for r in readable]
            if any(s != sets[0] for s in sets):
                notes.append(f"Benchmark {name}: the runs report different metrics; only the "
                             f"{len(set.intersection(*sets))} they share are compared.")
    return notes


def shared_keys(dicts: list[dict]) -> list[str]:
    """Keys present in every dict, in first-seen order (none when any of them is not a dict)."""
    if not dicts or not all(isinstance(d, dict) for d in dicts):
        return []
    common = set(dicts[0])
    for d in dicts[1:]:
        common &= set(d)
    order: list[str] = []
    for d in dicts:
        order += [k for k in d if k not in order]
    return [k for k in order if k in common]
