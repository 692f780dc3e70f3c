"""Plotly figure builders for the report. Each returns a ``plotly.graph_objects.Figure`` or None when no run
has the data. Every user-supplied string (RM names, probe, subset and transformation names) is HTML-escaped
before it reaches plotly, because plotly renders a subset of HTML tags in labels.

    from crome_audit.report.charts import sensitivity_figure
    fig = sensitivity_figure(cmp, "spurious")
"""

from __future__ import annotations

import html

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .compare import RB_SECTIONS, Comparison, dig, dmap, num, shared_keys

FONT = "system-ui, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif"
RMBENCH_STYLES = ("concise", "detailed plain", "detailed markdown")


def esc(text) -> str:
    return html.escape(str(text), quote=False)


def _layout(fig: go.Figure, height: int = 380, **kw) -> go.Figure:
    kw.setdefault("margin", {"l": 60, "r": 20, "t": 50, "b": 60})
    kw.setdefault("legend", {"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0})
    fig.update_layout(template="plotly_white", height=height, font={"family": FONT, "size": 12}, **kw)
    return fig


def sensitivity_figure(cmp: Comparison, kind: str) -> go.Figure | None:
    """Grouped bars of effect size with 95% CI error bars, one bar group per shared probe of this kind."""
    names = [n for n in cmp.shared_probes if cmp.probe_meta[n]["kind"] == kind]
    if not names:
        return None
    # two-level axis: probes grouped under their attribute (in first-seen order of the attributes)
    attrs = [cmp.probe_meta[n]["attribute"] for n in names]
    order = list(dict.fromkeys(attrs))
    names = sorted(names, key=lambda n: order.index(cmp.probe_meta[n]["attribute"]))
    x = [[esc(cmp.probe_meta[n]["attribute"]) for n in names], [esc(n) for n in names]]
    fig = go.Figure()
    runs = ([cmp.reference] if cmp.reference else []) + cmp.probe_runs
    for run in runs:
        ys, up, down, hover, shapes = [], [], [], [], []
        for n in names:
            p = run.probes[n]
            e, lo, hi = num(p.get("effect_size")), num(p.get("ci_low")), num(p.get("ci_high"))
            ys.append(e)
            up.append(hi - e if e is not None and hi is not None else None)
            down.append(e - lo if e is not None and lo is not None else None)
            seen = " · seen in training" if p.get("seen_in_training") else ""
            hover.append(f"{esc(run.label)}<br>{esc(n)} ({esc(p.get('attribute') or '')}){seen}<br>"
                         f"effect {_f(e)} [{_f(lo)}, {_f(hi)}]<br>flip rate {_f(p.get('flip_rate'))}, "
                         f"n={p.get('n')}")
            shapes.append("/" if p.get("seen_in_training") else "")
        name = esc(run.label) + (" (baseline)" if run.is_length and run is not cmp.reference else "")
        fig.add_bar(x=x, y=ys, name=name, marker={"color": run.color, "pattern": {"shape": shapes}},
                    error_y={"type": "data", "symmetric": False, "array": up, "arrayminus": down,
                             "thickness": 1.2, "width": 3, "color": "#374151"},
                    hovertext=hover, hoverinfo="text")
    fig.add_hline(y=0, line={"color": "#111827", "width": 1})
    fig.update_xaxes(tickangle=-30, tickfont={"size": 11})
    _layout(fig, height=440, barmode="group", yaxis_title="effect size (reward SDs), 95% CI", bargap=0.25)
    return fig


def _f(v) -> str:
    v = num(v)
    return "—" if v is None else f"{v:+.3f}"


def scatter_figure(cmp: Comparison) -> go.Figure | None:
    """One point per RM: spurious index (x, lower is better) vs causal index (y, higher is better)."""
    runs = cmp.runs + ([cmp.reference] if cmp.reference else [])
    runs = [r for r in runs if r.indices.get("spurious") is not None and r.indices.get("causal") is not None]
    if not runs:
        return None
    fig = go.Figure()
    xs, ys = [], []
    mid = sorted(r.indices["spurious"] for r in runs)[len(runs) // 2] if len(runs) > 1 else float("inf")
    for r in runs:
        x, y = r.indices["spurious"], r.indices["causal"]
        where = "top right" if x < mid else "top left"  # keep labels inside the plot
        xs.append(x)
        ys.append(y)
        fig.add_scatter(x=[x], y=[y], mode="markers+text", name=esc(r.label), text=[esc(r.label)],
                        textposition=where if len(runs) > 1 else "top center", marker={"size": 14, "color": r.color,
                                                           "line": {"width": 1, "color": "white"}},
                        hovertemplate=f"{esc(r.label)}<br>spurious %{{x:.3f}}<br>causal %{{y:.3f}}<extra></extra>")
        hx, hy = r.indices.get("spurious_heldout"), r.indices.get("causal_heldout")
        if hx is not None and hy is not None:
            xs.append(hx)
            ys.append(hy)
            fig.add_scatter(x=[x, hx], y=[y, hy], mode="lines+markers", showlegend=True,
                            name=esc(r.label) + " (held-out probes)",
                            line={"color": r.color, "dash": "dot", "width": 1},
                            marker={"size": [0, 12], "symbol": "circle-open", "color": r.color},
                            hovertemplate=f"{esc(r.label)} held-out<br>spurious %{{x:.3f}}<br>"
                                          f"causal %{{y:.3f}}<extra></extra>")
    pad_x = max(0.05, 0.15 * (max(xs) - min(0.0, min(xs))))
    pad_y = max(0.05, 0.15 * (max(ys) - min(ys)))
    fig.update_xaxes(range=[min(0.0, min(xs)) - pad_x / 3, max(xs) + pad_x], zeroline=True,
                     title="spurious index (mean |effect|) → worse")
    fig.update_yaxes(range=[min(ys) - pad_y, max(ys) + pad_y * 1.5], title="causal index → better")
    fig.add_annotation(xref="paper", yref="paper", x=0.01, y=0.99, xanchor="left", yanchor="top",
                       text="★ goal: high causal, low spurious", showarrow=False,
                       font={"color": "#059669", "size": 12}, bgcolor="rgba(236,253,245,0.9)")
    return _layout(fig, height=420, showlegend=len(runs) > 1 or any(
        r.indices.get("spurious_heldout") is not None for r in runs))


def rewardbench_figure(cmp: Comparison) -> go.Figure | None:
    runs = cmp.bench_runs("rewardbench")
    if not runs:
        return None
    cats = ["Overall", *RB_SECTIONS]
    fig = go.Figure()

    def vals(rb):
        return [num(rb.get("score"))] + [num(dig(rb, "sections", s)) for s in RB_SECTIONS]

    for r in runs:
        fig.add_bar(x=cats, y=vals(r.benchmarks["rewardbench"]), name=esc(r.label), marker_color=r.color,
                    texttemplate="%{y:.1%}", textposition="outside", cliponaxis=False)
    base = next((r.benchmarks["rewardbench"]["length_baseline"] for r in runs
                 if isinstance(r.benchmarks["rewardbench"].get("length_baseline"), dict)), None)
    if base is not None:  # a dashed line across each group of bars, plus a legend entry
        for i, v in enumerate(vals(base)):
            if v is not None:
                fig.add_shape(type="line", xref="x", yref="y", x0=i - 0.45, x1=i + 0.45, y0=v, y1=v,
                              line={"color": "#111827", "width": 2, "dash": "dash"})
        fig.add_scatter(x=[cats[0]], y=[None], mode="lines", name="length baseline (longer wins)",
                        line={"color": "#111827", "width": 2, "dash": "dash"}, hoverinfo="skip")
    fig.add_hline(y=0.5, line={"color": "#9ca3af", "dash": "dot", "width": 1})
    fig.update_yaxes(range=[0, 1.08], tickformat=".0%", title="accuracy")
    return _layout(fig, barmode="group")


def rewordbench_figure(cmp: Comparison) -> go.Figure | None:
    runs = cmp.bench_runs("rewordbench")
    runs = [r for r in runs if isinstance(r.benchmarks["rewordbench"].get("transformations"), dict)]
    if not runs:
        return None
    trs = [r.benchmarks["rewordbench"]["transformations"] for r in runs]
    tnames = shared_keys(trs)
    present = {s for t in trs for n in tnames for s in dmap(t[n], "sections")}
    secs = [s for s in RB_SECTIONS if s in present] + sorted(present - set(RB_SECTIONS))
    has_overall = any(isinstance(dig(t[n], "overall"), dict) for t in trs for n in tnames)
    cols = (["Overall"] if has_overall else []) + secs
    if not tnames or not cols:
        return None
    fig = make_subplots(rows=1, cols=len(runs), subplot_titles=[esc(r.label) for r in runs],
                        shared_yaxes=True, horizontal_spacing=0.03)
    for i, (r, t) in enumerate(zip(runs, trs), start=1):
        z = [[num(dig(t[n], "overall", "drop")) if c == "Overall" and c not in secs
              else num(dig(t[n], "sections", c, "drop")) for c in cols] for n in tnames]
        fig.add_heatmap(z=z, x=[esc(c) for c in cols], y=[esc(n) for n in tnames], coloraxis="coloraxis",
                        texttemplate="%{z:.2f}", hovertemplate="%{y} × %{x}<br>drop %{z:.3f}<extra>"
                                                               + esc(r.label) + "</extra>", row=1, col=i)
    fig.update_layout(coloraxis={"colorscale": "RdBu", "reversescale": True, "cmid": 0,
                                 "colorbar": {"title": {"text": "drop"}}})
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, height=max(260, 90 + 26 * len(tnames)), margin={"l": 170, "r": 20, "t": 50, "b": 40})


def wildguard_figure(cmp: Comparison) -> go.Figure | None:
    runs = cmp.bench_runs("wildguard")
    if not runs:
        return None
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Attack success rate on harmful prompts ↓",
                                                        "Refusal rate on benign prompts ↓"),
                        horizontal_spacing=0.08)
    ticks: set = set()
    for r in runs:
        w = r.benchmarks["wildguard"]
        for col, metric in ((1, "asr"), (2, "refusal_rate")):
            m = w.get(metric)
            if not isinstance(m, dict):
                continue
            pts = []
            for k, v in m.items():
                try:
                    pts.append((int(k), num(v)))
                except (TypeError, ValueError):
                    continue
            pts.sort()
            ticks |= {p[0] for p in pts}
            fig.add_scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], mode="lines+markers",
                            name=esc(r.label), legendgroup=esc(r.label), showlegend=col == 1,
                            line={"color": r.color}, row=1, col=col)
    tv = sorted(t for t in ticks if t > 0)
    fig.update_xaxes(type="log", tickvals=tv, ticktext=[str(t) for t in tv], title="N (Best-of-N)")
    fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    return _layout(fig, height=380, margin={"l": 60, "r": 20, "t": 80, "b": 60},
                   legend={"orientation": "h", "yanchor": "bottom", "y": 1.12, "x": 0})


