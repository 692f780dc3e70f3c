"""Augmentations: causal (degrade chosen / upgrade rejected along one attribute), neutral (ties), and RRM.

    synthetic, counts = augment_pairs("crome", train_pairs, rubrics, cfg.augment, generator=None)

Every output record is a training example in one schema::

    {"id", "prompt", "chosen", "rejected", "label": "pref" | "tie", "kind": "causal" | "neutral" | "rrm",
     "family": "train.<attribute>.<edit>" | "train.neutral.irrelevant_query" | ..., "attribute", "direction",
     "source_id"}

For ``label: tie`` the order of chosen/rejected carries no meaning.

- ``crome``: for each original pair, up to ``max_causal_per_pair`` rubric attributes (seeded order): degrade
  the chosen answer -> (chosen > degraded); if ``upgrades``, upgrade the rejected answer -> (upgraded >
  rejected). Irrelevant-Query Neutrals: ``round(neutral_ratio * n_pairs)`` pairs (originals or causal ones,
  seeded) attached to the prompt of another pair -> tie. Offline style ties (``style_ties``, on by default):
  ``round(style_tie_ratio * n_pairs)`` answers, each with its restyling by a training-only ``train.style.*``
  family (crome_audit/train/style.py) -> tie. Optional style-only neutrals from the generator.
- ``rrm`` (arXiv 2409.13156): per pair, ``rrm_per_pair`` times, an answer to another prompt j: (prompt_i,
  chosen_i > answer_j) and the tie (prompt_i, chosen_j ~ rejected_j) -- neither answers prompt i.
- ``bt``: no synthetic pairs.
"""

from __future__ import annotations

import random
from collections import Counter

from ..data import prompt_text
from ..errors import InputError
from .config import AugmentConfig
from .interventions import Context, DonorPool, for_attribute, n_tokens
from .paraphrase import neutral_edit
from .style import style_tie

IQN_FAMILY = "train.neutral.irrelevant_query"
STYLE_FAMILY = "train.neutral.style_rewrite"
RRM_PREF = "train.rrm.cross_prompt"
RRM_TIE = "train.rrm.off_prompt_tie"


def _other_prompt_index(i: int, pairs: list[dict], rng: random.Random) -> int | None:
    if len(pairs) < 2:
        return None
    mine = prompt_text(pairs[i]["prompt"]).strip()
    for _ in range(20):
        j = rng.randrange(len(pairs))
        if j != i and prompt_text(pairs[j]["prompt"]).strip() != mine:
            return j
    return None


def _example(prompt, chosen, rejected, label, kind, family, attribute, direction, source_id, n):
    return {"id": f"{kind}-{n}", "prompt": prompt, "chosen": chosen, "rejected": rejected, "label": label,
            "kind": kind, "family": family, "attribute": attribute, "direction": direction,
            "source_id": source_id}


def donor_pool(pairs: list[dict]) -> DonorPool:
    """Every answer of the training pairs with its prompt: the off-topic passages of the relevance edit."""
    return DonorPool([(prompt_text(p["prompt"]).strip(), p[side]) for p in pairs for side in ("chosen", "rejected")])


def edit_size(text: str, spans) -> int:
    """Tokens of inserted or substituted material: the replacements of the spans that changed (the data audit's
    ``edit_span`` feature, crome_audit/data_audit.py)."""
    return sum(n_tokens(new) for s, e, new in spans if text[s:e] != new)


# the audited surface feature that IS a causal attribute: a safety pair is a refusal against a compliance, so its
# refusal feature is the label itself (docs/data-audit.md); every other feature stays equal in its pairs
CAUSAL_FEATURE = {"safety": ("refusal",)}
DEGRADE_ATTEMPTS = 8  # draws of one family's edit per answer before the next family (a draw may have no neutral twin)
SIZE_IMBALANCE = 1  # per family and sign pattern, |#(pattern) - #(its mirror image)| stays at most this


def _sign(x: int) -> int:
    return (x > 0) - (x < 0)


def _offline_causal(pairs, rubrics, cfg, rng, out, counts):
    donors = donor_pool(pairs)
    imbalance: Counter = Counter()  # (family, pattern) -> #(pattern) - #(mirror): crome_audit/train/paraphrase.py
    for pair in pairs:
        attrs = list(rubrics.get(pair["id"], []))
        rng.shuffle(attrs)
        ctx = Context(prompt=prompt_text(pair["prompt"]).strip(), donors=donors)
        made = 0
        for attr in attrs:
            if made >= cfg.max_causal_per_pair:
                break
            did = False
            for direction, side in (("degrade", "chosen"), ("upgrade", "rejected")):
                if direction == "upgrade" and not cfg.upgrades:
                    continue
                edits = for_attribute(attr, direction)
                rng.shuffle(edits)  # several families per attribute: each gets its share
                for edit in edits:
                    made_pair = _causal_pair(pair[side], edit, rng, ctx, cfg, imbalance, counts)
                    if made_pair is None:
                        continue
                    kept, new, kept_size, size = made_pair
                    # the pair is (answer, its degraded copy) or (its upgraded copy, answer): both from pair[side]
                    chosen, rejected = (kept, new) if direction == "degrade" else (new, kept)
                    sizes = ({"chosen": kept_size, "rejected": size} if direction == "degrade"
                             else {"chosen": size, "rejected": kept_size})
                    out.append({**_example(pair["prompt"], chosen, rejected, "pref", "causal", edit.family, attr,
                                           direction, pair["id"], len(out)), "edit_tokens": sizes})
                    counts[edit.family] += 1
                    did = True
                    break
            made += did


