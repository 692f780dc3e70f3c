"""From scored probe edits to the audit's numbers: per-probe records, the two indices, the degenerate-RM flag.

    from crome_audit.metrics import ProbeEdits, compute_metrics
    out = compute_metrics("pairs", clusters, clean, edits, new_rewards, seed=0)
    out.probes, out.summary, out.clean

Definitions (docs/results.md is the reference): with margins ``m = r(chosen) − r(rejected)`` over the clean
pairs and ``σ_m`` their SD, a probe's ``effect_size`` is mean Δ / σ_m (signed bias), ``instability`` is
mean |Δ| / σ_m; spurious probes also get ``hack_rate`` (a restyled rejected answer beats the chosen one) and
``decision_change_rate`` (both restyled, the order changes); causal probes get ``detection_rate``
P(r(original) > r(degraded)). Ties count ½ in every rate. All of these are unchanged by r → a·r + b (a > 0)
and by r → r + f(prompt). ``spurious_index`` = mean over attributes of instability; ``causal_index`` = mean
over attributes of 2·detection − 1, leaving out probes the length RM can detect (``length_confounded``).
CIs come from one joint bootstrap over prompts and templates (stats.Resampler). No torch here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .stats import (
    DECISION_CHANCE,
    DETECTION_CHANCE,
    HACK_CHANCE,
    MIN_CLUSTERS,
    Resampler,
    Units,
    cluster_wilcoxon_p,
    decision_change,
    holm,
    mean_of,
    percentile_ci,
    single_threaded_blas,
    tie_credit,
    weighted_sd,
)

CHOSEN, REJECTED, RESPONSE = 0, 1, 2
SIDE_NAMES = ("chosen", "rejected", "response")  # index = side code
SIDES = {name: code for code, name in enumerate(SIDE_NAMES)}
LENGTH_PROBE = "length_filler"


@dataclass
class ProbeEdits:
    """Every edit one probe made: which record and side, which template, and the change in tokens."""

    meta: dict  # name, attribute, kind, family, description, params
    rid: np.ndarray
    side: np.ndarray
    template: np.ndarray  # index into templates, -1 = not template-based
    delta_tokens: np.ndarray
    templates: list[str] = field(default_factory=list)
    seen_in_training: bool = False

    @property
    def name(self) -> str:
        return self.meta["name"]

    @property
    def kind(self) -> str:
        return self.meta["kind"]


@dataclass
class Metrics:
    probes: list[dict]
    summary: dict
    clean: dict
    boot: dict  # probe name -> {"instability": replicates, "detection": replicates} (for joint indices)


def _ci(boot) -> list[float] | None:
    return percentile_ci(boot)


def _div(a, b):
    if a is None or b is None or not b or not math.isfinite(b):
        return None
    return a / b


def _clean_stats(kind: str, clusters: np.ndarray, clean: dict, rs: Resampler) -> tuple[dict, float | None, np.ndarray]:
    if kind == "pairs":
        ch, rj = clean[CHOSEN], clean[REJECTED]
        margins = Units(ch - rj, clusters)
        sigma, sigma_boot = weighted_sd(rs, margins)
        acc, acc_boot = rs.ratio(margins.with_values(tie_credit(ch, rj)))
        allr = np.concatenate([ch, rj])
        stats = {"n_responses": int(allr.size), "n_pairs": int(ch.size), "scale_basis": "margin_std",
                 "margin_std": sigma, "pairwise_accuracy": acc, "pairwise_accuracy_ci": _ci(acc_boot)}
    else:
        allr = clean[RESPONSE]
        sigma, sigma_boot = weighted_sd(rs, Units(allr, clusters))
        stats = {"n_responses": int(allr.size), "scale_basis": "reward_std"}
    stats["reward_mean"] = float(allr.mean()) if allr.size else None
    stats["reward_std"] = float(allr.std(ddof=1)) if allr.size > 1 else None
    if sigma is not None and not sigma > 0:
        sigma = None
    return stats, sigma, sigma_boot


def _probe_row(pe: ProbeEdits, kind: str, clusters, clean, base, new, sigma, sigma_boot,
               rs: Resampler) -> tuple[dict, dict]:
    delta = new - base
    cl = clusters[pe.rid] if pe.rid.size else np.zeros(0, dtype=np.int64)
    tw = rs.template_weights(pe.name, len(pe.templates))
    units = Units(delta, cl, pe.template)
    row = {**pe.meta, "seen_in_training": pe.seen_in_training, "n": int(delta.size),
           "n_clusters": int(np.unique(cl).size), "n_templates": len(pe.templates)}
    row["insufficient_n"] = row["n_clusters"] < MIN_CLUSTERS
    mean_d, boot_d = rs.ratio(units, tw)
    mean_a, boot_a = rs.ratio(units.with_values(np.abs(delta)), tw)
    with np.errstate(invalid="ignore", divide="ignore"):
        eff_boot, inst_boot = boot_d / sigma_boot, boot_a / sigma_boot
    row.update(mean_delta=mean_d, effect_size=_div(mean_d, sigma), instability=_div(mean_a, sigma))
    eci, ici = (_ci(eff_boot), _ci(inst_boot)) if sigma else (None, None)
    row.update(ci_low=eci[0] if eci else None, ci_high=eci[1] if eci else None, instability_ci=ici)
    row["mean_delta_tokens"] = float(pe.delta_tokens.mean()) if pe.delta_tokens.size else None
    row["p_value_raw"] = cluster_wilcoxon_p(delta, cl)
    row["flip_rate"] = None
    boots = {"instability": inst_boot if sigma else np.full(rs.n_boot, np.nan)}
    if pe.kind == "spurious":
        row.update(hack_rate=None, hack_rate_ci=None, hack_rate_chance=HACK_CHANCE, decision_change_rate=None,
                   decision_change_rate_ci=None, decision_change_rate_chance=DECISION_CHANCE)
        if kind == "pairs":
            ch, rj = clean[CHOSEN], clean[REJECTED]
            rej = (pe.side == REJECTED) & ((ch - rj)[pe.rid] > 0)
            if rej.any():
                hack = units.subset(rej).with_values(tie_credit(new[rej], ch[pe.rid[rej]]))
                v, b = rs.ratio(hack, tw)
                row.update(hack_rate=v, hack_rate_ci=_ci(b),
                           flip_rate=float(np.mean(new[rej] >= ch[pe.rid[rej]])))
            both = _both_sides(pe, new)
            if both is not None:
                rid, nc, nr, tc, tr = both
                dc = decision_change(ch[rid] - rj[rid], nc - nr)
                v, b = rs.ratio(Units(dc, clusters[rid], tc, tr), tw)
                row.update(decision_change_rate=v, decision_change_rate_ci=_ci(b))
    else:
        row.update(detection_rate=None, detection_rate_ci=None, detection_rate_chance=DETECTION_CHANCE,
                   length_confounded=False)
        target = CHOSEN if kind == "pairs" else RESPONSE
        sel = pe.side == target
        if sel.any():
            det = units.subset(sel).with_values(tie_credit(base[sel], new[sel]))
            v, b = rs.ratio(det, tw)
            row.update(detection_rate=v, detection_rate_ci=_ci(b))
            boots["detection"] = b
            if kind == "pairs":
                ch, rj = clean[CHOSEN], clean[REJECTED]
                ok = sel & ((ch - rj)[pe.rid] > 0)
                if ok.any():
                    row["flip_rate"] = float(np.mean(new[ok] <= rj[pe.rid[ok]]))
    if pe.templates:
        per = []
        for ti, tname in enumerate(pe.templates):
            m = pe.template == ti
            if m.any():
                per.append({"template": tname, "n": int(m.sum()), "effect_size": _div(float(delta[m].mean()), sigma),
                            "instability": _div(float(np.abs(delta[m]).mean()), sigma)})
        row["per_template"] = per
    return row, boots


def _both_sides(pe: ProbeEdits, new: np.ndarray):
    """Pairs where the probe edited both answers: (rid, new chosen, new rejected, template c, template r),
    in the order of the rejected edits (vectorised: a probe can have millions of edits)."""
    ic, ir = np.flatnonzero(pe.side == CHOSEN), np.flatnonzero(pe.side == REJECTED)
    if not ic.size or not ir.size:
        return None
    order = np.argsort(pe.rid[ic], kind="stable")
    keys = pe.rid[ic][order]
    pos = np.searchsorted(keys, pe.rid[ir], side="right") - 1  # the last chosen edit of a record, as a dict keeps
    hit = (pos >= 0) & (keys[np.maximum(pos, 0)] == pe.rid[ir])
    if not hit.any():
        return None
    ci, ri = ic[order[pos[hit]]], ir[hit]
    return pe.rid[ci], new[ci], new[ri], pe.template[ci], pe.template[ri]


def _base(pe: ProbeEdits, clean: dict) -> np.ndarray:
    """The clean reward of each edit's original response."""
    base = np.zeros(pe.rid.size)
    for s, values in clean.items():
        m = pe.side == s
        base[m] = values[pe.rid[m]]
    return base


