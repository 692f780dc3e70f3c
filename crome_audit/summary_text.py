"""The terminal summary of one results.json: indices with CIs beside the length and noise references, then a
probe table with headers (rates beside their chance level; "—" where a number does not exist).

    from crome_audit.summary_text import scoring_notes, summary_lines
    print("\\n".join(summary_lines(results)))
    for line in scoring_notes(results): print(line, file=sys.stderr)   # truncation, all-from-cache served runs

No torch; plain strings.
"""

from __future__ import annotations

import math


def _num(v, spec: str = ".3f") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    return format(v, spec)


def _ci(ci, spec: str = ".3f") -> str:
    if not isinstance(ci, (list, tuple)) or len(ci) != 2 or None in ci:
        return ""
    return f" [{format(ci[0], spec)}, {format(ci[1], spec)}]"


VERDICT_GROUPS = (("spurious", "sensitive", "sensitive to"), ("spurious", "inconclusive", "inconclusive on"),
                  ("spurious", "robust", "robust to"), ("causal", "detects", "detects"),
                  ("causal", "blind", "blind to"), ("causal", "inverted", "inverted on"),
                  ("causal", "inconclusive", "inconclusive on"))


def verdict_groups(summary: dict) -> list[tuple[str, str, str, list[str]]]:
    """(kind, verdict, words, attribute names) for every verdict some attribute has, in VERDICT_GROUPS order."""
    out = []
    for kind, verdict, words in VERDICT_GROUPS:
        attrs = summary.get(f"{kind}_attributes")
        attrs = attrs if isinstance(attrs, dict) else {}
        names = [a for a, v in attrs.items() if isinstance(v, dict) and v.get("verdict") == verdict]
        if names:
            out.append((kind, verdict, words, names))
    return out


def verdict_sentence(summary: dict, label=str) -> str:
    """'sensitive to length, formatting; robust to emoji; detects factuality; ...' from the attribute verdicts
    (``label`` names an attribute: the report writes them with spaces)."""
    return "; ".join(f"{words} {', '.join(label(a) for a in names)}"
                     + (" (content)" if kind == "causal" and verdict == "inconclusive" else "")
                     for kind, verdict, words, names in verdict_groups(summary))


def verdict_lines(summary: dict) -> list[str]:
    """One line per attribute: verdict, effect [CI], Holm p, MDE (or the prompts an inconclusive one needs)."""
    out = []
    for kind, unit in (("spurious", "effect (D units)"), ("causal", "2·detect − 1")):
        attrs = summary.get(f"{kind}_attributes")
        if not isinstance(attrs, dict) or not attrs:
            continue
        out.append(f"  {kind + ' attribute':<22}{'verdict':<14}{unit + ' [95% CI]':<30}{'Holm p':>8}{'MDE':>8}")
        for name, a in attrs.items():
            if not isinstance(a, dict):
                continue
            v = a.get("effect") if kind == "spurious" else a.get("value")
            ci = a.get("effect_ci") if kind == "spurious" else a.get("ci")
            eff = f"{_num(v, '+.3f')}{_ci(ci, '+.3f')}" if v is not None else "— (no reliable unit D)"
            tail = f"  needs ~{a['n_needed']} prompts" if a.get("verdict") == "inconclusive" and a.get("n_needed") else ""
            out.append(f"  {name:<22}{str(a.get('verdict', '—')):<14}{eff:<30}{_num(a.get('p_value'), '.2g'):>8}"
                       f"{_num(a.get('mde'), '.3f'):>8}{tail}")
    return out


