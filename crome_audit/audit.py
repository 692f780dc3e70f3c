"""The probe audit: apply a suite to data, score clean and perturbed texts through the engine, and compute
the invariant metrics for the RM and for two references (``length`` and ``noise``) on the same texts.

    from crome_audit.audit import run_audit
    out = run_audit(pairs, suite, engine, seed=0)
    out.probes      # rows for results.json "probes"
    out.summary     # {spurious_index, spurious_index_ci, causal_index, causal_index_ci, ...}
    out.reference   # {"length": {probes, summary, clean}, "noise": {...}}
    with open("samples.jsonl", "w") as f:
        run_audit(pairs, suite, engine, samples=f)   # every scored text streamed to f, chunk by chunk

Which side is perturbed: spurious probes perturb both responses of a pair (hack rate: the restyled *rejected*
answer; decision change: both restyled); causal probes perturb the *chosen* side (detection rate: does the RM
prefer the original to the degraded answer?). Single responses (``{prompt, response}``) get every probe.
The definitions of every number are in crome_audit/metrics.py and docs/results.md.

Scale: records go through probes and scoring ``chunk_size`` (default ``CHUNK_RECORDS``) at a time. A chunk's
perturbed texts are scored by the RM and the references, written to ``samples`` and dropped; what is kept
per edit is a few numbers (record id, side, template, token change, one reward per RM: about 40 bytes), plus
the ``max_examples`` largest flips per probe. So memory is the records themselves plus ~40 bytes per edit,
and time is linear in the records. Every number is the same for any chunk size (each edit's random
generator is seeded by probe, item and side, and the RMs score texts independently); only ``samples`` is
ordered chunk by chunk (a chunk's clean rows, then its edits probe by probe), which for audits of at most
one chunk is the order of all clean rows, then each probe's edits.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .data import prompt_text
from .metrics import CHOSEN, REJECTED, RESPONSE, SIDE_NAMES, SIDES, ProbeEdits, compute_metrics, degenerate
from .models import LengthRM, NoiseRM
from .probes import Edit, ProbeInput, Suite
from .record_store import MappedSequence, TextClasses
from .stats import Resampler

REFERENCES = {"length": LengthRM, "noise": NoiseRM}
_JSON = json.JSONEncoder(ensure_ascii=False)  # == json.dumps(row, ensure_ascii=False), one encoder for all rows
CHUNK_RECORDS = 5_000  # records per probe -> score chunk: ~13 KB of texts per pair in flight, ~65 MB


@dataclass
class AuditOutput:
    probes: list[dict]
    summary: dict
    examples: dict
    samples: list[dict]  # filled only when run_audit's ``samples`` is a list
    clean: dict = field(default_factory=dict)
    reference: dict = field(default_factory=dict)


def _rng(seed: int, probe: str, item_id: str, side: str) -> random.Random:
    # One generator per (probe, item, side): results do not depend on order, limit, chunking or other probes.
    return random.Random(f"{seed}:{probe}:{item_id}:{side}")


def _clusters(prompts) -> np.ndarray:
    """Records that share a prompt are one resampling unit (RewardBench reuses prompts across subsets): ids in
    order of first appearance, found from hashes (``prompts`` may be a lazy view of a spill file)."""
    return TextClasses(prompts).first_appearance_ids()


class _Window:
    """Records ``start:stop`` of the audit, read once per chunk (one read of a spill file), indexed by their
    audit-wide index as the whole list would be."""

    def __init__(self, records, start: int, stop: int):
        self.rows, self.start = records[start:stop], start

    def __getitem__(self, i: int) -> dict:
        return self.rows[i - self.start]


@dataclass
class _Edits:
    """One probe's perturbed texts of one chunk, before scoring (``rid`` are record indices in ``records``)."""

    rid: list[int] = field(default_factory=list)
    side: list[int] = field(default_factory=list)
    template: list[str] = field(default_factory=list)
    text: list[str] = field(default_factory=list)


def _sides(kind: str) -> tuple[str, ...]:
    return ("chosen", "rejected") if kind == "pairs" else ("response",)


def _apply_chunk(records, start: int, stop: int, suite: Suite, kind: str, seed: int, pool) -> list[_Edits]:
    sides = _sides(kind)
    out = []
    for probe in suite.probes:
        e = _Edits()
        for rid in range(start, stop):
            r = records[rid]
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


