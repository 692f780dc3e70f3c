"""Align several ``results.json`` runs on what they share, and say what they do not share.

The report and the gate compare runs only on common ground: probes present in every run that has probes,
benchmark subsets/transformations present in every run that has that benchmark. Everything left out, and
every difference in data (sha256) or suite, becomes a one-line note the report shows at the top.

    from crome_audit.report.compare import align
    cmp = align([read_results("runs/a"), read_results("runs/b")])
    cmp.runs[0].label, cmp.shared_probes, cmp.notes

Plain data in, plain data out; no torch, no plotly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

PALETTE = ("#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#65a30d",
           "#4f46e5", "#b45309")
LENGTH_COLOR = "#9ca3af"
RB_SECTIONS = ("Chat", "Chat Hard", "Safety", "Reasoning")


def num(value) -> float | None:
    """A finite float, or None (null, NaN, strings, missing)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


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


def accuracy(value) -> float | None:
    """A subset entry may be ``{"accuracy": x, "n": k}`` or a bare number."""
    if isinstance(value, dict):
        return num(value.get("accuracy", value.get("score")))
    return num(value)


@dataclass
class Run:
    """One results.json, with a unique display label and a colour used in every chart."""

    label: str
    results: dict
    color: str
    is_length: bool = False
    probes: dict = field(default_factory=dict)  # name -> probe dict
    indices: dict = field(default_factory=dict)  # spurious/causal (+ _heldout), possibly recomputed

    @property
    def benchmarks(self) -> dict:
        b = self.results.get("benchmarks")
        return b if isinstance(b, dict) else {}

    def seen_in_training(self) -> list[str]:
        return [n for n, p in self.probes.items() if p.get("seen_in_training")]


@dataclass
class Comparison:
    runs: list[Run]
    shared_probes: list[str]  # ordered: spurious first, then causal, in first-run order
    probe_meta: dict  # name -> {attribute, kind, family}
    notes: list[str]
    indices_recomputed: bool = False
    reference: Run | None = None  # the model-free length baseline on the same data (results["reference"])

    @property
    def probe_runs(self) -> list[Run]:
        return [r for r in self.runs if r.probes]

    def bench_runs(self, name: str) -> list[Run]:
        return [r for r in self.runs if isinstance(r.benchmarks.get(name), dict)]


def display_name(name: str) -> str:
    """A local model folder is shown by its last part (``/tmp/runs/my-rm/`` -> ``my-rm``); hub ids, ``py:``
    specs and ``length`` stay as they are."""
    n = name.strip()
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


def index_of(probes: list[dict], kind: str) -> float | None:
    """spurious: mean |effect|; causal: mean effect toward the right direction (-effect: reward should drop)."""
    vals = [num(p.get("effect_size")) for p in probes if p.get("kind") == kind]
    vals = [v for v in vals if v is not None]
    if not vals:
        return None
    if kind == "spurious":
        return sum(abs(v) for v in vals) / len(vals)
    return sum(-v for v in vals) / len(vals)


def _indices(probes: list[dict], summary: dict | None, recompute: bool) -> dict:
    summary = summary if isinstance(summary, dict) else {}
    out = {}
    for kind in ("spurious", "causal"):
        if recompute:
            out[kind] = index_of(probes, kind)
            held = [p for p in probes if not p.get("seen_in_training")]
            out[f"{kind}_heldout"] = index_of(held, kind) if len(held) < len(probes) else None
        else:
            out[kind] = num(summary.get(f"{kind}_index"))
            out[f"{kind}_heldout"] = num(summary.get(f"{kind}_index_heldout"))
    return out


