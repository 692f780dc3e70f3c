"""reWordBench (Wu et al. 2025, arXiv 2503.11751): RewardBench accuracy on meaning- or ranking-preserving
transformations of its inputs, and the drop from the original accuracy, per transformation and section.

    crome-audit bench rewordbench --rm RM [--data PATH] --option transformations=rot13,typo_swap --out DIR
    entry, samples = run_benchmark("rewordbench", engine, data="filtered.jsonl", transformations="rot13")

Data: RewardBench, loaded and validated exactly as the ``rewardbench`` benchmark does (same ``data``,
``split``, ``limit``, ``subsets`` options; env ``CROME_AUDIT_REWARDBENCH``). ``limit_per_subset=K`` keeps
the first K pairs of every subset (a stratified quick run).

Transformations (``crome_audit.benchmarks.transforms``): ``transformations`` is a comma-separated list or
None/"all". Each applies only to the sections/subsets it is meant for (code ones to hep-*, the answer-format
swap to math-prm, jailbreak wrappers to Safety); text transformations that rewrite responses never edit
code (they skip the hep-* subsets, and code/math spans inside other texts). LLM-made ones (paraphrase,
back-translation) run through ``crome_audit.generate`` when ``generator`` (a generator object or a spec
string for ``load_generator``) is given; otherwise they are listed in ``not_run`` with the reason.

Scoring: the official RewardBench rules (strict ``>``, count-weighted sections, overall = mean of the
sections present; :mod:`crome_audit.benchmarks.scoring`), always on the same 4-section basis as the
original score: each transformation is scored on *all* pairs, a pair it does not change (another section,
code it must not touch, a prompt the generator did not rewrite) keeping its original outcome. So
``overall.original`` is the RewardBench score of the data for every transformation, ``drop`` = original -
transformed is comparable across transformations, and ``mean_drop`` = mean of the per-transformation drops =
``original_score - score``. ``flip_rate`` = share of the *changed* pairs whose outcome (chosen ranked above
rejected or not) changed; ``n_transformed`` counts them.

Entry: ``metrics`` (docs/results.md): ``score`` (mean transformed score), ``original``, ``mean_drop`` and
``drop.<transformation>``, each ``{value, ci, n, higher_is_better}``; CIs from one joint percentile
bootstrap (2,000 replicates, seeded) resampling prompts within subsets, shared by the original and every
transformation, so drops are paired. Kept for existing readers: ``score``, ``original_score``,
``mean_drop``, ``transformations: {name: {overall, sections, subsets, example, meta}}``, ``not_run``.
Samples: one row per pair with its original rewards (``transformation: null``) and one per (transformation,
changed pair), so every number recomputes from ``samples.jsonl``.
"""

from __future__ import annotations

import numpy as np

from ..data import prompt_text
from ..errors import CromeError, InputError
from . import BENCHMARKS
from .metrics import CI_METHOD, metric, stratified_bootstrap
from .rewardbench import load_rewardbench
from .scoring import (
    SECTIONS,
    is_correct,
    overall,
    prompt_key,
    rewardbench_statistic,
    score_pairs,
    section_scores,
    subset_accuracies,
)
from .transforms import TRANSFORMATIONS, parse_names, transform_pair

EXAMPLE_CHARS = 400  # each transformation's entry shows its first transformed pair, clipped
KNOWN_OPTIONS = ("transformations", "generator", "subsets", "limit_per_subset", "pivot")


def _with_prompt(prompt, new_text):
    if isinstance(prompt, str):
        return new_text
    msgs = [dict(m) for m in prompt]
    for m in reversed(msgs):
        if m.get("role") == "user":
            m["content"] = new_text
            break
    return msgs


def _llm_pairs(name: str, rows: list[dict], generator, pivot: str, seed: int):
    """Run an LLM-made transformation on the prompts. Returns ([(row index, new pair)], info). Prompts the
    generator's validation rejected (empty, refused, unchanged paraphrase, too different) are left out."""
    from .. import generate

    task = getattr(generate, "paraphrase" if name == "paraphrase" else "back_translate", None)
    if task is None:
        raise ImportError(f"crome_audit.generate has no {name} task")
    texts = list(dict.fromkeys(prompt_text(r["prompt"]) for r in rows))
    if name == "paraphrase":
        results = task(generator, texts, seed=seed)
    else:
        results = task(generator, texts, pivot, seed=seed)
    outs = [getattr(r, "text", r) for r in results]
    if len(outs) != len(texts):
        raise CromeError(f"rewordbench: generator returned {len(outs)} texts for {len(texts)} prompts ({name})")
    new_text = dict(zip(texts, outs))
    pairs, rejected = [], 0
    for i, r in enumerate(rows):
        text = new_text[prompt_text(r["prompt"])]
        if not isinstance(text, str) or not text.strip():
            rejected += 1
            continue
        pairs.append((i, {**r, "prompt": _with_prompt(r["prompt"], text)}))
    info = {"generator": generator.info() if hasattr(generator, "info") else str(generator),
            "pairs_without_rewrite": rejected}
    if hasattr(results, "counts"):
        info["rewrite_counts"] = results.counts
    if name == "back_translation":
        info["pivot"] = pivot
    return pairs, info