def scoring_notes(results: dict) -> list[str]:
    """What every run that scored says on the terminal besides its numbers: how many texts were cut to the max
    length (``rm.info.n_truncated``), and a warning when a served RM or judge answered nothing because every
    score or reply came from a cache (a server that now serves other weights under the same name and URL
    would go unnoticed)."""
    info = (results.get("rm") or {}).get("info") or {}
    engine = results.get("engine") or {}
    lines = []
    n_cut = info.get("n_truncated")
    if isinstance(n_cut, int) and n_cut > 0:
        fmt = info.get("formatting") or {}
        side = {"left": "the start dropped", "right": "the end dropped"}.get(fmt.get("truncation"), "cut")
        of = f" of {engine['unique']}" if isinstance(engine.get("unique"), int) and engine["unique"] else ""
        lines.append(f"truncated {n_cut}{of} texts to {fmt.get('max_length', '?')} tokens ({side}; --max-length "
                     "sets the limit, default: the model's context length)")
    server = info.get("url") or info.get("server")
    if server:
        generator = info.get("generator") or {}
        if "cache_hits" in generator:  # a judge: replies are cached per request by the generator
            all_cached = generator.get("requests") == 0 and generator["cache_hits"] > 0
            fix = "--rm-arg cache=false asks it again"
        else:
            all_cached = engine.get("scored") == 0 and (engine.get("cache_hits") or 0) > 0
            fix = "--no-cache asks it again"
        if all_cached:
            from .secrets import redact_url

            lines.append(f"WARNING every score came from the cache: the server at {redact_url(server)} was asked nothing, so a "
                         f"change of the weights it serves under the same name would go unnoticed ({fix})")
    return lines


def summary_lines(results: dict) -> list[str]:
    s = results.get("summary") or {}
    ref = results.get("reference") or {}
    refs = {name: (ref.get(name) or {}).get("summary") or {} for name in ("length", "noise")}
    probes = results.get("probes") or []
    ran = [p for p in probes if p.get("n")]
    lines = []
    for key, note in (("spurious", "style share: 0 = ignores style, 0.5 = style moves it as much as a real "
                                   "degradation, 1 = only style; lower = more robust"),
                      ("causal", "0 = blind to quality, 1 = perfect")):
        r = "  ".join(f"{name} {_num(rs.get(f'{key}_index'))}" for name, rs in refs.items() if rs)
        lines.append(f"{key + ' index':<15}{_num(s.get(f'{key}_index'))}{_ci(s.get(f'{key}_index_ci'))}"
                     + (f"   (references: {r}; {note})" if r else f"   ({note})"))
    clean = results.get("clean") or {}
    if clean.get("pairwise_accuracy") is not None:
        lines.append(f"{'clean accuracy':<15}{_num(clean['pairwise_accuracy'])}{_ci(clean.get('pairwise_accuracy_ci'))}"
                     "   (chance 0.5)")
    excluded = s.get("excluded") or {}
    n_data = (results.get("data") or {}).get("n")
    lines.append(f"{len(ran)} of {len(probes)} probes changed at least one text; {n_data} {(results.get('data') or {}).get('kind', 'records')}"
                 + (f"; left out of the indices: {', '.join(f'{k} ({v})' for k, v in excluded.items())}" if excluded else ""))
    drop = s.get("substance_drop") or {}
    if isinstance(drop, dict) and drop.get("value") is not None and drop.get("in_margin_sd") is not None:
        sd = "clean-margin SDs" if (results.get("clean") or {}).get("n_pairs") else "clean-reward SDs"
        lines.append(f"{'unit D':<15}a real degradation lowers the reward by {_num(drop.get('in_margin_sd'), '.2f')} "
                     f"{sd}" + ("" if drop.get("reliable") else " (CI reaches 0: no reliable unit)"))
    if s.get("spurious_index_note"):
        lines.append(f"note: {s['spurious_index_note']}")
    deg = s.get("degenerate") or {}
    if deg.get("flagged"):
        lines.append("WARNING degenerate RM: " + "; ".join(deg.get("reasons") or []))
    lines += verdict_lines(s)
    header = f"  {'kind':<9}{'probe':<22}{'n':>6}  {'bias (effect) [95% CI]':<28}{'instability':>12}  rate (chance)"
    lines.append(header)
    for p in probes:
        eff = f"{_num(p.get('effect_size'), '+.3f')}{_ci([p.get('ci_low'), p.get('ci_high')], '+.3f')}"
        if p.get("kind") == "causal":
            rate = f"detect {_num(p.get('detection_rate'), '.2f')} (0.50)"
        else:
            rate = f"hack {_num(p.get('hack_rate'), '.2f')} (0.33)"
        flag = f"  [{p['excluded_reason']}]" if p.get("excluded_reason") else ""
        lines.append(f"  {p.get('kind', ''):<9}{p.get('name', ''):<22}{p.get('n', 0):>6}  {eff:<28}"
                     f"{_num(p.get('instability')):>12}  {rate}{flag}")
    return lines