def align(results_list: list[dict]) -> Comparison:
    """Build the comparison of any number (>= 1) of results dicts."""
    if not results_list:
        raise ValueError("align() needs at least one results dict")
    labels = _labels(results_list)
    runs, notes = [], []
    ci = 0
    for label, res in zip(labels, results_list):
        is_length = str(dig(res, "rm", "name") or "").strip().lower() == "length"
        color = LENGTH_COLOR if is_length else PALETTE[ci % len(PALETTE)]
        ci += 0 if is_length else 1
        probes = {}
        for p in res.get("probes") or []:
            if isinstance(p, dict) and p.get("name") is not None:
                probes[str(p["name"])] = p
        runs.append(Run(label=label, results=res, color=color, is_length=is_length, probes=probes))

    # data: same pairs?
    shas = {}
    for r in runs:
        sha = dig(r.results, "data", "sha256")
        shas.setdefault(str(sha)[:12] if sha else "unknown", []).append(r.label)
    if len(runs) > 1 and len(shas) > 1:
        parts = "; ".join(f"{', '.join(v)}: data {k}" for k, v in shas.items())
        notes.append(f"Runs used different data ({parts}). Probe numbers are compared on the probes they share, "
                     "but they were measured on different pairs.")

    # probes: intersection over runs that have probes
    with_probes = [r for r in runs if r.probes]
    without = [r.label for r in runs if not r.probes]
    if without and with_probes:
        notes.append(f"No probe audit in: {', '.join(without)} (benchmarks only); probe sections leave them out.")
    shared: list[str] = []
    meta: dict = {}
    recomputed = False
    if with_probes:
        common = set(with_probes[0].probes)
        for r in with_probes[1:]:
            common &= set(r.probes)
        order = list(with_probes[0].probes)
        for r in with_probes[1:]:
            order += [n for n in r.probes if n not in order]
        for name in order:
            if name not in common:
                continue
            p = with_probes[0].probes[name]
            meta[name] = {"attribute": str(p.get("attribute") or name), "kind": str(p.get("kind") or "?"),
                          "family": str(p.get("family") or "")}
        shared = sorted(meta, key=lambda n: (0 if meta[n]["kind"] == "spurious" else 1, order.index(n)))
        for r in with_probes:
            only = [n for n in r.probes if n not in common]
            if only:
                notes.append(f"Probes only in {r.label} (not compared): {', '.join(only)}.")
        recomputed = len(with_probes) > 1 and any(len(r.probes) != len(common) for r in with_probes)
        if recomputed:
            notes.append(f"The runs ran different probe suites: spurious and causal indices are recomputed on "
                         f"the {len(common)} probes all runs share.")
    for r in runs:
        if not r.probes:
            r.indices = {}
            continue
        use = [r.probes[n] for n in shared] if recomputed else list(r.probes.values())
        r.indices = _indices(use, r.results.get("summary"), recompute=recomputed)
        if all(v is None for v in r.indices.values()) and use:
            r.indices = _indices(use, None, recompute=True)

    notes += _benchmark_notes(runs)
    reference = None if any(r.is_length for r in runs) else _length_reference(with_probes, shared, recomputed)
    return Comparison(runs=runs, shared_probes=shared, probe_meta=meta, notes=notes,
                      indices_recomputed=recomputed, reference=reference)


def _length_reference(with_probes: list[Run], shared: list[str], recompute: bool) -> Run | None:
    """The length baseline that ``run`` computes on the same data, from the first run that has it."""
    for r in with_probes:
        ref = dig(r.results, "reference", "length")
        if not isinstance(ref, dict) or not isinstance(ref.get("probes"), list):
            continue
        probes = {str(p["name"]): p for p in ref["probes"] if isinstance(p, dict) and p.get("name") is not None}
        if not all(n in probes for n in shared):
            continue
        label = "length baseline" + (f" (on {r.label}'s data)" if len(with_probes) > 1 else "")
        res = {"rm": {"name": "length"}, "probes": list(probes.values()), "summary": ref.get("summary"),
               "clean": ref.get("clean")}
        run = Run(label=label, results=res, color=LENGTH_COLOR, is_length=True,
                  probes={n: probes[n] for n in shared})
        use = [probes[n] for n in shared]
        run.indices = _indices(use, ref.get("summary"), recompute=recompute or len(use) != len(probes))
        return run
    return None


def _benchmark_notes(runs: list[Run]) -> list[str]:
    notes = []
    names = []
    for r in runs:
        names += [n for n in r.benchmarks if n not in names]
    for name in names:
        have = [r for r in runs if isinstance(r.benchmarks.get(name), dict)]
        if len(runs) > 1 and len(have) < len(runs):
            missing = [r.label for r in runs if r not in have]
            notes.append(f"Benchmark {name} not run for: {', '.join(missing)}.")
        if len(have) < 2:
            continue
        if name == "rewardbench":
            sets = [set(dmap(r.benchmarks[name], "subsets")) for r in have]
            if any(s != sets[0] for s in sets):
                common = set.intersection(*sets)
                notes.append(f"RewardBench subsets differ between runs; the subset table shows the {len(common)} "
                             "they share, and overall/section scores are each run's own.")
        if name == "rewordbench":
            sets = [set(dmap(r.benchmarks[name], "transformations")) for r in have]
            if any(s != sets[0] for s in sets):
                notes.append("reWordBench transformations differ between runs; the heatmaps show the ones all "
                             "runs share.")
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


def largest_n(wild: dict) -> str | None:
    """The largest N key present in a WildGuard result's asr/refusal_rate maps."""
    keys = set()
    for k in ("asr", "refusal_rate"):
        if isinstance(wild.get(k), dict):
            keys |= set(wild[k])
    ints = []
    for k in keys:
        try:
            ints.append((int(k), k))
        except (TypeError, ValueError):
            continue
    return max(ints)[1] if ints else None


def wild_value(wild: dict, metric: str, n_key: str | None):
    m = wild.get(metric)
    if not isinstance(m, dict) or n_key is None:
        return None
    if n_key in m:
        return num(m[n_key])
    for k, v in m.items():
        if str(k) == str(n_key):
            return num(v)
    return None