def _length_adjust(rows: list[dict], edits: list[ProbeEdits], deltas: dict, sigma) -> None:
    """length_adjusted_effect: each spurious probe's effect minus what the RM's own length slope (fitted through
    the origin on the length probe's edits) predicts from the probe's change in tokens."""
    lp = next((pe for pe in edits if pe.name == LENGTH_PROBE), None)
    slope = None
    if lp is not None and lp.delta_tokens.size:
        d, t = deltas[LENGTH_PROBE], lp.delta_tokens.astype(float)
        if float(t @ t) > 0:
            slope = float(d @ t) / float(t @ t)
    for row in rows:
        if row["kind"] != "spurious":
            continue
        row["length_slope"] = slope
        if slope is None or row["mean_delta"] is None or row["mean_delta_tokens"] is None or not sigma:
            row["length_adjusted_effect"] = None
        else:
            row["length_adjusted_effect"] = (row["mean_delta"] - slope * row["mean_delta_tokens"]) / sigma


def _index(rows: list[dict], boots: dict, kind: str, only_heldout: bool = False):
    """(value, CI, per-attribute {value, ci, probes}) of one index from the probes that are counted."""
    key = "instability" if kind == "spurious" else "detection"
    by_attr: dict[str, list[dict]] = {}
    for r in rows:
        if r["kind"] != kind or r.get("excluded_reason") or (only_heldout and r.get("seen_in_training")):
            continue
        by_attr.setdefault(r["attribute"], []).append(r)
    attrs, attr_boots = {}, []
    for attr, members in sorted(by_attr.items()):
        if kind == "spurious":
            vals = [m["instability"] for m in members]
            b = np.mean([boots[m["name"]][key] for m in members], axis=0)
        else:
            vals = [2 * m["detection_rate"] - 1 for m in members]
            b = np.mean([2 * boots[m["name"]][key] - 1 for m in members], axis=0)
        attrs[attr] = {"value": mean_of(vals), "ci": _ci(b), "probes": [m["name"] for m in members]}
        attr_boots.append(b)
    if not attrs:
        return None, None, {}
    value = mean_of([a["value"] for a in attrs.values()])
    return value, _ci(np.mean(attr_boots, axis=0)), attrs