def _score(engine, records, start: int, stop: int, raw: list[_Edits], kind: str, desc: str):
    """Rewards of a chunk: ``clean[side]`` (one per record of the chunk) and one array per probe."""
    sides = _sides(kind)
    prompts = [records[i]["prompt"] for i in range(start, stop) for _ in sides]
    responses = [records[i][s] for i in range(start, stop) for s in sides]
    for e in raw:
        prompts += [records[i]["prompt"] for i in e.rid]
        responses += e.text
    rewards = np.asarray(engine.score(prompts, responses, desc=desc), dtype=float)
    n = stop - start
    clean = ({CHOSEN: rewards[0 : 2 * n : 2], REJECTED: rewards[1 : 2 * n : 2]} if kind == "pairs"
             else {RESPONSE: rewards[:n]})
    new, at = [], len(sides) * n
    for e in raw:
        new.append(rewards[at : at + len(e.text)])
        at += len(e.text)
    return clean, new


def _score_pairwise(rm, records, start: int, stop: int, raw: list[_Edits], kind: str):
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
    chunk = [records[i] for i in range(start, stop)]
    p = np.asarray(preference_probabilities(rm, [r["prompt"] for r in chunk], [r["chosen"] for r in chunk],
                                            [r["rejected"] for r in chunk]), dtype=float)
    clean = {CHOSEN: 2 * p - 1, REJECTED: np.zeros(len(chunk))}
    new = []
    for e in raw:
        q = np.asarray(preference_probabilities(rm, [records[i]["prompt"] for i in e.rid], e.text,
                                                [records[i][SIDE_NAMES[s]] for i, s in zip(e.rid, e.side)]),
                       dtype=float)
        base = np.array([clean[s][i - start] for i, s in zip(e.rid, e.side)]) if e.rid else np.zeros(0)
        new.append(base + 2 * q - 1)
    return clean, new


class _Probe:
    """What the audit keeps of one probe's edits across chunks: numbers only (and its best examples)."""

    def __init__(self):
        self.rid, self.side, self.template, self.dtok = [], [], [], []
        self.rewards: dict[str, list[np.ndarray]] = {}
        self.codes: dict[str, int] = {}  # template name -> code in order of first use ("" is -1)
        self.n = 0
        self.examples: list[tuple[float, int, dict]] = []  # (−|Δ|, edit number, example), best first

    def add(self, e: _Edits, dtok: np.ndarray, rewards: dict[str, np.ndarray], copies: dict) -> None:
        self.rid.append(np.array(e.rid, dtype=np.int32 if (e.rid[-1] if e.rid else 0) < 2**31 else np.int64))
        self.side.append(np.array(e.side, dtype=np.int8))
        codes = [self.codes.setdefault(t, len(self.codes)) if t else -1 for t in e.template]
        self.template.append(np.array(codes, dtype=np.int16 if len(self.codes) < 2**15 else np.int32))
        self.dtok.append(dtok.astype(np.int32))  # token counts: integers, exact in int32 (and in any mean)
        for name, r in rewards.items():
            self.rewards.setdefault(name, []).append(_own(r, copies))
        self.n += len(e.rid)

    def edits(self, probe, seen: bool) -> ProbeEdits:
        names = sorted(self.codes)
        rank = {t: i for i, t in enumerate(names)}
        remap = np.array([rank[t] for t in self.codes] + [-1],  # code -1 -> last -> -1
                         dtype=np.int16 if len(names) < 2**15 else np.int32)
        tmpl = np.concatenate(self.template) if self.template else np.zeros(0, dtype=np.int32)
        pe = ProbeEdits(meta=probe.meta(), rid=_cat(self.rid, np.int64), side=_cat(self.side, np.int8),
                        template=remap[tmpl] if tmpl.size else np.zeros(0, dtype=np.int32),
                        delta_tokens=_cat(self.dtok, np.int32), templates=names, seen_in_training=seen)
        self.rid = self.side = self.template = self.dtok = None  # held once, in pe
        # one array per RM (chunks' views dropped); a reference that is the RM itself shares the RM's array
        joined: dict[int, np.ndarray] = {}
        for name, parts in self.rewards.items():
            key = id(parts[0]) if parts else -1
            self.rewards[name] = joined.setdefault(key, _cat(parts, float)) if parts else np.zeros(0)
        return pe


