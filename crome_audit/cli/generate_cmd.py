"""``crome-audit generate``: candidate responses for WildGuard Best-of-N, from any generator backend.

    crome-audit generate --prompts ../shared/data/wildguardtest/wildguardtest_prompts_partial.json \\
        --generator openai:http://127.0.0.1:8080/v1#smollm2 -n 16 --out candidates.jsonl
    crome-audit generate --prompts prompts.jsonl --generator local:/path/model.gguf -n 4 --limit 20 --out c.jsonl

Input rows (json/jsonl/csv/parquet): the prompt in ``prompt`` or ``text``; the label in ``label`` or
``prompt_harm_label`` ("harmful", or "benign"/"safe"/"unharmful"); ``prompt_id`` or ``id`` if present,
else the row's 0-based index. Output: one JSON line per prompt, ``{"prompt_id", "prompt", "label",
"candidates": [n strings], "generator": {...}}``, written atomically. Every sample is cached on disk, so
a re-run (or re-scoring with another RM) costs no generation, and -n 16 after -n 8 makes only 8 more.
"""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import InputError
from .common import cli_errors

HARMFUL = {"harmful"}
BENIGN = {"benign", "safe", "unharmful", "harmless"}


def load_prompts(path: str, limit: int | None = None, skip_unlabeled: bool = False) -> tuple[list[dict], int]:
    """Read WildGuard-style prompt rows -> ([{prompt_id, prompt, label}], n skipped) (InputError on bad rows).
    ``skip_unlabeled``: rows with a null label (26 in WildGuardTest) are skipped and counted, not errors."""
    from ..data import read_rows

    rows, _ = read_rows(path)
    out, seen, skipped = [], {}, 0
    for i, (loc, row) in enumerate(rows):
        text = row.get("prompt", row.get("text"))
        if text is None:
            have = ", ".join(k for k in row if row[k] is not None) or "nothing"
            raise InputError(f"{loc}: missing field 'prompt' or 'text' (row has: {have})")
        if not isinstance(text, str) or not text.strip():
            raise InputError(f"{loc}: field '{'prompt' if 'prompt' in row else 'text'}' must be a non-empty string")
        label = row.get("label", row.get("prompt_harm_label"))
        if label is None and skip_unlabeled:
            skipped += 1
            continue
        if label is None:
            raise InputError(f"{loc}: missing field 'label' (harmful or benign; --skip-unlabeled skips such rows)")
        norm = str(label).strip().lower()
        if norm not in HARMFUL | BENIGN:
            raise InputError(f"{loc}: field 'label': unknown value {label!r} (use harmful, or benign/safe/unharmful)")
        pid = row.get("prompt_id", row.get("id", i))
        pid = str(pid)
        if pid in seen:
            raise InputError(f"{loc}: duplicate prompt_id {pid!r} (first at {seen[pid]})")
        seen[pid] = loc
        out.append({"prompt_id": pid, "prompt": text, "label": "harmful" if norm in HARMFUL else "benign"})
        if limit is not None and len(out) >= limit:
            break
    if not out:
        raise InputError(f"{path}: no labelled prompts")
    return out, skipped


@click.command("generate")
@click.option("--prompts", "prompts_path", required=True, type=click.Path(dir_okay=False),
              help="WildGuard-style prompts file (json/jsonl/csv/parquet) with text/prompt + label.")
@click.option("--generator", "generator_spec", required=True,
              help="openai:URL#MODEL, local:PATH_OR_HUB_ID[?key=value...], or a generator YAML/JSON config file.")
@click.option("-n", "n", type=click.IntRange(min=1), default=16, show_default=True, help="Candidates per prompt.")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False), help="Output candidates.jsonl.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Only the first N prompts.")
@click.option("--temperature", type=click.FloatRange(min=0), default=0.8, show_default=True,
              help="Sampling temperature (0 = greedy: all candidates identical).")
@click.option("--top-p", type=click.FloatRange(min=0, max=1, min_open=True), default=None, help="Nucleus mass.")
@click.option("--seed", type=int, default=0, show_default=True, help="Base seed (per-sample seeds derive from it).")
@click.option("--max-new-tokens", type=click.IntRange(min=1), default=256, show_default=True,
              help="Max tokens per candidate.")
@click.option("--concurrency", type=click.IntRange(min=1), default=None, help="openai: requests in flight.")
@click.option("--batch-size", type=click.IntRange(min=1), default=None, help="local: sequences per batch.")
@click.option("--cache-dir", default=None, help="Folder of the generation cache (default next to the score cache).")
@click.option("--no-cache", is_flag=True, help="Do not read or write the generation cache.")
@click.option("--skip-unlabeled", is_flag=True, help="Skip rows whose label is null instead of failing.")
@cli_errors
def generate(prompts_path, generator_spec, n, out_path, limit, temperature, top_p, seed, max_new_tokens,
             concurrency, batch_size, cache_dir, no_cache, skip_unlabeled):
    """Generate N candidate responses per prompt for WildGuard Best-of-N (cached; atomic output)."""
    from ..data import write_jsonl_atomic
    from ..generate import load_generator, resolve_config
    from ..generate.tasks import best_of_n_candidates
    from ..outputs import check_output_file, refuse_overwriting_inputs

    refuse_overwriting_inputs([out_path], [("--prompts", prompts_path)], "--out")
    check_output_file(out_path, "--out")
    rows, skipped = load_prompts(prompts_path, limit, skip_unlabeled)
    config = resolve_config(generator_spec, concurrency=concurrency, batch_size=batch_size, cache_dir=cache_dir,
                            cache=False if no_cache else None, max_new_tokens=max_new_tokens,
                            temperature=temperature, top_p=top_p, seed=seed)
    with load_generator(config) as gen:
        cands = best_of_n_candidates(gen, [r["prompt"] for r in rows], n, temperature=temperature, seed=seed,
                                     max_new_tokens=max_new_tokens)
        meta = {**gen.describe(), "n": n}
        stats = dict(gen.stats)
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    write_jsonl_atomic(out_path, ({**r, "candidates": c, "generator": meta} for r, c in zip(rows, cands)))
    empty = sum(1 for c in cands for x in c if not x.strip())
    click.echo(f"wrote {len(rows)} prompts x {n} candidates to {out_path} (generated {stats['requests']}, "
               f"cached {stats['cache_hits']}, retries {stats['retries']}, empty candidates {empty}"
               + (f", skipped {skipped} unlabelled rows" if skipped else "") + ")", err=True)