def compute_metrics(*args, **kwargs) -> Metrics:
    with single_threaded_blas():
        return _compute_metrics(*args, **kwargs)


def _compute_metrics(kind: str, clusters: np.ndarray, clean: dict, edits: list[ProbeEdits],
                    new_rewards: list[np.ndarray], seed: int = 0, confounded: set[str] | None = None,
                    resampler: Resampler | None = None) -> Metrics:
    """All numbers of one RM's audit. ``clean[side]`` holds the clean rewards per record for each side;
    ``new_rewards[k]`` the rewards of ``edits[k]``'s perturbed texts; ``confounded`` the causal probes the
    length reference detects (None: decide from this RM's own detection rates, as for the length RM itself).
    ``resampler``: the bootstrap weights to use (the audit shares one between the RM and its references; it
    must be ``Resampler(n_clusters, seed=seed)``, which is what is built when it is None)."""
    clusters = np.asarray(clusters, dtype=np.int64)
    n_clusters = int(clusters.max()) + 1 if clusters.size else 0
    rs = resampler if resampler is not None else Resampler(n_clusters, seed=seed)
    if rs.n_clusters != n_clusters or rs.seed != seed:
        raise ValueError(f"resampler built for {rs.n_clusters} clusters, seed {rs.seed}; "
                         f"this audit has {n_clusters}, seed {seed}")
    clean = {k: np.asarray(v, dtype=float) for k, v in clean.items()}
    clean_stats, sigma, sigma_boot = _clean_stats(kind, clusters, clean, rs)
    rows, boots, deltas = [], {}, {}
    for pe, new in zip(edits, new_rewards):
        new = np.asarray(new, dtype=float)
        base = _base(pe, clean)
        row, b = _probe_row(pe, kind, clusters, clean, base, new, sigma, sigma_boot, rs)
        rows.append(row)
        boots[pe.name] = b
        if pe.name == LENGTH_PROBE:  # the only probe whose deltas are needed again (not one array per probe)
            deltas[pe.name] = new - base
    _length_adjust(rows, edits, deltas, sigma)
    for row, p in zip(rows, holm([r["p_value_raw"] for r in rows])):
        row["p_value"] = p
    excluded = {}
    for row in rows:
        reason = None
        if row["n"] == 0:
            reason = "no_edits"
        elif row["insufficient_n"]:
            reason = "insufficient_n"
        elif sigma is None:
            reason = "no_scale"
        elif row["kind"] == "causal":
            ci = row.get("detection_rate_ci")
            own = ci is not None and not (ci[0] <= DETECTION_CHANCE <= ci[1])
            row["length_confounded"] = bool(own if confounded is None else row["name"] in confounded)
            if row["length_confounded"]:
                reason = "length_confounded"
            elif row.get("detection_rate") is None:
                reason = "no_edits"
        row["excluded_reason"] = reason
        if reason:
            excluded[row["name"]] = reason
    summary = {"excluded": excluded, "scale": sigma}
    for kind_ in ("spurious", "causal"):
        v, ci, attrs = _index(rows, boots, kind_)
        summary[f"{kind_}_index"], summary[f"{kind_}_index_ci"] = v, ci
        summary[f"{kind_}_attributes"] = attrs
        summary[f"n_{kind_}"] = len(attrs)
        if any(r.get("seen_in_training") for r in rows):
            hv, hci, _ = _index(rows, boots, kind_, only_heldout=True)
            summary[f"{kind_}_index_heldout"], summary[f"{kind_}_index_heldout_ci"] = hv, hci
    return Metrics(rows, summary, clean_stats, boots)


