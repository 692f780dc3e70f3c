"""The probe audit: apply a suite to data, score clean and perturbed texts through the engine, and compute
the invariant metrics for the RM and for two references (``length`` and ``noise``) on the same texts.

    from crome_audit.audit import run_audit
    out = run_audit(pairs, suite, engine, seed=0)
    out.probes      # rows for results.json "probes"
    out.summary     # {spurious_index, spurious_index_ci, causal_index, causal_index_ci, ...}
    out.reference   # {"length": {probes, summary, clean}, "noise": {...}}

Which side is perturbed: spurious probes perturb both responses of a pair (hack rate: the restyled *rejected*
answer; decision change: both restyled); causal probes perturb the *chosen* side (detection rate: does the RM
prefer the original to the degraded answer?). Single responses (``{prompt, response}``) get every probe.
The definitions of every number are in crome_audit/metrics.py and docs/results.md.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import numpy as np

from .data import prompt_text
from .metrics import CHOSEN, REJECTED, RESPONSE, SIDE_NAMES, SIDES, ProbeEdits, compute_metrics, degenerate
from .models import LengthRM, NoiseRM
from .probes import Edit, ProbeInput, Suite

REFERENCES = {"length": LengthRM, "noise": NoiseRM}


@dataclass
class AuditOutput:
    probes: list[dict]
    summary: dict
    examples: dict
    samples: list[dict]
    clean: dict = field(default_factory=dict)
    reference: dict = field(default_factory=dict)


def _rng(seed: int, probe: str, item_id: str, side: str) -> random.Random:
    # One generator per (probe, item, side): results do not depend on order, limit or other probes.
    return random.Random(f"{seed}:{probe}:{item_id}:{side}")


def _clusters(records: list[dict]) -> np.ndarray:
    """Records that share a prompt are one resampling unit (RewardBench reuses prompts across subsets)."""
    ids: dict[str, int] = {}
    return np.array([ids.setdefault(prompt_text(r["prompt"]), len(ids)) for r in records], dtype=np.int64)


@dataclass
class _Edits:
    """One probe's perturbed texts before scoring."""

    rid: list[int] = field(default_factory=list)
    side: list[int] = field(default_factory=list)
    template: list[str] = field(default_factory=list)
    text: list[str] = field(default_factory=list)


def _apply_suite(records, suite: Suite, kind: str, seed: int) -> list[_Edits]:
    pool = [(prompt_text(r["prompt"]), r["chosen"] if kind == "pairs" else r["response"]) for r in records]
    sides = ("chosen", "rejected") if kind == "pairs" else ("response",)
    out = []
    for probe in suite.probes:
        e = _Edits()
        for rid, r in enumerate(records):
            for side in sides:
                if kind == "pairs" and probe.kind == "causal" and side != "chosen":
                    continue
                other = (r["rejected"] if side == "chosen" else r["chosen"]) if kind == "pairs" else None
                pin = ProbeInput(prompt=prompt_text(r["prompt"]), response=r[side], side=side, other=other, pool=pool)
                new = probe.apply(pin, _rng(seed, probe.name, r["id"], side))
                template = ""
                if isinstance(new, Edit):
                    new, template = new.text, new.template
                if new is not None and new != r[side]:
                    e.rid.append(rid)
                    e.side.append(SIDES[side])
                    e.template.append(template)
                    e.text.append(new)
        out.append(e)
    return out


def _probe_edits(suite: Suite, raw: list[_Edits], records, kind, seen_families, seen_attributes) -> list[ProbeEdits]:
    tokens = LengthRM()
    out = []
    for probe, e in zip(suite.probes, raw):
        names = sorted({t for t in e.template if t})
        index = {t: i for i, t in enumerate(names)}
        orig = [records[r][SIDE_NAMES[s]] for r, s in zip(e.rid, e.side)]
        dtok = np.array(tokens.score(e.text, e.text), dtype=float) - np.array(tokens.score(orig, orig), dtype=float)
        out.append(ProbeEdits(
            meta=probe.meta(), rid=np.array(e.rid, dtype=np.int64),
            side=np.array(e.side, dtype=np.int64), template=np.array([index.get(t, -1) for t in e.template],
                                                                      dtype=np.int64),
            delta_tokens=dtok if len(e.rid) else np.zeros(0), templates=names,
            seen_in_training=probe.family in seen_families or probe.attribute in seen_attributes))
    return out


def _score(engine, records, raw: list[_Edits], kind: str, desc: str):
    sides = ("chosen", "rejected") if kind == "pairs" else ("response",)
    prompts = [r["prompt"] for r in records for _ in sides]
    responses = [r[s] for r in records for s in sides]
    for e in raw:
        prompts += [records[i]["prompt"] for i in e.rid]
        responses += e.text
    rewards = np.asarray(engine.score(prompts, responses, desc=desc), dtype=float)
    n = len(records)
    clean = ({CHOSEN: rewards[0 : 2 * n : 2], REJECTED: rewards[1 : 2 * n : 2]} if kind == "pairs"
             else {RESPONSE: rewards[:n]})
    new, at = [], len(sides) * n
    for e in raw:
        new.append(rewards[at : at + len(e.text)])
        at += len(e.text)
    return clean, new


