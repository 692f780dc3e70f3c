"""The HTML page of a data audit (``crome-audit data FILE --out DIR`` writes it as ``DIR/report.html``).

    from crome_audit.report.data_audit_page import render_data_audit
    html = render_data_audit(result)        # the dict data_audit.json holds

One self-contained page in the report's style (no scripts, no plotly): the shallow classifier's
cross-validated AUC with its CI first ("how much of this data a model can learn without reading it"), then
one row per surface feature (direction-free AUC with its prompt-clustered CI, and the shares of pairs whose
chosen side has more / less of it), strongest first, and one row per synthetic family. A feature or family
whose CI lies above the trainer's warning level (0.55, ``train.data_audit_warn_auc``) is marked as a
shortcut. Reads the plain result only; no torch.
"""

from __future__ import annotations

from html import escape

from .render import _asset

SHORTCUT_AUC = 0.55


def _f(v, spec=".3f") -> str:
    return "—" if not isinstance(v, (int, float)) else format(v, spec)


def _ci(ci) -> str:
    return f"[{_f(ci[0])}, {_f(ci[1])}]" if isinstance(ci, list) and len(ci) == 2 else ""


def _flag(ci) -> str:
    shortcut = isinstance(ci, list) and len(ci) == 2 and isinstance(ci[0], (int, float)) and ci[0] > SHORTCUT_AUC
    return ' <span class="flag">shortcut</span>' if shortcut else ""


def _shallow(block: dict) -> str:
    s = block.get("shallow") or {}
    top = ", ".join(f"{escape(str(t.get('feature')))} ({escape(str(t.get('direction', '')))})"
                    for t in (s.get("top_features") or [])[:3])
    return (f"<p><b>Shallow classifier</b> (all features together, cross-validated by prompt): AUC "
            f"<b>{_f(s.get('auc'))}</b> {_ci(s.get('auc_ci'))}{_flag(s.get('auc_ci'))}"
            + (f"; top features: {top}" if top else "") + "</p>")


def _feature_rows(features: dict) -> str:
    rows = sorted(features.items(), key=lambda kv: -(kv[1].get("auc") or 0))
    return "".join(
        f"<tr><td>{escape(name)}{_flag(f.get('auc_ci'))}</td><td class='num'>{_f(f.get('auc'))}</td>"
        f"<td class='num'>{_ci(f.get('auc_ci'))}</td><td class='num'>{_f(f.get('chosen_more'), '.1%')}</td>"
        f"<td class='num'>{_f(f.get('chosen_less'), '.1%')}</td></tr>" for name, f in rows)


def render_data_audit(result: dict, title: str | None = None) -> str:
    data = result.get("data") or {}
    title = title or f"crome-audit data audit: {data.get('path', '')}"
    parts = ["<h2>How much of this data a model can learn without reading it</h2>",
             f"<p>{result.get('n_pairs', '—')} pairs on {result.get('n_prompts', '—')} prompts"
             + (f"; {result['n_ties_skipped']} ties skipped" if result.get("n_ties_skipped") else "") + ".</p>",
             _shallow(result),
             "<table class='data'><thead><tr><th>feature</th><th>AUC (direction-free)</th><th>95% CI</th>"
             "<th>chosen has more</th><th>chosen has less</th></tr></thead><tbody>",
             _feature_rows(result.get("features") or {}), "</tbody></table>"]
    families = result.get("families") or {}
    if families:
        parts.append("<h2>Synthetic families</h2><table class='data'><thead><tr><th>family</th><th>pairs</th>"
                     "<th>shallow AUC</th><th>95% CI</th></tr></thead><tbody>")
        for fam, block in families.items():
            s = block.get("shallow") or {}
            parts.append(f"<tr><td>{escape(fam)}{_flag(s.get('auc_ci'))}</td><td class='num'>"
                         f"{block.get('n_pairs', '—')}</td><td class='num'>{escape(block.get('skipped') or _f(s.get('auc')))}"
                         f"</td><td class='num'>{_ci(s.get('auc_ci'))}</td></tr>")
        parts.append("</tbody></table>")
    method = result.get("method") or {}
    parts.append("<h2>Method</h2><ul>" + "".join(f"<li><b>{escape(k)}</b>: {escape(str(v))}</li>"
                                              for k, v in method.items()) + "</ul>")
    body = "".join(parts)
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><meta name='viewport' "
            f"content='width=device-width, initial-scale=1'><title>{escape(title)}</title><style>{_asset('style.css')}"
            f"</style></head><body><header class='top'><div class='wrap'><h1>{escape(title)}</h1><p class='sub'>"
            f"AUC 0.5 = the feature says nothing about which side is preferred; above {SHORTCUT_AUC} with its CI = "
            f"a shortcut</p></div></header><div class='wrap'><section class='card'>{body}</section></div></body></html>")