def _own(view: np.ndarray, copies: dict) -> np.ndarray:
    """A copy of a view into a chunk's rewards (the view would keep all of them alive), one per array: a
    reference that is the audited RM itself shares the RM's copy."""
    if id(view) not in copies:
        copies[id(view)] = (view, np.array(view))  # the view is kept with it, so its id is not reused
    return copies[id(view)][1]


def _cat(parts: list[np.ndarray], dtype) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)


def _chunk_examples(acc: _Probe, probe_kind: str, records, start: int, e: _Edits, clean: dict, nr: np.ndarray,
                    max_examples: int) -> None:
    """Keep the ``max_examples`` decisions this probe flipped with the largest reward change (ties: first edit)."""
    if not e.rid:
        return
    rid, side = np.array(e.rid) - start, np.array(e.side)
    ch, rj = clean[CHOSEN][rid], clean[REJECTED][rid]
    if probe_kind == "spurious":
        flip, other = (ch > rj) & (side == REJECTED) & (nr >= ch), ch
    else:
        flip, other = (ch > rj) & (side == CHOSEN) & (nr <= rj), rj
    ks = np.flatnonzero(flip)
    if not ks.size:
        return
    orig = np.where(side == CHOSEN, ch, rj)
    key = -np.abs(nr - orig)
    best = ks[np.lexsort((ks, key[ks]))][:max_examples]
    for k in best:
        rec = records[e.rid[k]]
        acc.examples.append((float(key[k]), acc.n - len(e.rid) + int(k), {
            "id": rec["id"], "prompt": prompt_text(rec["prompt"]), "side": SIDE_NAMES[e.side[k]],
            "original": rec[SIDE_NAMES[e.side[k]]], "perturbed": e.text[k], "reward_original": float(orig[k]),
            "reward_perturbed": float(nr[k]), "other_reward": float(other[k]), "flipped": True,
            "template": e.template[k] or None}))
    acc.examples.sort(key=lambda x: (x[0], x[1]))
    del acc.examples[max_examples:]


def _sample_rows(records, start: int, stop: int, kind: str, raw, suite: Suite, clean: dict, new):
    for i in range(start, stop):
        r = records[i]
        for s in _sides(kind):
            yield {"id": r["id"], "probe": None, "side": s, "prompt": r["prompt"], "response": r[s],
                   "reward": float(clean[SIDES[s]][i - start])}
    for probe, e, nr in zip(suite.probes, raw, new):
        for k, (rid, side) in enumerate(zip(e.rid, e.side)):
            yield {"id": records[rid]["id"], "probe": probe.name, "side": SIDE_NAMES[side],
                   "prompt": records[rid]["prompt"], "response": e.text[k], "reward": float(nr[k]),
                   "delta": float(nr[k] - clean[side][rid - start]), "template": e.template[k] or None}


def _write_samples(sink, *args) -> None:
    rows = _sample_rows(*args)
    if isinstance(sink, list):
        sink.extend(rows)
        return
    batch: list[str] = []
    for row in rows:  # in batches of 1,000 rows: one string per chunk would be ~100 MB (and again as bytes)
        batch.append(_JSON.encode(row) + "\n")
        if len(batch) == 1000:
            sink.write("".join(batch))
            batch.clear()
    if batch:
        sink.write("".join(batch))