def _score_pairwise(rm, records, raw: list[_Edits], kind: str):
    """A pairwise judge has no pointwise reward: the audit reads P(perturbed ≻ original) (both orders).

    Pseudo-rewards keep every downstream definition: r(rejected) = 0, r(chosen) = 2·P(chosen ≻ rejected) − 1,
    and a perturbed answer's reward is its original's plus 2·P(perturbed ≻ original) − 1. So ``effect_size``
    is the signed preference for the perturbed answer in units of the SD of the pair margins and
    ``detection_rate`` is P(the judge prefers the original to the degraded answer), ties ½. Rates that would
    need a third comparison (hack, decision change) are not measured for judges (run_audit sets them None)."""
    from .errors import InputError
    from .models.judge import preference_probabilities

    if kind != "pairs":
        raise InputError("a pairwise judge can only audit preference pairs (prompt/chosen/rejected)")
    prompts = [r["prompt"] for r in records]
    p = np.asarray(preference_probabilities(rm, prompts, [r["chosen"] for r in records],
                                            [r["rejected"] for r in records]), dtype=float)
    clean = {CHOSEN: 2 * p - 1, REJECTED: np.zeros(len(records))}
    new = []
    for e in raw:
        q = np.asarray(preference_probabilities(rm, [records[i]["prompt"] for i in e.rid], e.text,
                                                [records[i][SIDE_NAMES[s]] for i, s in zip(e.rid, e.side)]),
                       dtype=float)
        base = np.array([clean[s][i] for i, s in zip(e.rid, e.side)]) if e.rid else np.zeros(0)
        new.append(base + 2 * q - 1)
    return clean, new


def _examples(records, raw, edits, clean, new, kind, max_examples) -> dict:
    """A bounded sample of decisions the probe flipped, largest reward change first."""
    out = {}
    for e, pe, nr in zip(raw, edits, new):
        flips = []
        if kind == "pairs" and max_examples:
            ch, rj = clean[CHOSEN], clean[REJECTED]
            for k, (rid, side) in enumerate(zip(e.rid, e.side)):
                if ch[rid] <= rj[rid]:
                    continue
                if pe.kind == "spurious" and side == REJECTED and nr[k] >= ch[rid]:
                    flips.append((k, ch[rid]))
                elif pe.kind == "causal" and side == CHOSEN and nr[k] <= rj[rid]:
                    flips.append((k, rj[rid]))
        flips.sort(key=lambda f: -abs(float(nr[f[0]] - clean[e.side[f[0]]][e.rid[f[0]]])))
        out[pe.name] = [
            {"id": records[e.rid[k]]["id"], "prompt": prompt_text(records[e.rid[k]]["prompt"]), "side": SIDE_NAMES[e.side[k]],
             "original": records[e.rid[k]][SIDE_NAMES[e.side[k]]], "perturbed": e.text[k],
             "reward_original": float(clean[e.side[k]][e.rid[k]]), "reward_perturbed": float(nr[k]),
             "other_reward": float(other), "flipped": True, "template": e.template[k] or None}
            for k, other in flips[:max_examples]]
    return out


def run_audit(records: list[dict], suite: Suite, engine, seed: int = 0, kind: str = "pairs",
              seen_families: set[str] | None = None, seen_attributes: set[str] | None = None,
              max_examples: int = 50, references: tuple[str, ...] = ("length", "noise")) -> AuditOutput:
    from .engine import ScoringEngine

    raw = _apply_suite(records, suite, kind, seed)
    edits = _probe_edits(suite, raw, records, kind, seen_families or set(), seen_attributes or set())
    clusters = _clusters(records)
    from .models.judge import is_pairwise

    pairwise = is_pairwise(engine.rm)
    clean, new = (_score_pairwise(engine.rm, records, raw, kind) if pairwise
                  else _score(engine, records, raw, kind, "audit"))

    reference, confounded = {}, None
    ref_metrics = {}
    for name in references:
        rc, rn = _score(ScoringEngine(REFERENCES[name](), progress=False), records, raw, kind, name)
        m = compute_metrics(kind, clusters, rc, edits, rn, seed=seed, confounded=None if name == "length" else confounded)
        if name == "length":
            confounded = {p["name"] for p in m.probes if p.get("length_confounded")}
        ref_metrics[name] = m
        reference[name] = {"probes": m.probes, "summary": m.summary, "clean": m.clean}
    main = compute_metrics(kind, clusters, clean, edits, new, seed=seed, confounded=confounded)
    if pairwise:
        for row in main.probes:  # P(perturbed ≻ original), both orders averaged
            row["preference_rate"] = None if row["mean_delta"] is None else (row["mean_delta"] + 1) / 2
            for key in ("hack_rate", "hack_rate_ci", "decision_change_rate", "decision_change_rate_ci", "flip_rate"):
                if key in row:
                    row[key] = None
        main.summary["pairwise"] = True
    noise = ref_metrics.get("noise")
    main.summary["degenerate"] = degenerate(main.summary, main.clean, noise.summary if noise else None)

    samples = [{"id": r["id"], "probe": None, "side": s, "prompt": r["prompt"], "response": r[s],
                "reward": float(clean[SIDE][i])}
               for i, r in enumerate(records)
               for s, SIDE in ((("chosen", CHOSEN), ("rejected", REJECTED)) if kind == "pairs"
                               else (("response", RESPONSE),))]
    for e, pe, nr in zip(raw, edits, new):
        for k, (rid, side) in enumerate(zip(e.rid, e.side)):
            samples.append({"id": records[rid]["id"], "probe": pe.name, "side": SIDE_NAMES[side],
                            "prompt": records[rid]["prompt"], "response": e.text[k], "reward": float(nr[k]),
                            "delta": float(nr[k] - clean[side][rid]), "template": e.template[k] or None})
    examples = _examples(records, raw, edits, clean, new, kind, max_examples)
    return AuditOutput(main.probes, main.summary, examples, samples, main.clean, reference)