def rmbench_figure(cmp: Comparison) -> go.Figure | None:
    runs = [r for r in cmp.bench_runs("rmbench") if _rm_matrix(r.benchmarks["rmbench"]) is not None]
    if not runs:
        return None
    fig = make_subplots(rows=1, cols=len(runs), subplot_titles=[esc(r.label) for r in runs],
                        shared_yaxes=True, horizontal_spacing=0.04)
    for i, r in enumerate(runs, start=1):
        z = _rm_matrix(r.benchmarks["rmbench"])
        fig.add_heatmap(z=z, x=list(RMBENCH_STYLES), y=list(RMBENCH_STYLES), coloraxis="coloraxis",
                        texttemplate="%{z:.0%}", hovertemplate="chosen %{y} vs rejected %{x}<br>"
                                                               "%{z:.1%}<extra></extra>", row=1, col=i)
        fig.update_xaxes(title_text="rejected style", row=1, col=i)
    fig.update_yaxes(title_text="chosen style", autorange="reversed", row=1, col=1)
    fig.update_layout(coloraxis={"colorscale": "Viridis", "cmin": 0, "cmax": 1,
                                 "colorbar": {"title": {"text": "acc"}, "tickformat": ".0%"}})
    return _layout(fig, height=360, margin={"l": 130, "r": 20, "t": 50, "b": 80})