def _causal_pair(answer, edit, rng, ctx, cfg, imbalance, counts):
    """(kept copy, edited copy, kept copy's edit size, edited copy's edit size), or None. Without neutral edits the
    kept copy is the answer itself; with them it is a neutral twin equal to the edited copy on every audited surface
    feature but length and edit size (crome_audit/train/paraphrase.py); at most one of those two differs, and per
    family the preferred side is longer as often as shorter and its edit larger as often as smaller (each within
    SIZE_IMBALANCE), so no linear combination of the features tells the preferred side."""
    for _ in range(DEGRADE_ATTEMPTS if cfg.neutral_edits else 1):
        edited = edit.edit(answer, rng, ctx)
        if edited is None:
            return None
        size = edit_size(answer, edited.spans)
        if not cfg.neutral_edits:
            return answer, edited.text, 0, size

        def balanced(length_sign, size_sign, family=edit.family):
            if length_sign and size_sign:  # one feature apart at most: then balanced signs are chance for any
                return False               # linear model, whatever the magnitudes
            key, sign = _mirror_key((length_sign, size_sign))
            return abs(imbalance[family, key] + sign) <= SIZE_IMBALANCE

        neutral = neutral_edit(answer, edited.text, size, rng, accept=balanced,
                               ignore=CAUSAL_FEATURE.get(edit.attribute, ()))
        if neutral is None:
            counts["causal_without_neutral_edit"] += 1
            continue
        kept_size = edit_size(answer, neutral.spans)
        key, sign = _mirror_key((_sign(n_tokens(neutral.text) - n_tokens(edited.text)), _sign(kept_size - size)))
        imbalance[edit.family, key] += sign
        return neutral.text, edited.text, kept_size, size
    return None


def _mirror_key(pattern: tuple[int, int]) -> tuple[tuple[int, int], int]:
    """(the larger of a sign pattern and its mirror image, +1 if it is the pattern itself, -1 if the mirror; 0 for
    the all-equal pattern, which needs no balancing)."""
    mirror = (-pattern[0], -pattern[1])
    if pattern == mirror:
        return pattern, 0
    return max(pattern, mirror), 1 if pattern >= mirror else -1


def _style_ties(pairs, cfg, rng, out, counts):
    """Offline style-neutral ties: (answer, answer restyled by a train.style.* family) -> tie."""
    n = round(cfg.style_tie_ratio * len(pairs))
    for _ in range(n):
        pair = pairs[rng.randrange(len(pairs))]
        answer = pair["chosen"] if rng.random() < 0.5 else pair["rejected"]
        made = style_tie(answer, rng)
        if made is None:
            continue
        family, attribute, restyled = made
        a, b = (answer, restyled) if rng.random() < 0.5 else (restyled, answer)
        out.append(_example(pair["prompt"], a, b, "tie", "neutral", family, attribute, "neutral", pair["id"],
                            len(out)))
        counts[family] += 1


def _generator_causal(pairs, rubrics, cfg, rng, generator, out, counts):
    from ..generate.tasks import counterfactual_rewrites

    items = []
    for pair in pairs:
        attrs = list(rubrics.get(pair["id"], []))
        rng.shuffle(attrs)
        for attr in attrs[: cfg.max_causal_per_pair]:
            items.append({"prompt": pair["prompt"], "response": pair["chosen"], "attribute": attr,
                          "direction": "degrade", "pair": pair})
            if cfg.upgrades:
                items.append({"prompt": pair["prompt"], "response": pair["rejected"], "attribute": attr,
                              "direction": "upgrade", "pair": pair})
    if not items:
        return
    results = counterfactual_rewrites(generator, [{k: v for k, v in it.items() if k != "pair"} for it in items])
    _count_statuses(results, counts)
    for item, res in zip(items, results):
        if not res.ok:
            continue
        pair, attr, direction = item["pair"], item["attribute"], item["direction"]
        family = f"generator.{attr}.{direction}"
        chosen, rej = (pair["chosen"], res.text) if direction == "degrade" else (res.text, pair["rejected"])
        size = n_tokens(res.text)  # a rewrite substitutes the whole answer
        sizes = {"chosen": 0, "rejected": size} if direction == "degrade" else {"chosen": size, "rejected": 0}
        out.append({**_example(pair["prompt"], chosen, rej, "pref", "causal", family, attr, direction, pair["id"],
                               len(out)), "edit_tokens": sizes})
        counts[family] += 1
    if not any(r.ok for r in results):
        raise InputError(f"generator produced no valid rewrite for any of {len(items)} requests "
                         f"(statuses: {results.counts}; first output: {results[0].raw[:80]!r}); check the "
                         f"generator model/server")