def _flip_rate(flips: list[bool]) -> float | None:
    return sum(flips) / len(flips) if flips else None


def _summarise(rows, changed: dict[int, bool], base_correct: list[bool], orig: dict, trans: dict) -> dict:
    """One transformation on the 4-section basis: every pair counts, a pair the transformation did not
    change keeps its original outcome. ``changed`` = {row index: transformed outcome}; ``orig``/``trans``
    = ``{"score", "sections", "subsets"}`` accuracies of the original and the transformed (filled) data."""
    sections = {}
    for section, names in SECTIONS.items():
        mine = [i for i, r in enumerate(rows) if r["subset"] in names]
        if not mine:
            continue
        o, t = orig["sections"][section], trans["sections"][section]
        hit = [i for i in mine if i in changed]
        sections[section] = {"original": o, "transformed": t, "drop": o - t, "n": len(mine), "n_transformed": len(hit),
                             "flip_rate": _flip_rate([changed[i] != base_correct[i] for i in hit])}
    subsets = {}
    for names in SECTIONS.values():
        for s in names:
            hit = [i for i in changed if rows[i]["subset"] == s]
            if hit:
                subsets[s] = {"original": orig["subsets"][s], "transformed": trans["subsets"][s],
                              "n": sum(r["subset"] == s for r in rows), "n_transformed": len(hit),
                              "flip_rate": _flip_rate([changed[i] != base_correct[i] for i in hit])}
    o, t = orig["score"], trans["score"]
    return {"sections": sections, "subsets": subsets,
            "overall": {"original": o, "transformed": t, "drop": o - t, "n": len(rows), "n_transformed": len(changed),
                        "flip_rate": _flip_rate([c != base_correct[i] for i, c in changed.items()])}}


def _accuracies(rows, correct) -> dict:
    subs = subset_accuracies([r["subset"] for r in rows], correct)
    secs = section_scores(subs)
    return {"score": overall(secs), "sections": secs, "subsets": {s: v["accuracy"] for s, v in subs.items()}}


def _metrics(rows, base_correct, filled: dict[str, list[bool]], n_changed: dict[str, int], seed: int
             ) -> tuple[dict, dict]:
    """Joint bootstrap (one draw for the original and every transformation, so drops are paired): returns
    (metrics, {name: drop CI})."""
    names = list(filled)
    strata: dict[str, tuple[list, list]] = {}
    for i, r in enumerate(rows):
        vals, clus = strata.setdefault(r["subset"], ([], []))
        vals.append([float(base_correct[i])] + [float(filled[n][i]) for n in names])
        clus.append(prompt_key(r["prompt"]))

    def statistic(means):
        cols = [rewardbench_statistic({s: m[:, k] for s, m in means.items()})["score"] for k in range(len(names) + 1)]
        out = {"original": cols[0]}
        for k, n in enumerate(names, start=1):
            out[f"drop.{n}"] = cols[0] - cols[k]
        if names:
            out["score"] = np.mean(np.vstack(cols[1:]), axis=0)
            out["mean_drop"] = cols[0] - out["score"]
        return out

    est, ci = stratified_bootstrap(strata, statistic, seed=seed)
    n = len(rows)
    metrics = {"score": metric(est.get("score"), ci.get("score"), n, True,
                               f"RewardBench score on transformed data, mean over {len(names)} transformations"),
               "original": metric(est["original"], ci["original"], n, True, "RewardBench score, untransformed"),
               "mean_drop": metric(est.get("mean_drop"), ci.get("mean_drop"), n, False,
                                   "mean over transformations of original - transformed score")}
    for name in names:
        metrics[f"drop.{name}"] = metric(est[f"drop.{name}"], ci[f"drop.{name}"], n, False,
                                         f"{TRANSFORMATIONS.get(name).paper_name}: original - transformed score "
                                         f"({n_changed[name]} of {n} pairs changed)")
    return metrics, {name: ci[f"drop.{name}"] for name in names}


def _clip(value, n: int = EXAMPLE_CHARS):
    text = prompt_text(value)
    return text if len(text) <= n else text[:n] + " ..."


def _select(rows, limit_per_subset):
    if limit_per_subset is None:
        return rows
    k = int(limit_per_subset)
    if k < 1:
        raise InputError(f"rewordbench: option 'limit_per_subset' must be at least 1, got {limit_per_subset}")
    seen: dict[str, int] = {}
    out = []
    for r in rows:
        seen[r["subset"]] = seen.get(r["subset"], 0) + 1
        if seen[r["subset"]] <= k:
            out.append(r)
    return out


