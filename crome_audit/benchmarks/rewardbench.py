"""RewardBench v1 (Lambert et al. 2024) with the official scoring, run through the scoring engine.

    crome-audit bench rewardbench --rm RM [--data PATH] --out DIR
    entry, samples = run_benchmark("rewardbench", engine)             # hub allenai/reward-bench, 'filtered'

Data (``data=``): a local jsonl/json/parquet file or a folder of them, or a hub dataset id. Without
``data`` the env var ``CROME_AUDIT_REWARDBENCH`` (a path) is used if set, else the hub dataset
``allenai/reward-bench`` split ``filtered`` (2,985 pairs, 23 subsets). Columns: the official ones
(``prompt, chosen, rejected, subset, id``) or BiasScope's re-save (``question, response_A`` = chosen,
``response_B`` = rejected, ``domain`` = section, ``label`` = 1). Rows are keyed on (subset, id): id 3692
occurs in two subsets. Missing/unknown subsets, a section that contradicts the subset, and duplicated keys
are input errors naming the file and row.

Scoring (see :mod:`crome_audit.benchmarks.scoring`): strict ``>`` (ties wrong), per-subset accuracy,
count-weighted sections (math-prm weighs 984), overall = mean of the four sections. Beside the RM, the
model-free length baseline (longer answer wins, :class:`crome_audit.models.LengthRM`) is scored the same way.

Entry: ``metrics`` (docs/results.md): ``score`` (overall) and ``Chat``, ``Chat Hard``, ``Safety``,
``Reasoning``, each ``{value, ci, n, higher_is_better}``. CIs: percentile bootstrap (2,000 replicates,
seeded by ``seed``) resampling distinct prompts within each subset, so every replicate keeps the official
subset weights; ``n`` is the number of pairs. Kept beside it for existing readers: ``score``,
``sections``, ``subsets``, ``length_baseline``.

Options: ``subsets`` (list or comma-separated names) keeps only those subsets; ``limit`` keeps the first N
pairs in data order. A partial run scores its sections from the subsets present (``complete: false``).
"""

from __future__ import annotations

import os

from ..data import read_rows
from ..errors import InputError
from ..models import LengthRM
from ..registry import suggest
from . import BENCHMARKS
from .metrics import CI_METHOD
from .scoring import REWARDBENCH, SECTIONS, SUBSET_TO_SECTION, rewardbench_metrics, score_pairs

HUB_ID = REWARDBENCH["hub_id"]
HUB_SPLIT = REWARDBENCH["hub_split"]
ENV_VAR = "CROME_AUDIT_REWARDBENCH"
# our column -> accepted source columns, first match wins (official names, then BiasScope's)
COLUMNS = {"prompt": ("prompt", "question"), "chosen": ("chosen", "response_A"),
           "rejected": ("rejected", "response_B"), "section": ("section", "domain")}


def _pick(row: dict, field: str):
    for col in COLUMNS[field]:
        if row.get(col) is not None:
            return col, row[col]
    return None, None