def _count_statuses(results, counts):
    for status, n in results.rejected.items():
        counts["generator_rejected"] += n
        counts[f"generator_rejected.{status}"] += n


def _neutrals(pairs, pool, cfg, rng, out, counts):
    n = round(cfg.neutral_ratio * len(pairs))
    sources = pairs + pool
    if len(pairs) < 2 or not sources:
        return
    for _ in range(n):
        src = sources[rng.randrange(len(sources))]
        mine = prompt_text(src["prompt"]).strip()
        other = None
        for _ in range(20):
            cand = pairs[rng.randrange(len(pairs))]
            if prompt_text(cand["prompt"]).strip() != mine:
                other = cand
                break
        if other is None:
            continue
        out.append(_example(other["prompt"], src["chosen"], src["rejected"], "tie", "neutral", IQN_FAMILY, None,
                            None, src.get("source_id", src["id"]), len(out)))
        counts[IQN_FAMILY] += 1


def _style_neutrals(pairs, cfg, rng, generator, out, counts):
    from ..generate.tasks import neutral_restyles

    results = neutral_restyles(generator, [{"prompt": p["prompt"], "response": p["chosen"]} for p in pairs])
    _count_statuses(results, counts)
    for pair, res in zip(pairs, results):
        if res.ok:
            out.append(_example(pair["prompt"], pair["chosen"], res.text, "tie", "neutral", STYLE_FAMILY, None,
                                "neutral", pair["id"], len(out)))
            counts[STYLE_FAMILY] += 1


def _rrm(pairs, cfg, rng, out, counts):
    for i, pair in enumerate(pairs):
        for _ in range(cfg.rrm_per_pair):
            j = _other_prompt_index(i, pairs, rng)
            if j is None:
                continue
            off = pairs[j]
            off_answer = off["chosen"] if rng.random() < 0.5 else off["rejected"]
            out.append(_example(pair["prompt"], pair["chosen"], off_answer, "pref", "rrm", RRM_PREF, "relevance",
                                "degrade", pair["id"], len(out)))
            out.append(_example(pair["prompt"], off["chosen"], off["rejected"], "tie", "rrm", RRM_TIE, None, None,
                                pair["id"], len(out)))
            counts[RRM_PREF] += 1
            counts[RRM_TIE] += 1


def augment_pairs(method: str, pairs: list[dict], rubrics: dict, cfg: AugmentConfig, generator=None):
    """Build the synthetic examples of a method. Returns (records, counts)."""
    rng = random.Random(cfg.seed)
    out: list[dict] = []
    counts: Counter = Counter()
    if method == "crome":
        if cfg.rewrites == "generator":
            _generator_causal(pairs, rubrics, cfg, rng, generator, out, counts)
        else:
            _offline_causal(pairs, rubrics, cfg, rng, out, counts)
        causal = list(out)
        _neutrals(pairs, causal, cfg, rng, out, counts)
        if cfg.style_ties:
            _style_ties(pairs, cfg, rng, out, counts)
        if cfg.style_neutrals:
            _style_neutrals(pairs, cfg, rng, generator, out, counts)
    elif method == "rrm":
        _rrm(pairs, cfg, rng, out, counts)
    summary = {"originals": len(pairs), "synthetic": len(out),
               "causal": sum(r["kind"] == "causal" for r in out),
               "neutral": sum(r["label"] == "tie" for r in out),
               "preference": sum(r["label"] == "pref" for r in out),
               "by_family": dict(sorted((k, v) for k, v in counts.items()
                                         if not k.startswith(("generator_rej", "causal_without")))),
               "causal_without_neutral_edit": counts.get("causal_without_neutral_edit", 0),
               "generator_rejected": counts.get("generator_rejected", 0),
               "generator_rejected_by_status": {k.split(".", 1)[1]: v for k, v in sorted(counts.items())
                                                if k.startswith("generator_rejected.")}}
    return out, summary


def heldout_neutrals(pairs: list[dict], seed: int) -> list[dict]:
    """Irrelevant-query ties from held-out pairs (tie-consistency during training; never trained on)."""
    rng = random.Random(seed + 7)
    out = []
    for i, pair in enumerate(pairs):
        j = _other_prompt_index(i, pairs, rng)
        if j is not None:
            out.append({"prompt": pairs[j]["prompt"], "a": pair["chosen"], "b": pair["rejected"]})
    return out