def _rm_matrix(rm: dict):
    """Mean 3x3 matrix over domains (chosen style i vs rejected style j), or the top-level one."""
    mats = []
    if _is_3x3(rm.get("matrix")):
        return [[num(v) for v in row] for row in rm["matrix"]]
    for d in dmap(rm, "domains").values():
        if isinstance(d, dict) and _is_3x3(d.get("matrix")):
            mats.append(d["matrix"])
    if not mats:
        return None
    out = []
    for i in range(3):
        row = []
        for j in range(3):
            vs = [num(m[i][j]) for m in mats if num(m[i][j]) is not None]
            row.append(sum(vs) / len(vs) if vs else None)
        out.append(row)
    return out


def _is_3x3(m) -> bool:
    return isinstance(m, list) and len(m) == 3 and all(isinstance(r, list) and len(r) == 3 for r in m)


def all_figures(cmp: Comparison) -> dict:
    """div id -> figure, only for the charts that have data."""
    figs = {
        "fig-scatter": scatter_figure(cmp),
        "fig-spurious": sensitivity_figure(cmp, "spurious"),
        "fig-causal": sensitivity_figure(cmp, "causal"),
        "fig-rewardbench": rewardbench_figure(cmp),
        "fig-rewordbench": rewordbench_figure(cmp),
        "fig-wildguard": wildguard_figure(cmp),
        "fig-rmbench": rmbench_figure(cmp),
    }
    return {k: v for k, v in figs.items() if v is not None}

