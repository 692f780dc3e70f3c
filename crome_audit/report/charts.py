"""Plotly figure builders for the report. Each returns a ``plotly.graph_objects.Figure`` or None when no run
has the data. Every user-supplied string (RM names, probe and metric names) is HTML-escaped before it reaches
plotly, because plotly renders a subset of HTML tags in labels.

Layout rules that keep the charts readable from 420 px to 1,600 px wide: bars are horizontal (category names
on the y axis never collide, however narrow the screen), the legend sits under the plot (the toolbar, top
right, cannot cover it), heights grow with the number of rows, and every RM is told apart by colour *and*
pattern (bars) or symbol (markers). The ``length`` and ``noise`` references are drawn as markers on every
probe chart and on the index scatter.

    from crome_audit.report.charts import probe_figure
    fig = probe_figure(cmp, "spurious", "instability")
"""

from __future__ import annotations

import html

import plotly.graph_objects as go

from .compare import REFERENCE_STYLE, Comparison, Run, dig, dmap, interval, num, shared_keys
from .tables import _pct_like, probe_flags

FONT = "system-ui, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif"
MAX_BENCH_ROWS = 12  # metrics per benchmark chart (the table lists them all)
# (kind, metric key, CI key, axis title, reference line, its label)
PROBE_CHARTS = {
    "fig-bias": ("spurious", "effect_size", None, "bias (units of a real degradation), + prefers restyled", 0.0,
                 "no bias"),
    "fig-instability": ("spurious", "instability", "instability_ci", "style share I / (I + D)", None, None),
    "fig-detection": ("causal", "detection_rate", "detection_rate_ci", "P(intact beats degraded)", 0.5,
                      "chance (blind)"),
}


def esc(text) -> str:
    return html.escape(str(text), quote=False)


AXIS_B = 56  # px under the plot area for the x tick labels and axis title; the legend goes below that
TOP = 36  # px above the plot area: the toolbar lives there, over nothing


