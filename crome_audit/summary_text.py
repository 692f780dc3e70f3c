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
    for key, note in (("spurious", "lower = more robust; 0 = ignores style"),
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
    deg = s.get("degenerate") or {}
    if deg.get("flagged"):
        lines.append("WARNING degenerate RM: " + "; ".join(deg.get("reasons") or []))
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
