"""The probe audit: apply a suite to data, score clean and perturbed texts through the engine, and
compute per-probe statistics.

    from crome_audit.audit import run_audit
    out = run_audit(pairs, suite, engine, seed=0)
    out.probes      # rows for results.json "probes"
    out.summary     # {spurious_index, causal_index, ...}

Which side is perturbed: spurious probes perturb both responses of a pair (every delta counts) and the
flip rate looks at the perturbed *rejected* side (does style make the worse answer win?); causal probes
perturb the *chosen* side (does degrading the better answer make it lose?). Single responses
(``{prompt, response}``) get every probe, without a flip rate.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import numpy as np

from .data import prompt_text
from .probes import ProbeInput, Suite
from .stats import flip_rate, probe_statistics, summarize


@dataclass
class AuditOutput:
    probes: list[dict]
    summary: dict
    examples: dict
    samples: list[dict]
    clean: dict = field(default_factory=dict)


def _clean_items(records: list[dict], kind: str) -> list[dict]:
    items = []
    for rid, r in enumerate(records):
        sides = ("chosen", "rejected") if kind == "pairs" else ("response",)
        for side in sides:
            other = None
            if kind == "pairs":
                other = r["rejected"] if side == "chosen" else r["chosen"]
            items.append({"rid": rid, "id": r["id"], "prompt": r["prompt"], "side": side, "response": r[side], "other": other})
    return items


def _rng(seed: int, probe: str, item_id: str, side: str) -> random.Random:
    # One generator per (probe, item, side): results do not depend on order, limit or other probes.
    return random.Random(f"{seed}:{probe}:{item_id}:{side}")


def run_audit(records: list[dict], suite: Suite, engine, seed: int = 0, kind: str = "pairs",
              seen_families: set[str] | None = None, max_examples: int = 50) -> AuditOutput:
    seen_families = seen_families or set()
    clean = _clean_items(records, kind)
    pool = [(prompt_text(r["prompt"]), r["chosen"] if kind == "pairs" else r["response"]) for r in records]
    perturbed = []  # (probe index, clean index, new text)
    for pi, probe in enumerate(suite.probes):
        for ci, item in enumerate(clean):
            if kind == "pairs" and probe.kind == "causal" and item["side"] != "chosen":
                continue
            pin = ProbeInput(prompt=prompt_text(item["prompt"]), response=item["response"], side=item["side"],
                             other=item["other"], pool=pool)
            new = probe.apply(pin, _rng(seed, probe.name, item["id"], item["side"]))
            if new is not None and new != item["response"]:
                perturbed.append((pi, ci, new))

    prompts = [c["prompt"] for c in clean] + [clean[ci]["prompt"] for _, ci, _ in perturbed]
    responses = [c["response"] for c in clean] + [new for _, _, new in perturbed]
    rewards = engine.score(prompts, responses, desc="audit")
    clean_r = np.asarray(rewards[: len(clean)], dtype=float)
    pert_r = rewards[len(clean) :]
    reward_std = float(clean_r.std(ddof=1)) if len(clean_r) > 1 else 0.0
    by_key = {(c["rid"], c["side"]): clean_r[i] for i, c in enumerate(clean)}

    samples = [{"id": c["id"], "probe": None, "side": c["side"], "prompt": c["prompt"], "response": c["response"],
                "reward": float(clean_r[i])} for i, c in enumerate(clean)]
    rows, examples = [], {}
    for pi, probe in enumerate(suite.probes):
        hits = [(ci, new, pert_r[k]) for k, (p, ci, new) in enumerate(perturbed) if p == pi]
        deltas = [r - clean_r[ci] for ci, _, r in hits]
        row = {**probe.meta(), **probe_statistics(deltas, reward_std, seed=seed), "flip_rate": None,
               "seen_in_training": probe.family in seen_families}
        row.pop("params", None)
        row["params"] = probe.config
        flip_side = "rejected" if probe.kind == "spurious" else "chosen"
        flips = []
        if kind == "pairs":
            flip_hits = [(ci, new, r) for ci, new, r in hits if clean[ci]["side"] == flip_side]
            if flip_hits:
                chosen = [by_key[(clean[ci]["rid"], "chosen")] for ci, _, _ in flip_hits]
                rejected = [by_key[(clean[ci]["rid"], "rejected")] for ci, _, _ in flip_hits]
                row["flip_rate"] = flip_rate(chosen, rejected, [r for _, _, r in flip_hits], flip_side)
                for (ci, new, r), c_r, j_r in zip(flip_hits, chosen, rejected):
                    if c_r > j_r and ((r >= c_r) if flip_side == "rejected" else (r <= j_r)):
                        flips.append((ci, new, r, j_r if flip_side == "chosen" else c_r))
        flips.sort(key=lambda f: -abs(f[2] - clean_r[f[0]]))
        examples[probe.name] = [
            {"id": clean[ci]["id"], "prompt": prompt_text(clean[ci]["prompt"]), "side": clean[ci]["side"],
             "original": clean[ci]["response"], "perturbed": new, "reward_original": float(clean_r[ci]),
             "reward_perturbed": float(r), "other_reward": float(other), "flipped": True}
            for ci, new, r, other in flips[:max_examples]
        ]
        for ci, new, r in hits:
            samples.append({"id": clean[ci]["id"], "probe": probe.name, "side": clean[ci]["side"],
                            "prompt": clean[ci]["prompt"], "response": new, "reward": float(r),
                            "delta": float(r - clean_r[ci])})
        rows.append(row)
    summary = summarize(rows)
    if any(r["seen_in_training"] for r in rows):
        held = summarize(rows, only_heldout=True)
        summary["spurious_index_heldout"] = held["spurious_index"]
        summary["causal_index_heldout"] = held["causal_index"]
    clean_stats = {"n_responses": len(clean), "reward_mean": float(clean_r.mean()) if len(clean_r) else None,
                   "reward_std": reward_std}
    if kind == "pairs":
        ch = np.array([by_key[(i, "chosen")] for i in range(len(records))])
        rj = np.array([by_key[(i, "rejected")] for i in range(len(records))])
        clean_stats["pairwise_accuracy"] = float((ch > rj).mean()) if len(ch) else None
    return AuditOutput(rows, summary, examples, samples, clean_stats)
