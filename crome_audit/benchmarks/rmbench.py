"""RM-Bench (Liu et al., ICLR 2025): subtlety and style robustness, scored as a 3x3 matrix per domain.

    crome-audit bench rmbench --rm RM --data total_dataset.json --out DIR
    entry, samples = run_benchmark("rmbench", engine, data="rmbench.jsonl")

Data: a local json/jsonl/parquet file (or folder) or the hub dataset ``THU-KEG/RM-Bench`` (split ``train``);
the env var ``CROME_AUDIT_RMBENCH`` (a path) replaces the hub id when ``data`` is not given. Each item is
``{id, prompt, chosen: [3 strings], rejected: [3 strings], domain}``; the three responses are in the styles
concise, detailed plain text, detailed markdown. Domains: chat, code, math, safety-refuse, safety-response
(the two safety domains are pooled into ``safety``). The official files work as they are: ``total_dataset.json``
(rows carry ``domain``) and the per-domain ``chat_filtered.json``, ``code_filtered.json``, ``math_filtered.json``,
``safety-refuse_filtered.json``, ``safety-response_filtered.json`` (rows without ``domain``: as in the official
code, the file name gives it), alone or together in a folder. A row's own ``domain`` is kept if the file name
names none or names one pooled into the same reported domain; a contradiction is an error.

Scoring, per domain: ``M[i][j]`` = share of items with ``r(chosen_i) > r(rejected_j)`` (strict, ties wrong);
hard = mean of the upper triangle (i < j: the chosen answer is the plainer one), normal = mean of the
diagonal, easy = mean of the lower triangle; domain score = mean of all nine cells. Overall ``score`` (and
overall hard/normal/easy) = unweighted mean over the domains present.

Entry ``metrics`` (docs/results.md): ``score``, ``hard``, ``normal``, ``easy`` (overall) and one per domain
(its 9-cell score), each ``{value, ci, n, higher_is_better}``; CIs: percentile bootstrap (2,000 replicates,
seeded) resampling distinct prompts within each domain (all 9 cells of an item move together, so hard and
easy are paired). Kept for existing readers: ``score``, ``hard``/``normal``/``easy``, ``sections``,
``domains``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..data import FILE_SUFFIXES, read_rows, sha256_json
from ..errors import InputError
from ..registry import suggest
from . import BENCHMARKS
from .metrics import CI_METHOD, metric, nanmean_rows, stratified_bootstrap
from .scoring import prompt_key

HUB_ID = "THU-KEG/RM-Bench"
HUB_SPLIT = "train"
ENV_VAR = "CROME_AUDIT_RMBENCH"
STYLES = ("concise", "detailed_plain", "detailed_markdown")
K = len(STYLES)
#: raw domain -> reported domain
DOMAINS = {"chat": "chat", "code": "code", "math": "math", "safety-refuse": "safety", "safety-response": "safety"}
# a raw domain as a whole word of a file name ("chat_filtered.json", "safety-refuse_filtered.json"); longest
# first so "safety-refuse" is not read as anything shorter
_NAME_DOMAIN_RE = re.compile(r"(?<![a-z0-9])(" + "|".join(sorted(map(re.escape, DOMAINS), key=len, reverse=True))
                             + r")(?![a-z0-9])")


def domain_from_file_name(path: str) -> str | None:
    """The raw domain a file's name names (``code_filtered.json`` -> ``code``), or None if it names none or
    several (``total_dataset.json``)."""
    found = set(_NAME_DOMAIN_RE.findall(Path(path).name.lower()))
    return found.pop() if len(found) == 1 else None


def _responses(loc: str, row: dict, field: str) -> list[str]:
    value = row.get(field)
    if value is None:
        raise InputError(f"{loc}: missing field '{field}' (need a list of {K} responses)")
    if not isinstance(value, list) or len(value) != K or not all(isinstance(v, str) for v in value):
        got = f"a list of {len(value)}" if isinstance(value, list) else type(value).__name__
        raise InputError(f"{loc}: field '{field}' must be a list of {K} strings ({', '.join(STYLES)}), got {got}")
    return value


def _row_domain(loc: str, row: dict, file_domain: str | None, file_name: str | None) -> str:
    """The row's raw domain: its own ``domain`` field, else the one its file's name gives."""
    raw = row.get("domain")
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if file_domain is not None:
            return file_domain
        named = f"the file name '{file_name}' names no domain" if file_name else "the hub rows carry none"
        raise InputError(f"{loc}: missing field 'domain' and {named} (need a 'domain' field, one of "
                         f"{', '.join(DOMAINS)}, or an official per-domain file such as chat_filtered.json)")
    if not isinstance(raw, str):
        raise InputError(f"{loc}: field 'domain' must be a string, got {type(raw).__name__}")
    if raw not in DOMAINS:
        hint = suggest(raw, DOMAINS)
        raise InputError(f"{loc}: field 'domain': unknown RM-Bench domain '{raw}'{hint}")
    if file_domain is not None and DOMAINS[raw] != DOMAINS[file_domain]:
        raise InputError(f"{loc}: field 'domain' is '{raw}' but the file name '{file_name}' says '{file_domain}'")
    return raw


def normalise_sources(sources: list[tuple[str | None, list[tuple[str, dict]]]]) -> list[dict]:
    """Validate ``[(file name or None, raw rows)]`` (the file's name gives the domain of rows without one; ids
    are unique within a domain across all sources, as the official per-domain files number their items
    independently); return ``[{id, domain, raw_domain, prompt, chosen, rejected}]`` in data
    order."""
    out, seen = [], {}
    index = -1
    for file_name, rows in sources:
        file_domain = domain_from_file_name(file_name) if file_name else None
        for loc, row in rows:
            index += 1
            out.append(_normalise_row(loc, row, index, seen, _row_domain(loc, row, file_domain, file_name)))
    return out


def _normalise_row(loc: str, row: dict, index: int, seen: dict, raw: str) -> dict:
    prompt = row.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise InputError(f"{loc}: field 'prompt' must be a non-empty string")
    rid = str(row.get("id", index))
    key = (raw, rid)  # the official per-domain files number their items independently: ids repeat across them
    if key in seen:
        raise InputError(f"{loc}: duplicated id {rid} in domain {raw}; first seen at {seen[key]}")
    seen[key] = loc
    return {"id": rid, "domain": DOMAINS[raw], "raw_domain": raw, "prompt": prompt,
            "chosen": _responses(loc, row, "chosen"), "rejected": _responses(loc, row, "rejected")}


def load_rmbench(data=None, split=None, limit=None) -> tuple[list[dict], dict]:
    source = data or os.environ.get(ENV_VAR) or HUB_ID
    if not data and os.environ.get(ENV_VAR) and not os.path.exists(source):
        raise InputError(f"${ENV_VAR}={source}: no such file or folder")
    rows, info = _read_sources(str(source), split)
    if limit is not None:
        if int(limit) < 1:
            raise InputError(f"--limit must be at least 1, got {limit}")
        rows = rows[: int(limit)]
    info["n"] = len(rows)
    return rows, info


def _read_sources(source: str, split: str | None) -> tuple[list[dict], dict]:
    """Rows of a file, of every data file in a folder (each file's name may give its rows' domain, as the
    official per-domain files need), or of the hub dataset."""
    path = Path(source)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.name.lower().endswith(FILE_SUFFIXES))
        if not files:
            raise InputError(f"{path}: directory holds no {'/'.join(FILE_SUFFIXES)} file")
        parts = [(f, *read_rows(str(f))) for f in files]
        rows = normalise_sources([(f.name, raw) for f, raw, _ in parts])
        return rows, {"path": source, "sha256": sha256_json([sub["sha256"] for _, _, sub in parts]), "format": "dir"}
    raw, info = read_rows(source, split or (HUB_SPLIT if not path.exists() else None))
    return normalise_sources([(path.name if path.is_file() else None, raw)]), info


def matrix_scores(outcomes: list[list[list[bool]]]) -> dict:
    """From per-item KxK outcome matrices: ``{matrix, hard, normal, easy, score, n}``."""
    n = len(outcomes)
    m = [[sum(o[i][j] for o in outcomes) / n for j in range(K)] for i in range(K)]
    upper = [m[i][j] for i in range(K) for j in range(K) if i < j]
    lower = [m[i][j] for i in range(K) for j in range(K) if i > j]
    return {"matrix": m, "hard": sum(upper) / len(upper), "normal": sum(m[i][i] for i in range(K)) / K,
            "easy": sum(lower) / len(lower), "score": sum(map(sum, m)) / (K * K), "n": n}


PARTS = ("hard", "normal", "easy", "score")
LABELS = {"score": "mean of the 9 style cells over domains",
          "hard": "chosen plainer than rejected (upper triangle)", "normal": "same style (diagonal)", "easy": "chosen richer than rejected (lower triangle)"}


def _item_parts(outcome: list[list[bool]]) -> list[float]:
    """One item's (hard, normal, easy, score): its share of right cells in each part of the matrix."""
    upper = [outcome[i][j] for i in range(K) for j in range(K) if i < j]
    lower = [outcome[i][j] for i in range(K) for j in range(K) if i > j]
    diag = [outcome[i][i] for i in range(K)]
    return [sum(upper) / len(upper), sum(diag) / K, sum(lower) / len(lower), sum(map(sum, outcome)) / (K * K)]


