"""reWordBench (Wu et al. 2025, arXiv 2503.11751): RewardBench accuracy on meaning- or ranking-preserving
transformations of its inputs, and the drop from the original accuracy, per transformation and section.

    crome-audit bench rewordbench --rm RM [--data PATH] --option transformations=rot13,typo_swap --out DIR
    entry, samples = run_benchmark("rewordbench", engine, data="filtered.jsonl", transformations="rot13")

Data: RewardBench, loaded and validated exactly as the ``rewardbench`` benchmark does (same ``data``,
``split``, ``limit``, ``subsets`` options; env ``CROME_AUDIT_REWARDBENCH``). ``limit_per_subset=K`` keeps
the first K pairs of every subset (a stratified quick run).

Transformations (``crome_audit.benchmarks.transforms``): ``transformations`` is a comma-separated list or
None/"all". Each applies only to the sections/subsets it is meant for (code ones to hep-*, the answer-format
swap to math-prm, jailbreak wrappers to Safety); pairs it cannot change are left out of its numbers, so
``original`` and ``transformed`` always compare the same pairs. LLM-made ones (paraphrase,
back-translation) run through ``crome_audit.generate`` when ``generator`` (a generator object or a spec
string for ``load_generator``) is given; otherwise they are listed in ``not_run`` with the reason.

Scoring: the official RewardBench rules (strict ``>``, count-weighted sections, overall = mean of sections
present; :mod:`crome_audit.benchmarks.scoring`) on the original and on the transformed pairs. ``drop`` =
original - transformed; ``flip_rate`` = share of pairs whose outcome (chosen ranked above rejected or not)
changed. Entry ``score`` = mean over the transformations run of their transformed overall accuracy;
``original_score`` = the RewardBench overall score of the untransformed data; ``mean_drop`` = mean drop.
"""

from __future__ import annotations

from ..data import prompt_text
from ..errors import CromeError, InputError
from . import BENCHMARKS
from .rewardbench import load_rewardbench
from .scoring import SECTIONS, is_correct, overall, score_pairs, section_scores, subset_accuracies
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


def _score(subsets, correct) -> dict:
    subs = subset_accuracies(subsets, correct)
    secs = section_scores(subs)
    return {"subsets": subs, "sections": secs, "score": overall(secs)}


def _summarise(rows, idx, correct_o, correct_t) -> dict:
    """Per-section and overall original/transformed accuracy, drop, flip rate over the pairs ``idx``."""
    subsets = [rows[i]["subset"] for i in idx]
    orig, trans = _score(subsets, correct_o), _score(subsets, correct_t)
    flips = [a != b for a, b in zip(correct_o, correct_t)]
    sections = {}
    for section, names in SECTIONS.items():
        mine = [k for k, i in enumerate(idx) if rows[i]["subset"] in names]
        if not mine:
            continue
        o, t = orig["sections"][section], trans["sections"][section]
        sections[section] = {"original": o, "transformed": t, "drop": o - t,
                             "flip_rate": sum(flips[k] for k in mine) / len(mine), "n": len(mine)}
    o, t = orig["score"], trans["score"]
    subset_rows = {s: {"original": orig["subsets"][s]["accuracy"], "transformed": trans["subsets"][s]["accuracy"],
                       "n": orig["subsets"][s]["n"]}
                   for names in SECTIONS.values() for s in names if s in orig["subsets"]}
    return {"sections": sections, "subsets": subset_rows,
            "overall": {"original": o, "transformed": t, "drop": o - t,
                        "flip_rate": sum(flips) / len(flips), "n": len(idx)}}


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
    results, samples, k = {}, [], 0
    for name, pairs in plans.items():
        idx = [i for i, _ in pairs]
        rc, rr = new[k : k + len(pairs)], new[m + k : m + k + len(pairs)]
        k += len(pairs)
        correct_o = [base["correct"][i] for i in idx]
        correct_t = [is_correct(c, r) for c, r in zip(rc, rr)]
        first = pairs[0][1]
        example = {"subset": first["subset"], "id": first["id"],
                   **{f: _clip(first[f]) for f in ("prompt", "chosen", "rejected")}}
        results[name] = {**_summarise(rows, idx, correct_o, correct_t), "example": example,
                         "meta": TRANSFORMATIONS.get(name).meta(), **extra.get(name, {})}
        for j, i in enumerate(idx):
            row = rows[i]
            samples.append({"benchmark": "rewordbench", "transformation": name, "subset": row["subset"],
                            "id": row["id"], "section": row["section"],
                            "reward_chosen": rc[j], "reward_rejected": rr[j], "correct": correct_t[j],
                            "reward_chosen_original": orig_c[i], "reward_rejected_original": orig_r[i],
                            "correct_original": correct_o[j], "flipped": correct_o[j] != correct_t[j]})
    overall_t = [r["overall"]["transformed"] for r in results.values()]
    drops = [r["overall"]["drop"] for r in results.values()]
    entry = {
        "score": sum(overall_t) / len(overall_t) if overall_t else None,
        "original_score": base["score"],
        "mean_drop": sum(drops) / len(drops) if drops else None,
        "original": {"sections": base["sections"], "subsets": {s: v["accuracy"] for s, v in base["subsets"].items()}},
        "transformations": results,
        "not_run": not_run,
        "n": n,
        "seed": seed,
        "data": info,
        "scoring": "RewardBench v1 rules on the pairs each transformation changes; drop = original - "
                   "transformed; flip_rate = share of pairs whose outcome changed; score = mean transformed "
                   "overall accuracy over the transformations run",
    }
    return entry, samples