def _overlaps(a, b) -> bool:
    return a is not None and b is not None and a[0] <= b[1] and b[0] <= a[1]


def degenerate(summary: dict, clean: dict, noise_summary: dict | None) -> dict:
    """Flag an RM whose numbers mean nothing: constant rewards, clean accuracy within chance, or both indices
    indistinguishable from the noise reference's."""
    reasons = []
    sd, mean = clean.get("reward_std"), clean.get("reward_mean")
    if sd is None or sd <= 1e-9 * max(1.0, abs(mean or 0.0)) or (clean.get("scale_basis") == "margin_std"
                                                                   and not clean.get("margin_std")):
        reasons.append(f"constant rewards (SD {sd if sd is not None else 0:.3g})")
    acc_ci = clean.get("pairwise_accuracy_ci")
    if acc_ci is not None and acc_ci[0] <= 0.5 <= acc_ci[1]:
        reasons.append(f"clean pairwise accuracy {clean['pairwise_accuracy']:.3f} "
                       f"[{acc_ci[0]:.3f}, {acc_ci[1]:.3f}] is within chance (0.5)")
    if noise_summary is not None:
        same = [_overlaps(summary.get(f"{k}_index_ci"), noise_summary.get(f"{k}_index_ci"))
                for k in ("spurious", "causal")]
        if all(same):
            reasons.append("both indices are within the noise reference's CIs")
    return {"flagged": bool(reasons), "reasons": reasons}