def _layout(fig: go.Figure, plot_h: int, n_legend: int = 1, **kw) -> go.Figure:
    """``plot_h``: the plot area's height. The legend's rows depend on the width; the height here assumes 3
    entries a row and report.js corrects it to the legend's real height once drawn (layout.meta)."""
    bottom = AXIS_B + 22 * (n_legend // 3 + 1)
    height = int(plot_h + TOP + bottom)
    kw.setdefault("margin", {"l": 10, "r": 16, "t": TOP, "b": bottom})
    kw["meta"] = {"plot_h": int(plot_h), "axis_b": AXIS_B}
    fig.update_layout(template="plotly_white", height=height, font={"family": FONT, "size": 12},
                      showlegend=True,  # also for one trace: points carry no text labels, the legend names them
                      legend={"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom", "x": 0,
                              "xanchor": "left", "font": {"size": 11}, "traceorder": "normal"}, **kw)
    return fig


def _f(v, signed=False) -> str:
    v = num(v)
    return "—" if v is None else (f"{v:+.3f}" if signed else f"{v:.3f}")


def _errors(values, cis):
    up = [ci[1] - v if v is not None and ci else None for v, ci in zip(values, cis)]
    down = [v - ci[0] if v is not None and ci else None for v, ci in zip(values, cis)]
    return up, down


def _probe_ci(p: dict, key: str, ci_key: str | None):
    v = num(p.get(key))
    if ci_key is None:
        return v, interval((p.get("ci_low"), p.get("ci_high")), v)
    return v, interval(p.get(ci_key), v)


def short(label: str, limit: int = 32) -> str:
    """A legend entry that fits a phone screen (plotly legends do not wrap); the full name is in the hover."""
    return label if len(label) <= limit else label[:10] + "…" + label[-(limit - 11):]


def _run_name(run: Run) -> str:
    return esc(short(run.label)) + (" (degenerate)" if run.degenerate else "")


def probe_figure(cmp: Comparison, chart_id: str) -> go.Figure | None:
    """Horizontal grouped bars, one row per shared probe of the kind, one bar per RM, 95% CI whiskers, the
    references as markers, n in the row label; flagged probes (insufficient n, length-confounded) faded."""
    kind, key, ci_key, title, line, line_label = PROBE_CHARTS[chart_id]
    names = [n for n in cmp.shared_probes if cmp.probe_meta[n]["kind"] == kind]
    runs = cmp.probe_runs
    if not names or not runs:
        return None
    labels = []
    for n in names:
        ns = [cmp_n for cmp_n in dict.fromkeys(str(r.probes[n].get("n")) for r in runs)]
        flags = probe_flags(runs[0].probes[n])
        mark = " ⚠" if flags else ""
        labels.append(f"{esc(n)}{mark}<br>n={'/'.join(esc(x) for x in ns)}")
    fig = go.Figure()
    for run in runs:
        vals, cis, hover, opac = [], [], [], []
        for n in names:
            p = run.probes[n]
            v, ci = _probe_ci(p, key, ci_key)
            vals.append(v)
            cis.append(ci)
            flags = probe_flags(p)
            opac.append(0.35 if flags or run.degenerate else 1.0)
            seen = "<br>seen in training" if p.get("seen_in_training") else ""
            extra = "".join(f"<br>{esc(f)}" for f in flags) + "".join(
                f"<br>{k} reference {_f(_probe_ci(ref.probes[n], key, ci_key)[0])}" for k, ref in cmp.references.items())
            hover.append(f"{esc(run.label)}<br>{esc(n)} ({esc(p.get('attribute') or '')}){seen}<br>"
                         f"{esc(key.replace('_', ' '))} {_f(v, key == 'effect_size')} "
                         f"[{_f(ci[0] if ci else None)}, {_f(ci[1] if ci else None)}]<br>"
                         f"n={esc(p.get('n'))} edits, {esc(p.get('n_clusters'))} prompts{extra}")
        up, down = _errors(vals, cis)
        base = 0.5 if key == "detection_rate" else None  # detection bars grow from chance, not from 0
        shown = [v - base if v is not None and base is not None else v for v in vals]
        fig.add_bar(y=labels, x=shown, base=base, orientation="h", name=_run_name(run),
                    marker={"color": run.color, "opacity": opac, "line": {"color": "#333333", "width": 0.6},
                            "pattern": {"shape": run.pattern, "fgcolor": "#222222", "size": 6, "solidity": 0.25}},
                    error_x={"type": "data", "symmetric": False, "array": up, "arrayminus": down,
                             "thickness": 1.2, "width": 2, "color": "#374151"},
                    hovertext=hover, hoverinfo="text")
    for kind_ref, ref in cmp.references.items():
        # a line across the whole bar group at the reference's value: visible beside every RM's bar
        style = REFERENCE_STYLE[kind_ref]
        for i, n in enumerate(names):
            v, _ = _probe_ci(ref.probes[n], key, ci_key)
            if v is not None:
                fig.add_shape(type="line", xref="x", yref="y", x0=v, x1=v, y0=i - 0.46, y1=i + 0.46,
                              line={"color": ref.color, "width": 2.2, "dash": style["dash"]})
        fig.add_scatter(x=[None], y=[labels[0]], mode="lines", name=f"{kind_ref} reference", hoverinfo="skip",
                        line={"color": ref.color, "width": 2.2, "dash": style["dash"]})
    if line is not None:
        fig.add_vline(x=line, line={"color": "#111827", "width": 1.2})
        fig.add_scatter(x=[None], y=[labels[0]], mode="lines", name=line_label, hoverinfo="skip",
                        line={"color": "#111827", "width": 1.2})
    per_row = max(34, 10 + 13 * (len(runs) + 0.5))
    n_legend = len(runs) + len(cmp.references) + (1 if line is not None else 0)
    fig.update_yaxes(autorange="reversed", automargin=True, tickfont={"size": 11})
    fig.update_xaxes(title={"text": title, "font": {"size": 11}}, zeroline=True, automargin=True)
    if key == "detection_rate":
        fig.update_xaxes(range=[0, 1.02], tickformat=".0%")
    return _layout(fig, int(per_row * len(names)), n_legend, barmode="group", bargap=0.22, bargroupgap=0.05)


def scatter_figure(cmp: Comparison) -> go.Figure | None:
    """One point per RM and reference: spurious index (x, lower is better) vs causal index (y, higher is
    better), with both CIs as whiskers."""
    runs = cmp.runs + list(cmp.references.values())
    runs = [r for r in runs if r.index("spurious")[0] is not None and r.index("causal")[0] is not None]
    if not runs:
        return None
    fig = go.Figure()
    for r in runs:
        (x, xci), (y, yci) = r.index("spurious"), r.index("causal")
        ex = {"type": "data", "symmetric": False, "array": [xci[1] - x], "arrayminus": [x - xci[0]],
              "color": r.color, "thickness": 1.2} if xci else None
        ey = {"type": "data", "symmetric": False, "array": [yci[1] - y], "arrayminus": [y - yci[0]],
              "color": r.color, "thickness": 1.2} if yci else None
        name = _run_name(r)
        fig.add_scatter(x=[x], y=[y], mode="markers", name=name, error_x=ex, error_y=ey,
                        marker={"size": 13, "color": r.color, "symbol": r.symbol,
                                "opacity": 0.45 if r.degenerate else 1.0,
                                "line": {"width": 1.5 if r.is_reference else 1, "color": "#222222"
                                         if not r.is_reference else r.color}},
                        hovertext=[f"{esc(r.label)}<br>spurious {_f(x)} [{_f(xci[0]) if xci else '—'}, "
                                   f"{_f(xci[1]) if xci else '—'}]<br>causal {_f(y, True)} "
                                   f"[{_f(yci[0], True) if yci else '—'}, {_f(yci[1], True) if yci else '—'}]"],
                        hoverinfo="text")
        hx, hy = r.index("spurious_heldout")[0], r.index("causal_heldout")[0]
        if hx is not None and hy is not None:
            fig.add_scatter(x=[x, hx], y=[y, hy], mode="lines+markers", name=name + " (held-out probes)",
                            line={"color": r.color, "dash": "dot", "width": 1},
                            marker={"size": [0, 11], "symbol": "circle-open", "color": r.color},
                            hovertext=["", f"{esc(r.label)} held-out<br>spurious {_f(hx)}<br>causal {_f(hy, True)}"],
                            hoverinfo="text")
    fig.add_hline(y=0, line={"color": "#9ca3af", "width": 1, "dash": "dot"})
    xs = [v for r in runs for v in (r.index("spurious")[1] or (r.index("spurious")[0],) * 2)]
    lo, hi = min(0.0, *xs), max(xs)
    pad = 0.05 * (hi - lo or 1.0)  # markers at x = 0 (a style-blind RM) stay whole
    fig.update_xaxes(title={"text": "spurious index (style share) → worse", "font": {"size": 11}},
                     range=[lo - pad, hi + pad], automargin=True)
    fig.update_yaxes(title={"text": "causal index (2·detection − 1) → better", "font": {"size": 11}},
                     automargin=True)
    fig.add_annotation(xref="paper", yref="paper", x=0.01, y=0.99, xanchor="left", yanchor="top",
                       text="goal: top left", showarrow=False, font={"color": "#005a44", "size": 11},
                       bgcolor="rgba(255,255,255,0.85)")
    return _layout(fig, 320, len(fig.data))


def benchmark_figure(cmp: Comparison, bench: str) -> go.Figure | None:
    """Any benchmark, from its ``metrics``: horizontal bars of value with CI per RM (first MAX_BENCH_ROWS)."""
    runs = [r for r in cmp.bench_runs(bench) if isinstance(dmap(r.benchmarks, bench).get("metrics"), dict)]
    if not runs:
        return None
    names = shared_keys([r.benchmarks[bench]["metrics"] for r in runs])
    names = ((["score"] if "score" in names else []) + [n for n in names if n != "score"])[:MAX_BENCH_ROWS]
    names = [n for n in names if any(num(dig(r.benchmarks, bench, "metrics", n, "value")) is not None for r in runs)]
    if not names:
        return None
    all_m = [r.benchmarks[bench]["metrics"][n] for r in runs for n in names]
    pct = _pct_like([m for m in all_m if isinstance(m, dict)])
    labels = []
    for n in names:
        m = next((r.benchmarks[bench]["metrics"][n] for r in runs if isinstance(r.benchmarks[bench]["metrics"][n],
                                                                                  dict)), {})
        arrow = " ↑" if m.get("higher_is_better") is True else " ↓" if m.get("higher_is_better") is False else ""
        nn = num(m.get("n"))
        labels.append(f"{esc(n)}{arrow}" + (f" · n={int(nn):,}" if nn is not None else ""))
    fig = go.Figure()
    for r in runs:
        vals, cis = [], []
        for n in names:
            m = r.benchmarks[bench]["metrics"][n]
            v = num(m.get("value")) if isinstance(m, dict) else None
            vals.append(v)
            cis.append(interval(m.get("ci"), v) if isinstance(m, dict) else None)
        up, down = _errors(vals, cis)
        fig.add_bar(y=labels, x=vals, orientation="h", name=_run_name(r),
                    marker={"color": r.color, "opacity": 0.45 if r.degenerate else 1.0,
                            "line": {"color": "#333333", "width": 0.6},
                            "pattern": {"shape": r.pattern, "fgcolor": "#222222", "size": 6, "solidity": 0.25}},
                    error_x={"type": "data", "symmetric": False, "array": up, "arrayminus": down,
                             "thickness": 1.2, "width": 2, "color": "#374151"},
                    hovertext=[f"{esc(r.label)}<br>{lab}<br>" + (f"{100 * v:.1f}%" if pct and v is not None else _f(v))
                               for lab, v in zip(labels, vals)], hoverinfo="text")
    if pct:
        fig.update_xaxes(range=[0, 1.02], tickformat=".0%")
    fig.update_yaxes(autorange="reversed", automargin=True, tickfont={"size": 11})
    fig.update_xaxes(automargin=True)
    per_row = max(34, 10 + 13 * (len(runs) + 0.5))
    return _layout(fig, int(per_row * len(names)), len(runs), barmode="group", bargap=0.22)


def all_figures(cmp: Comparison, bench_ids: dict | None = None) -> dict:
    """div id -> figure, only for the charts that have data. ``bench_ids``: benchmark name -> div id."""
    figs = {"fig-scatter": scatter_figure(cmp)}
    for chart_id in PROBE_CHARTS:
        figs[chart_id] = probe_figure(cmp, chart_id)
    for bench, div in (bench_ids or {}).items():
        figs[div] = benchmark_figure(cmp, bench)
    return {k: v for k, v in figs.items() if v is not None}
