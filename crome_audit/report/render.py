"""Render a Comparison into one self-contained HTML file (jinja2 with autoescape on, plotly.js inlined once).

Data for charts and the example browser travels as JSON inside ``<script type="application/json">`` blocks,
with ``<``, ``>`` and ``&`` written as ``\\u003c``-style escapes, so no text from a results file can close the
script block or become markup. The output is deterministic: same inputs, same bytes (no timestamps).

    from crome_audit.report.render import render_html
    html = render_html(align(results_list), title="baseline vs crome")
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from importlib import resources

import jinja2
from markupsafe import Markup

from .. import __version__
from .charts import all_figures
from .compare import Comparison, dig
from .examples import build_examples
from .tables import benchmark_tables, fmt, probe_flags, probe_table, verdict_table
from .verdict import verdict_sentences

GLOSSARY = [
    ("substance drop (D)", "The mean reward drop the RM gives a real, length-matched degradation of an answer "
                           "(the counted causal probes): the unit of every style number. A style bias cannot "
                           "inflate it, and numbers do not change when rewards are rescaled, shifted or offset "
                           "per prompt."),
    ("bias (effect size)", "Signed mean reward change a spurious probe causes, in units of D: + means the RM "
                           "prefers the restyled text; +1 = the edit is worth as much as a real degradation. "
                           "Whiskers: 95% bootstrap CI resampling prompts and templates."),
    ("instability (style share)", "I / (I + D), I = mean |reward change| under a style-only edit: 0 = style never "
                                  "moves the reward, 0.5 = as much as a real degradation, 1 = only style moves it "
                                  "(an RM blind to substance, such as the noise and length references, reads 1)."),
    ("spurious index", "The mean over style attributes of their style share (each attribute the mean of its "
                       "probes). Lower is better; CI from one joint bootstrap of the run."),
    ("verdict", "Per attribute. Style: sensitive (CI excludes 0 and |effect| > the floor 0.2 D), robust (CI "
                "inside ± the floor) or inconclusive (underpowered: the prompts needed are given). Content: "
                "detects, blind, inverted or inconclusive (floor 0.1 on 2·detection − 1). MDE = the minimum "
                "detectable effect at 80% power."),
    ("hack rate", "Among correctly ordered pairs, the share where restyling only the rejected answer makes it win "
                  "(ties ½). Chance (an RM with independent noise) = 1/3."),
    ("detection rate", "Causal probes: P(reward of the intact answer > reward of its degraded copy), ties ½. "
                       "0.5 = blind, 1 = always notices."),
    ("causal index", "The mean over content attributes of 2·detection − 1 (0 = blind, 1 = perfect); probes the "
                     "length reference already detects (length-confounded) are left out. Higher is better."),
    ("references", "Two model-free scorers run on the same texts: length (counts tokens) and noise (a "
                   "deterministic hash: knows nothing). An RM near the noise reference has learned nothing the "
                   "audit can see; one near the length reference may only count tokens."),
    ("faded bars ⚠", "Probes shown but excluded from the indices: fewer than 30 prompts (insufficient n) or "
                     "length-confounded."),
    ("degenerate", "An RM flagged by its run: constant rewards, clean accuracy within chance, or indices within "
                   "the noise reference. It is never starred and the gate fails it unless --allow-degenerate."),
    ("★ and differences", "A value is starred only when its CI separates from every other RM's. Differences "
                          "between RMs carry a conservative 95% CI combined from the two runs' CIs (MOVER: "
                          "treats them as independent, so it is wider than a joint bootstrap)."),
    ("held-out", "Indices over the probes whose family the RM did not see in training (from the model's "
                 "crome_training.json), the fair test of a Crome-trained RM."),
    ("benchmarks", "Shown from each benchmark's own metrics (value, CI, n, direction): ↑ higher is better, "
                   "↓ lower is better."),
]


def script_json(obj) -> Markup:
    """JSON safe to place inside <script type="application/json">."""
    text = json.dumps(_finite(obj), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    text = (text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))
    return Markup(text)


def _finite(obj):
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("crome_audit.report", "templates"), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.filters["fmt"] = fmt
    return env


@lru_cache(maxsize=4)
def _asset(name: str) -> str:
    return (resources.files("crome_audit.report") / "templates" / name).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs().replace("</script", "<\\/script")


def _kv(obj, prefix="") -> list[tuple[str, str]]:
    """Flatten a dict into (dotted key, value text) rows for provenance tables."""
    rows = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            key = f"{prefix}{k}"
            if isinstance(v, dict) and v:
                rows += _kv(v, key + ".")
            else:
                rows.append((key, _text(v)))
    elif obj is not None:
        rows.append((prefix.rstrip(".") or "value", _text(obj)))
    return rows


def _text(v) -> str:
    if v is None:
        return "—"
    if isinstance(v, (list, tuple)):
        return ", ".join(_text(x) for x in v) if v else "—"
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, dict):
        return json.dumps(v, ensure_ascii=False, sort_keys=True) if v else "—"
    return str(v)


TRAINING_MAIN = ("method", "intervention_families", "generator", "base_model", "seed", "data.path", "attributes",
                 "final_loss")


def _main_key(key: str) -> bool:
    return any(key == m or key.startswith(m + ".") for m in TRAINING_MAIN)


def provenance(cmp: Comparison) -> list[dict]:
    out = []
    for r in cmp.runs:
        res = r.results
        cfg = res.get("config") if isinstance(res.get("config"), dict) else {}
        training = dig(res, "rm", "training")
        train_rows = _kv(training) if isinstance(training, dict) else []
        seen = r.seen_in_training()
        fams = sorted({str(r.probes[n].get("family") or "") for n in seen} - {""})
        out.append({
            "run": r,
            "rm": [("name", _text(dig(res, "rm", "name"))), ("fingerprint", _text(dig(res, "rm", "fingerprint"))),
                   ("results file", _text(res.get("_path")))] + _kv(dig(res, "rm", "info"), "info."),
            "data": [("path", _text(dig(res, "data", "path"))), ("sha256", _text(dig(res, "data", "sha256"))),
                     ("pairs", _text(dig(res, "data", "n")))],
            "seed": _text(cfg.get("seed")),
            "config": _kv(cfg),
            "versions": _kv(res.get("versions")),
            "engine": _kv(res.get("engine")),
            "training": [kv for kv in train_rows if _main_key(kv[0])],
            "training_more": [kv for kv in train_rows if not _main_key(kv[0])],
            "seen": seen, "seen_families": fams,
            "schema": _text(res.get("schema_version")),
        })
    return out


def _summary_line(cmp: Comparison) -> str:
    parts = [f"{len(cmp.runs)} run" + ("s" if len(cmp.runs) != 1 else "")]
    if cmp.shared_probes:
        first = cmp.probe_runs[0]
        out = sum(1 for n in cmp.shared_probes if probe_flags(first.probes[n]))
        parts.append(f"{len(cmp.shared_probes)} {'shared ' if len(cmp.probe_runs) > 1 else ''}probes"
                     + (f" ({out} shown but left out of the indices)" if out else ""))
    names = []
    for r in cmp.runs:
        names += [n for n in r.benchmarks if n not in names]
    if names:
        parts.append("benchmarks: " + ", ".join(names))
    return " · ".join(parts)


def render_html(cmp: Comparison, title: str | None = None) -> str:
    benches = benchmark_tables(cmp)
    figures = all_figures(cmp, {b["name"]: b["fig"] for b in benches})
    fig_json = {k: json.loads(v.to_json()) for k, v in figures.items()}
    examples = build_examples(cmp)
    if title is None:
        title = "crome-audit report: " + " vs ".join(r.label for r in cmp.runs)
    ctx = {
        "title": title, "version": __version__, "summary_line": _summary_line(cmp), "cmp": cmp,
        "verdict": verdict_table(cmp, "probes"), "headlines": verdict_table(cmp, "benchmarks"),
        "sentences": verdict_sentences(cmp),
        "probes": probe_table(cmp) if cmp.shared_probes else None,
        "figures": figures, "heights": {k: int(v.layout.height or 400) for k, v in figures.items()},
        "benchmarks": benches, "provenance": provenance(cmp), "glossary": GLOSSARY,
        "has_examples": examples["total"] > 0, "n_examples": examples["total"],
        "figures_json": script_json(fig_json), "examples_json": script_json(examples),
        "css": Markup(_asset("style.css")), "js": Markup(_asset("report.js")),
        "plotly_js": Markup(_plotly_js()) if figures else Markup(""),
    }
    return _environment().get_template("report.html.j2").render(**ctx)