def run_audit(records: Sequence[dict], suite: Suite, engine, seed: int = 0, kind: str = "pairs",
              seen_families: set[str] | None = None, seen_attributes: set[str] | None = None,
              max_examples: int = 50, references: tuple[str, ...] = ("length", "noise"), samples=None,
              chunk_size: int = CHUNK_RECORDS) -> AuditOutput:
    """The audit of ``engine``'s RM on ``records``. ``samples``: None (not kept), a list (rows appended) or a
    text file (JSON lines written chunk by chunk): every scored text with its reward, as in samples.jsonl."""
    from .engine import ScoringEngine
    from .models.judge import is_pairwise

    seen_families, seen_attributes = seen_families or set(), seen_attributes or set()
    answer = "chosen" if kind == "pairs" else "response"
    # (prompt, answer) of every record, read from ``records`` when needed: a list, or a spill file
    pool = MappedSequence(records, lambda r: (prompt_text(r["prompt"]), r[answer]))
    clusters = _clusters(MappedSequence(pool, lambda x: x[0]))
    pairwise = is_pairwise(engine.rm)
    # the length RM is always run: its rewards are the token counts behind delta_tokens
    ref_names = list(dict.fromkeys(["length", *references]))
    refs = {name: ScoringEngine(REFERENCES[name](), progress=False) for name in ref_names}
    same = {name for name, ref in refs.items() if not pairwise and ref.rm.fingerprint == engine.rm.fingerprint}
    accs = [_Probe() for _ in suite.probes]
    clean_parts: dict[str, list[dict]] = {"main": [], **{name: [] for name in ref_names}}
    for start in range(0, len(records), max(1, chunk_size)):
        stop = min(start + max(1, chunk_size), len(records))
        window = _Window(records, start, stop)
        raw = _apply_chunk(window, start, stop, suite, kind, seed, pool)
        scored = {"main": (_score_pairwise(engine.rm, window, start, stop, raw, kind) if pairwise
                           else _score(engine, window, start, stop, raw, kind, "audit"))}
        for name, ref in refs.items():  # a reference that is the audited RM itself is not scored twice
            scored[name] = scored["main"] if name in same else _score(ref, window, start, stop, raw, kind, name)
        copies: dict[int, tuple] = {}
        for name, (c, _) in scored.items():
            clean_parts[name].append({side: _own(v, copies) for side, v in c.items()})
        len_clean, len_new = scored["length"]
        main_clean, main_new = scored["main"]
        for k, (probe, acc, e) in enumerate(zip(suite.probes, accs, raw)):
            rid, side = np.array(e.rid, dtype=np.int64) - start, np.array(e.side, dtype=np.int64)
            base_tokens = np.zeros(len(e.rid))
            for s, c in len_clean.items():
                base_tokens[side == s] = c[rid[side == s]]
            acc.add(e, len_new[k] - base_tokens, {name: scored[name][1][k] for name in ("main", *references)},
                    copies)
            if kind == "pairs" and max_examples:
                _chunk_examples(acc, probe.kind, window, start, e, main_clean, main_new[k], max_examples)
        if samples is not None:
            _write_samples(samples, window, start, stop, kind, raw, suite, main_clean, main_new)
        del raw, scored

    del pool
    for probe in suite.probes:
        probe.release()  # irrelevant_answer's index of the pool
    edits = [acc.edits(probe, probe.family in seen_families or probe.attribute in seen_attributes)
             for probe, acc in zip(suite.probes, accs)]
    n_clusters = int(clusters.max()) + 1 if clusters.size else 0
    rs = Resampler(n_clusters, seed=seed)  # one set of bootstrap weights for the RM and both references

    def metrics(name: str, confounded):
        clean = {s: _cat([c[s] for c in clean_parts[name]], float) for s in clean_parts[name][0]} if \
            clean_parts[name] else ({CHOSEN: np.zeros(0), REJECTED: np.zeros(0)} if kind == "pairs"
                                    else {RESPONSE: np.zeros(0)})
        new = [acc.rewards.get(name, np.zeros(0)) for acc in accs]
        return clean, compute_metrics(kind, clusters, clean, edits, new, seed=seed, confounded=confounded,
                                      resampler=rs)

    reference, confounded, ref_metrics = {}, None, {}
    for name in references:
        _, m = metrics(name, None if name == "length" else confounded)
        if name == "length":
            confounded = {p["name"] for p in m.probes if p.get("length_confounded")}
        ref_metrics[name] = m
        reference[name] = {"probes": m.probes, "summary": m.summary, "clean": m.clean}
    clean, main = metrics("main", confounded)
    if pairwise:
        for row in main.probes:  # P(perturbed ≻ original), both orders averaged
            row["preference_rate"] = None if row["mean_delta"] is None else (row["mean_delta"] + 1) / 2
            for key in ("hack_rate", "hack_rate_ci", "decision_change_rate", "decision_change_rate_ci", "flip_rate"):
                if key in row:
                    row[key] = None
        main.summary["pairwise"] = True
    noise = ref_metrics.get("noise")
    main.summary["degenerate"] = degenerate(main.summary, main.clean, noise.summary if noise else None)
    examples = {probe.name: [x for _, _, x in acc.examples] for probe, acc in zip(suite.probes, accs)}
    return AuditOutput(main.probes, main.summary, examples, samples if isinstance(samples, list) else [],
                       main.clean, reference)
