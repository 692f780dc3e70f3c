"""The report's first screen in words: differences between RMs with CIs, stars only where CIs separate.

Difference CIs. The runs carry no joint bootstrap of two RMs, so the CI of ``a − b`` is combined from the two
runs' own 95% CIs (the MOVER rule of Zou & Donner 2008, which keeps asymmetric CIs asymmetric):

    low  = (a − b) − sqrt((a − a_low)² + (b_high − b)²)
    high = (a − b) + sqrt((a_high − a)² + (b − b_low)²)

This treats the two estimates as independent. Audits of two RMs on the same prompts are positively
correlated, so the true CI of the difference is narrower: this one is conservative (it may miss a real
difference, it does not invent one). A difference "separates" when its CI excludes 0.

    from crome_audit.report.verdict import verdict_sentences, diff_ci, starred
    verdict_sentences(align([bt, crome]))    # [{"text", "detail", "kind": "diff"|"same"|"flag"|"info"|"verdict"}]

Plain data; no plotly, no torch.
"""

from __future__ import annotations

import math

from ..summary_text import verdict_groups, verdict_sentence
from .compare import Comparison, Run, interval, num

TOP_SPURIOUS = 3  # attribute sentences per pair of RMs
TOP_CAUSAL = 2


def diff_ci(a, a_ci, b, b_ci) -> tuple[float | None, tuple | None]:
    """(a − b, its conservative 95% CI, or None when either CI is missing)."""
    a, b = num(a), num(b)
    if a is None or b is None:
        return None, None
    d = a - b
    if not a_ci or not b_ci:
        return d, None
    lo = d - math.sqrt((a - a_ci[0]) ** 2 + (b_ci[1] - b) ** 2)
    hi = d + math.sqrt((a_ci[1] - a) ** 2 + (b - b_ci[0]) ** 2)
    return d, (lo, hi)


def separated(ci) -> int:
    """+1 when the difference CI lies above 0, -1 below, 0 when it covers 0 (or there is none)."""
    if not ci:
        return 0
    return 1 if ci[0] > 0 else -1 if ci[1] < 0 else 0


def starred(entries: list[tuple[str, float | None, tuple | None]], better: str) -> set:
    """Keys of the entries (key, value, CI) that beat every other entry with CIs separated; at most one, and
    only when two or more entries have a value and a CI."""
    have = [(k, v, ci) for k, v, ci in entries if v is not None and ci is not None and ci[0] != ci[1]]
    if len(have) < 2:
        return set()
    want = -1 if better == "low" else 1
    for k, v, ci in have:
        if all(separated(diff_ci(v, ci, ov, oci)[1]) == want for ok, ov, oci in have if ok != k):
            return {k}
    return set()


def fmt_ci(ci, signed=False, pct=False) -> str:
    if not ci:
        return ""
    f = _pct if pct else (lambda x: f"{x:+.3f}") if signed else (lambda x: f"{x:.3f}")
    return f"[{f(ci[0])}, {f(ci[1])}]"


def _pct(x) -> str:
    return f"{100 * x:.1f}%"


def _num(v, ci, signed=False) -> str:
    s = f"{v:+.3f}" if signed else f"{v:.3f}"
    return f"{s} {fmt_ci(ci, signed)}" if ci else s


def _relative(a, b, d) -> str:
    """'61% less than' / '40% more than' / '3.2× as much as' / 'far more than' for a vs b (both >= 0)."""
    if b is None or a is None or abs(b) < 1e-9:
        return "more than" if d > 0 else "less than"
    r = a / b
    if r < 1:
        return f"{100 * (1 - r):.0f}% less than"
    if r <= 2:
        return f"{100 * (r - 1):.0f}% more than"
    return f"{r:.1f}× as much as" if r <= 20 else "far more than"


def _s(kind: str, text: str, detail: str = "") -> dict:
    return {"kind": kind, "text": text, "detail": detail}


def _attr_label(attr: str) -> str:
    return attr.replace("_", " ")