@BENCHMARKS.register("rewordbench")
def run_rewordbench(engine, *, data=None, split=None, limit=None, seed=0, transformations=None, generator=None,
                    subsets=None, limit_per_subset=None, pivot="French", **options):
    """Score RewardBench and its transformations with ``engine``; return ``(entry, samples)``."""
    if options:
        raise InputError(f"rewordbench: unknown option(s) {', '.join(sorted(options))} "
                         f"(known: {', '.join(KNOWN_OPTIONS)})")
    names = parse_names(transformations)
    seed = int(seed)
    rows, info = load_rewardbench(data, split, limit, subsets)
    rows = _select(rows, limit_per_subset)
    n = len(rows)
    info = {**info, "n": n}
    prompts = [r["prompt"] for r in rows]
    rewards = engine.score(prompts + prompts, [r["chosen"] for r in rows] + [r["rejected"] for r in rows],
                           desc="rewordbench original")
    orig_c, orig_r = rewards[:n], rewards[n:]
    base = score_pairs([r["subset"] for r in rows], orig_c, orig_r)

    plans: dict[str, list[tuple[int, dict]]] = {}
    extra: dict[str, dict] = {}
    not_run, owned = [], None
    for name in names:
        t = TRANSFORMATIONS.get(name)
        if t.llm:
            if generator is None:
                not_run.append({"name": name, "reason": "LLM-made transformation: no generator configured "
                                                        "(pass option generator=SPEC)"})
                continue
            try:
                if isinstance(generator, (str, dict)):  # a spec: load the backend once for all LLM transforms
                    from ..generate import load_generator

                    generator = owned = load_generator(generator)
                plans[name], extra[name] = _llm_pairs(name, rows, generator, pivot, seed)
            except ImportError as e:
                not_run.append({"name": name, "reason": f"generator backend unavailable: {e}"})
                continue
        else:
            plans[name] = [(i, p) for i, r in enumerate(rows) if (p := transform_pair(t, r, seed)) is not None]
        if not plans[name]:
            del plans[name]
            where = t.meta()["sections"] or t.meta()["subsets"] or "all"
            not_run.append({"name": name, "reason": f"changes no pair of this data (applies to {where})"})

    if owned is not None and hasattr(owned, "close"):
        owned.close()
    flat = [(name, i, p) for name, pairs in plans.items() for i, p in pairs]
    m = len(flat)
    new = engine.score([p["prompt"] for _, _, p in flat] * 2,
                       [p["chosen"] for _, _, p in flat] + [p["rejected"] for _, _, p in flat],
                       desc="rewordbench transformed")
    results, samples, filled, k = {}, [], {}, 0
    base_correct = base["correct"]
    orig_acc = _accuracies(rows, base_correct)
    for name, pairs in plans.items():
        idx = [i for i, _ in pairs]
        rc, rr = new[k : k + len(pairs)], new[m + k : m + k + len(pairs)]
        k += len(pairs)
        changed = {i: is_correct(c, r) for i, c, r in zip(idx, rc, rr)}
        filled[name] = [changed.get(i, base_correct[i]) for i in range(n)]
        first = pairs[0][1]
        example = {"subset": first["subset"], "id": first["id"],
                   **{f: _clip(first[f]) for f in ("prompt", "chosen", "rejected")}}
        results[name] = {**_summarise(rows, changed, base_correct, orig_acc, _accuracies(rows, filled[name])),
                         "example": example, "meta": TRANSFORMATIONS.get(name).meta(), **extra.get(name, {})}
        for j, i in enumerate(idx):
            row = rows[i]
            samples.append({"benchmark": "rewordbench", "transformation": name, "subset": row["subset"],
                            "id": row["id"], "section": row["section"],
                            "reward_chosen": rc[j], "reward_rejected": rr[j], "correct": changed[i],
                            "reward_chosen_original": orig_c[i], "reward_rejected_original": orig_r[i],
                            "correct_original": base_correct[i], "flipped": base_correct[i] != changed[i]})
    # one row per pair with its original rewards: the untransformed pairs every transformation is filled with
    samples[:0] = [{"benchmark": "rewordbench", "transformation": None, "subset": r["subset"], "id": r["id"],
                    "section": r["section"], "reward_chosen": orig_c[i], "reward_rejected": orig_r[i],
                    "correct": base_correct[i]} for i, r in enumerate(rows)]
    metrics, drop_cis = _metrics(rows, base_correct, filled, {t: len(p) for t, p in plans.items()}, seed)
    for name, ci in drop_cis.items():
        results[name]["overall"]["drop_ci"] = ci
    entry = {
        "score": metrics["score"]["value"],
        "metrics": metrics,
        "original_score": base["score"],
        "mean_drop": metrics["mean_drop"]["value"],
        "original": {"sections": base["sections"], "subsets": {s: v["accuracy"] for s, v in base["subsets"].items()}},
        "transformations": results,
        "not_run": not_run,
        "n": n,
        "seed": seed,
        "data": info,
        "ci_method": CI_METHOD + "; strata = subsets; one joint draw for the original and every transformation",
        "scoring": "RewardBench v1 rules on the 4-section basis: every transformation is scored on all pairs, "
                   "a pair it does not change keeping its original outcome, so original and transformed cover "
                   "the same items; drop = original - transformed; flip_rate = share of the changed pairs whose "
                   "outcome changed; mean_drop = mean drop over the transformations run; score = mean "
                   "transformed score = original_score - mean_drop",
    }
    return entry, samples