def _subset_name(loc: str, value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{loc}: missing field 'subset' (every RewardBench row needs its subset name)")
    if value not in SUBSET_TO_SECTION:
        hint = suggest(value, SUBSET_TO_SECTION)
        raise InputError(f"{loc}: field 'subset': unknown RewardBench subset '{value}'{hint}")
    return value


def _text(loc: str, row: dict, field: str, messages_ok: bool = False):
    col, value = _pick(row, field)
    if col is None:
        raise InputError(f"{loc}: missing field '{field}' (accepted columns: {', '.join(COLUMNS[field])})")
    if isinstance(value, str):
        return value
    if messages_ok and isinstance(value, list) and value and all(
            isinstance(m, dict) and isinstance(m.get("content"), str) and "role" in m for m in value):
        return value
    kind = "a string or a list of {role, content} messages" if messages_ok else "a string"
    raise InputError(f"{loc}: field '{col}' must be {kind}, got {type(value).__name__}")


def normalise_rows(rows: list[tuple[str, dict]]) -> list[dict]:
    """Validate raw rows and return ``[{subset, id, section, prompt, chosen, rejected}]`` in data order."""
    out, seen = [], {}
    for index, (loc, row) in enumerate(rows):
        subset = _subset_name(loc, row.get("subset"))
        section = SUBSET_TO_SECTION[subset]
        col, given = _pick(row, "section")
        if col is not None and given != section:
            raise InputError(f"{loc}: field '{col}' is '{given}' but subset '{subset}' belongs to '{section}'")
        if "label" in row and row["label"] is not None and row["label"] != 1:
            raise InputError(f"{loc}: field 'label' is {row['label']!r}; only 1 (response_A is the chosen "
                             "answer, as in the BiasScope re-save) is understood")
        rid = row.get("id")
        rid = index if rid is None else rid
        if isinstance(rid, float) and rid.is_integer():
            rid = int(rid)
        rid = str(rid)
        key = (subset, rid)
        if key in seen:
            raise InputError(f"{loc}: duplicated key (subset '{subset}', id {rid}); first seen at {seen[key]}")
        seen[key] = loc
        out.append({"subset": subset, "id": rid, "section": section, "prompt": _text(loc, row, "prompt", True),
                    "chosen": _text(loc, row, "chosen"), "rejected": _text(loc, row, "rejected")})
    return out


def _parse_subsets(value) -> list[str] | None:
    if value is None:
        return None
    names = [s.strip() for s in value.split(",")] if isinstance(value, str) else [str(s) for s in value]
    names = [n for n in names if n]
    for n in names:
        _subset_name("option 'subsets'", n)
    return names


def load_rewardbench(data=None, split=None, limit=None, subsets=None) -> tuple[list[dict], dict]:
    """Read and validate RewardBench pairs. Returns ``(rows, info)``; info = {path, sha256, n, ...}."""
    source = data or os.environ.get(ENV_VAR) or HUB_ID
    if not data and os.environ.get(ENV_VAR) and not os.path.exists(source):
        raise InputError(f"${ENV_VAR}={source}: no such file or folder")
    is_hub = not os.path.exists(source)
    raw, info = read_rows(str(source), split or (HUB_SPLIT if is_hub else None))
    rows = normalise_rows(raw)
    wanted = _parse_subsets(subsets)
    if wanted is not None:
        rows = [r for r in rows if r["subset"] in wanted]
    if limit is not None:
        if int(limit) < 1:
            raise InputError(f"--limit must be at least 1, got {limit}")
        rows = rows[: int(limit)]
    if not rows:
        raise InputError(f"{source}: no RewardBench pairs left (subsets={wanted}, limit={limit})")
    info["n"] = len(rows)
    return rows, info


def _summary(rows, rewards_chosen, rewards_rejected) -> tuple[dict, list[bool]]:
    res = score_pairs([r["subset"] for r in rows], rewards_chosen, rewards_rejected)
    order = [s for names in SECTIONS.values() for s in names if s in res["subsets"]]
    subsets = {s: {**res["subsets"][s], "section": SUBSET_TO_SECTION[s]} for s in order}
    return {"score": res["score"], "sections": res["sections"], "subsets": subsets}, res["correct"]


@BENCHMARKS.register("rewardbench")
def run_rewardbench(engine, *, data=None, split=None, limit=None, seed=0, subsets=None, **options):
    """Score every pair with ``engine``; return ``(entry, samples)`` (see module docstring)."""
    if options:
        raise InputError(f"rewardbench: unknown option(s) {', '.join(sorted(options))} (known: subsets)")
    rows, info = load_rewardbench(data, split, limit, subsets)
    prompts = [r["prompt"] for r in rows]
    n = len(rows)
    from ..models.judge import is_pairwise, preference_probabilities

    if is_pairwise(engine.rm):  # a pairwise judge scores each pair directly: P(chosen ≻ rejected), both orders
        p = preference_probabilities(engine.rm, prompts, [r["chosen"] for r in rows], [r["rejected"] for r in rows])
        rewards = list(p) + [1.0 - x for x in p]  # correct iff P > 1/2 (a 1/2 tie is wrong, as for rewards)
    else:
        rewards = engine.score(prompts + prompts, [r["chosen"] for r in rows] + [r["rejected"] for r in rows],
                               desc="rewardbench")
    entry, correct = _summary(rows, rewards[:n], rewards[n:])
    length_rm = LengthRM()
    lengths = length_rm.score(prompts + prompts, [r["chosen"] for r in rows] + [r["rejected"] for r in rows])
    baseline, length_correct = _summary(rows, lengths[:n], lengths[n:])
    present = {r["subset"] for r in rows}
    entry.update({
        "metrics": rewardbench_metrics([r["subset"] for r in rows], prompts, correct, seed=int(seed)),
        "ci_method": CI_METHOD + "; strata = subsets",
        "length_baseline": baseline,
        "n": n,
        "complete": present == set(SUBSET_TO_SECTION) and n == sum(REWARDBENCH["row_counts"].values()),
        "scoring": "official RewardBench v1: strict >, ties wrong; sections weighted by EXAMPLE_COUNTS "
                   "(math-prm 984); score = mean of sections; fractions in [0, 1]",
        "data": info,
    })
    samples = [{"benchmark": "rewardbench", "subset": r["subset"], "id": r["id"], "section": r["section"],
                "reward_chosen": rewards[i], "reward_rejected": rewards[n + i], "correct": correct[i],
                "length_correct": length_correct[i]} for i, r in enumerate(rows)]
    return entry, samples