def _pair_sentences(x: Run, base: Run, attrs: dict) -> list[dict]:
    out = []
    # spurious index: lower is better
    (a, aci), (b, bci) = x.index("spurious"), base.index("spurious")
    d, dci = diff_ci(a, aci, b, bci)
    if d is not None:
        sep = separated(dci)
        detail = (f"spurious index {_num(a, aci)} vs {_num(b, bci)}; difference "
                  f"{_num(d, dci, signed=True)}" + ("" if dci else ", no CI"))
        if sep:
            out.append(_s("diff", f"{x.label} moves {_relative(a, b, d)} {base.label} under style edits overall",
                          detail))
        else:
            out.append(_s("same", f"No difference in how much style moves {x.label} and {base.label} overall",
                          detail))
    (a, aci), (b, bci) = x.index("causal"), base.index("causal")
    d, dci = diff_ci(a, aci, b, bci)
    if d is not None:
        sep = separated(dci)
        detail = (f"causal index {_num(a, aci, True)} vs {_num(b, bci, True)}; difference "
                  f"{_num(d, dci, signed=True)}" + ("" if dci else ", no CI"))
        if sep:
            word = "more" if sep > 0 else "less"
            out.append(_s("diff", f"{x.label} tells intact from broken content {word} often than {base.label}",
                          detail))
        else:
            out.append(_s("same", f"No difference between {x.label} and {base.label} in noticing broken content",
                          detail))
    for kind, top in (("spurious", TOP_SPURIOUS), ("causal", TOP_CAUSAL)):
        found, same = [], []
        for attr in attrs.get(kind, []):
            (a, aci), (b, bci) = x.attribute(kind, attr), base.attribute(kind, attr)
            d, dci = diff_ci(a, aci, b, bci)
            if d is None:
                continue
            if separated(dci):
                size = abs(d) / max(abs(b), 1e-9) if kind == "spurious" else abs(d)
                found.append((size, attr, a, aci, b, bci, d, dci))
            else:
                same.append(_attr_label(attr))
        found.sort(key=lambda t: (-t[0], t[1]))
        for _, attr, a, aci, b, bci, d, dci in found[:top]:
            if kind == "spurious":
                out.append(_s("diff", f"{x.label} moves {_relative(a, b, d)} {base.label} under {_attr_label(attr)} "
                              "edits",
                              f"style share {_num(a, aci)} vs {_num(b, bci)}; difference {_num(d, dci, True)}"))
            else:
                word = "more" if d > 0 else "less"
                out.append(_s("diff", f"{x.label} detects {_attr_label(attr)} errors {word} often than {base.label}",
                              f"2·detection − 1 {_num(a, aci, True)} vs {_num(b, bci, True)}; "
                              f"difference {_num(d, dci, True)}"))
        rest = [_attr_label(t[1]) for t in found[top:]]
        if same:
            what = "style attribute" if kind == "spurious" else "content attribute"
            out.append(_s("same", f"No difference between {x.label} and {base.label} on "
                                  f"{what}{'s' if len(same) > 1 else ''} {', '.join(same)}"))
        if rest:
            out.append(_s("info", f"Also different ({kind}): {', '.join(rest)}", "see the charts"))
    return out


def _single(run: Run, refs: dict) -> list[dict]:
    parts = []
    for kind, name in (("spurious", "spurious index"), ("causal", "causal index")):
        v, ci = run.index(kind)
        if v is None:
            continue
        ref_txt = []
        for rk, ref in refs.items():
            rv, rci = ref.index(kind)
            if rv is not None:
                d, dci = diff_ci(v, ci, rv, rci)
                sep = separated(dci)
                where = "above" if sep > 0 else "below" if sep < 0 else "not distinguishable from"
                ref_txt.append(f"{where} the {rk} reference {rv:.3f}")
        parts.append(f"{name} {_num(v, ci, kind == 'causal')}" + (f" ({', '.join(ref_txt)})" if ref_txt else ""))
    if not parts:
        return []
    return [_s("info", f"{run.label}: " + "; ".join(parts))]


def attribute_verdicts(run: Run) -> list[dict]:
    """One sentence per RM: its attributes grouped by verdict, worded as the terminal words them
    (summary_text.verdict_sentence), with the effect, its CI and the Holm-adjusted p for sensitive ones and the
    prompts needed for inconclusive ones."""
    text = verdict_sentence(run.summary, _attr_label)
    if not text:
        return []
    details = []
    for kind, verdict, _, names in verdict_groups(run.summary):
        for a in names:
            rec = run.summary[f"{kind}_attributes"][a]
            if verdict == "sensitive" and num(rec.get("effect")) is not None:
                p = num(rec.get("p_value"))
                probe = f" ({rec['effect_probe']})" if isinstance(rec.get("effect_probe"), str) else ""
                details.append(f"{_attr_label(a)}{probe} effect "
                               f"{_num(num(rec['effect']), interval(rec.get('effect_ci')), True)}"
                               + (f", Holm p {p:.2g}" if p is not None else ""))
            elif verdict == "inconclusive" and rec.get("n_needed"):
                details.append(f"{_attr_label(a)}: about {rec['n_needed']} prompts needed")
    return [_s("verdict", f"{run.label}: {text}", "; ".join(details))]


def verdict_sentences(cmp: Comparison) -> list[dict]:
    """Sentences for the first screen: degenerate flags first, then each later RM against the first one
    (the order of the ``report`` command's arguments: put the baseline RM first)."""
    out = []
    for r in cmp.probe_runs:
        if r.degenerate and not r.is_reference:
            out.append(_s("flag", f"{r.label} is flagged degenerate: its numbers do not measure robustness; it is "
                                  "never starred and left out of the comparisons", "; ".join(r.degenerate)))
    rated = cmp.rated_runs
    for r in cmp.probe_runs:  # every RM's own verdicts, flagged ones too (the terminal prints them as well)
        if not r.is_reference:
            out += attribute_verdicts(r)
    attrs = {"spurious": [], "causal": []}
    for n in cmp.shared_probes:
        m = cmp.probe_meta[n]
        if m["kind"] in attrs and m["attribute"] not in attrs[m["kind"]]:
            attrs[m["kind"]].append(m["attribute"])
    if len(rated) >= 2:
        base = rated[0]
        for x in rated[1:]:
            out += _pair_sentences(x, base, attrs)
    else:
        for r in rated:
            out += _single(r, cmp.references)
    flagged = [r for r in cmp.probe_runs if r.degenerate and not r.is_reference]
    if len(cmp.probe_runs) >= 2 and len(rated) < 2 and flagged:
        out.append(_s("info", "No comparison between the RMs: " + (
            "every one is flagged degenerate" if not rated else "fewer than two are usable (not degenerate)"),
            "a difference between RMs that measure nothing would be noise"))
    return out