def rmbench_metrics(items: dict[str, list[tuple[str, list[list[bool]]]]], seed: int = 0) -> dict[str, dict]:
    """``{domain: [(prompt, outcome matrix)]}`` -> metrics with stratified cluster-bootstrap CIs."""
    strata = {d: ([_item_parts(o) for _, o in rows], [prompt_key(p) for p, _ in rows]) for d, rows in items.items()}

    def statistic(means):
        out = {part: nanmean_rows([m[:, k] for m in means.values()]) for k, part in enumerate(PARTS)}
        out.update({d: m[:, 3] for d, m in means.items()})
        return out

    est, ci = stratified_bootstrap(strata, statistic, seed=seed)
    n = sum(len(v) for v in items.values())
    out = {part: metric(est[part], ci[part], n, True, LABELS[part]) for part in ("score", "hard", "normal", "easy")}
    out.update({d: metric(est[d], ci[d], len(rows), True) for d, rows in items.items()})
    return out


@BENCHMARKS.register("rmbench")
def run_rmbench(engine, *, data=None, split=None, limit=None, seed=0, **options):
    """Score all 6 responses per item with ``engine``; return ``(entry, samples)``."""
    if options:
        raise InputError(f"rmbench: unknown option(s) {', '.join(sorted(options))} (it takes none)")
    rows, info = load_rmbench(data, split, limit)
    prompts, responses = [], []
    for r in rows:
        prompts += [r["prompt"]] * (2 * K)
        responses += r["chosen"] + r["rejected"]
    rewards = engine.score(prompts, responses, desc="rmbench")
    samples, items = [], {}
    for n, r in enumerate(rows):
        rc, rr = rewards[2 * K * n : 2 * K * n + K], rewards[2 * K * n + K : 2 * K * (n + 1)]
        outcome = [[rc[i] > rr[j] for j in range(K)] for i in range(K)]
        items.setdefault(r["domain"], []).append((r["prompt"], outcome))
        samples.append({"benchmark": "rmbench", "id": r["id"], "domain": r["domain"], "raw_domain": r["raw_domain"],
                        "rewards_chosen": rc, "rewards_rejected": rr, "outcomes": outcome,
                        "correct": sum(map(sum, outcome)) / (K * K)})
    order = [d for d in dict.fromkeys(DOMAINS.values()) if d in items]
    domains = {d: matrix_scores([o for _, o in items[d]]) for d in order}

    def mean_over(key):
        return sum(domains[d][key] for d in order) / len(order)

    entry = {"score": mean_over("score"), "metrics": rmbench_metrics({d: items[d] for d in order}, int(seed)),
             "ci_method": CI_METHOD + "; strata = domains",
             "hard": mean_over("hard"), "normal": mean_over("normal"), "easy": mean_over("easy"),
             "sections": {d: domains[d]["score"] for d in order}, "domains": domains,
             "styles": list(STYLES), "n": len(rows), "complete": set(order) == set(DOMAINS.values()),
             "scoring": "RM-Bench: M[i][j] = P(r(chosen_i) > r(rejected_j)), strict; hard = upper triangle, "
                        "normal = diagonal, easy = lower triangle; domain = mean of 9 cells; score = mean of "
                        "domains (safety pools safety-refuse and safety-response)",
             "data": info}
    return entry, samples
