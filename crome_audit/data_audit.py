"""Shortcut audit of preference data: how well does each surface feature predict which side is preferred?

    from crome_audit.data_audit import audit_pairs, format_table
    result = audit_pairs(pairs)                   # pairs: dicts with prompt, chosen, rejected (crome_audit.data)
    result["shallow"]["auc"], result["features"]["length"]["auc"]
    print(format_table(result))

    crome-audit data pairs.jsonl --out reports/data       # the same, written to reports/data/data_audit.json

Features (per answer, computed on its text alone; ``FEATURES`` below): token length (the ``length`` RM's unit),
markdown headers / bullets / numbered items / bold spans, code fences, emoji, exclamation marks, a flattering or
agreeing opener, hedges, refusal (crome_audit.refusal, the one refusal detector), and for synthetic pairs
(records carrying ``edit_tokens``, as the trainer's augment stage writes them) ``edit_span``: how many tokens of
the answer are inserted or substituted material.

Per feature, over the pairs: ``chosen_more`` / ``chosen_less`` = share of pairs whose chosen answer has more /
less of it; the *pairwise AUC* = P(the feature ranks the chosen answer above the rejected one), ties counted half
(= chosen_more + ½·ties: the accuracy of "prefer the side with more of it"); and the **direction-free AUC**
``auc = |AUC - 0.5| + 0.5`` (0.5 = says nothing, 1 = decides every pair, in either direction). Its 95% CI is
the image of the pairwise AUC's CI under that fold: when the pairwise CI covers 0.5 the direction-free CI starts
at exactly 0.5 ("no shortcut shown"). CIs are percentile bootstraps that resample prompts (a prompt's pairs move
together; crome_audit.stats.Resampler).

The **shallow classifier**: logistic regression (numpy, no intercept, L2) on the per-pair feature differences
``log1p(f(chosen)) - log1p(f(rejected))``, antisymmetric by construction (swapping the sides negates its
score). Its AUC is the pairwise AUC of its out-of-fold scores, ``N_FOLDS``-fold cross-validated with folds split
by prompt (no prompt is in a fold's training and test part), CI by the same prompt bootstrap; ``top_features``
are the largest standardised weights of the fit on all pairs (+: the chosen side has more). It answers "how much
of this data could a model learn without reading it". Ties (``label: tie`` records) carry no preference and are
counted, not scored. Records with a ``family`` (the trainer's synthetic set) also get a per-family audit.

No torch here.
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np

from .data import prompt_text
from .errors import InputError
from .refusal import is_refusal
from .stats import Resampler, Units, percentile_ci, single_threaded_blas, tie_credit

N_FOLDS = 5
N_BOOT = 1000
L2 = 1.0  # ridge on the standardised weights: keeps a feature that never varies, or a perfect separator, finite
MIN_FAMILY_PAIRS = 20  # smaller families are counted but not audited (a CV AUC on a handful of pairs says nothing)
TOP_FEATURES = 5
SHORTCUT_AUC = 0.55  # the trainer warns above this by default (train.data_audit_warn_auc)

TOKEN_RE = re.compile(r"\w+|[^\w\s]")  # the `length` reference RM's unit (crome_audit.models.simple)
HEADER_RE = re.compile(r"^[ \t]*#{1,6}[ \t]+\S", re.MULTILINE)
BULLET_RE = re.compile(r"^[ \t]*[-*+\u2022][ \t]+\S", re.MULTILINE)
NUMBERED_RE = re.compile(r"^[ \t]*\d+[.)][ \t]+\S", re.MULTILINE)
BOLD_RE = re.compile(r"\*\*[^*\n]+\*\*|__[^_\n]+__")
FENCE_RE = re.compile(r"^[ \t]*(```|~~~)", re.MULTILINE)
EMOJI_RE = re.compile("[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B50\u2B55\u2705\u203C\u2049]")
OPENER_RE = re.compile(
    r"^\W*(great|good|excellent|wonderful|fantastic|interesting|thoughtful|awesome) (question|point|idea|thinking)"
    r"|^\W*(what a (great|good|wonderful|thoughtful|fantastic)|you('re| are) (absolutely |completely |so )?right"
    r"|absolutely|certainly|of course|sure|definitely|i (completely |totally |fully )?agree|i love (this|that|your)"
    r"|thank(s| you) for|i'd be (happy|glad|delighted)|i would be (happy|glad|delighted)|happy to help"
    r"|glad you asked|that's a (great|good|wonderful|fantastic)|that is a (great|good|wonderful|fantastic))\b")
HEDGE_RE = re.compile(
    r"\b(might|may|perhaps|possibly|probably|likely|unlikely|it seems|seems to|i think|i believe|i guess|"
    r"generally|usually|typically|often|sometimes|could be|not sure|not certain|it depends|depending on|"
    r"somewhat|sort of|kind of|roughly|approximately|arguably|in some cases|tends? to)\b")


def n_tokens(text: str) -> int:
    return len(TOKEN_RE.findall(text))


def _opener(text: str) -> float:
    return float(bool(OPENER_RE.search(text.lstrip()[:120].lower().replace("\u2019", "'"))))


# name -> (what it counts, function of the answer text)
FEATURES = {
    "length": ("tokens (the length RM's unit)", n_tokens),
    "md_headers": ("markdown header lines", lambda t: len(HEADER_RE.findall(t))),
    "md_bullets": ("bulleted lines", lambda t: len(BULLET_RE.findall(t))),
    "md_numbered": ("numbered lines", lambda t: len(NUMBERED_RE.findall(t))),
    "md_bold": ("bold spans", lambda t: len(BOLD_RE.findall(t))),
    "code_fences": ("code fence lines", lambda t: len(FENCE_RE.findall(t))),
    "emoji": ("emoji", lambda t: len(EMOJI_RE.findall(t))),
    "exclamations": ("exclamation marks", lambda t: t.count("!")),
    "flattering_opener": ("opens by flattering or agreeing (1/0)", _opener),
    "hedges": ("hedging words", lambda t: len(HEDGE_RE.findall(t.lower()))),
    "refusal": ("is a refusal (crome_audit.refusal; 1/0)", lambda t: float(is_refusal(t))),
}
EDIT_SPAN = "edit_span"


def surface_features(text: str) -> dict[str, float]:
    """The audit's per-answer features of one text (``FEATURES``, edit_span aside). The augment stage uses it to
    keep offline causal pairs equal on every one of them (crome_audit/train/paraphrase.py)."""
    return {name: float(fn(text)) for name, (_, fn) in FEATURES.items()}

EDIT_SPAN_HELP = "tokens of inserted or substituted material (synthetic pairs: the record's edit_tokens)"


# ----------------------------------------------------------------------------- features


def _edit_tokens(rec: dict, where: str) -> tuple[float, float] | None:
    edits = rec.get("edit_tokens")
    if edits is None:
        return None
    try:
        return float(edits["chosen"]), float(edits["rejected"])
    except (TypeError, KeyError, ValueError):
        raise InputError(f"{where}: field 'edit_tokens' must be {{\"chosen\": N, \"rejected\": N}}") from None


def feature_matrix(pairs: list[dict], source: str = "data") -> tuple[list[str], np.ndarray, np.ndarray, list[str]]:
    """(feature names, chosen values (n, F), rejected values (n, F), prompt keys) for the preference pairs."""
    edits = [_edit_tokens(p, f"{source}: pair {p.get('id', i)}") for i, p in enumerate(pairs)]
    with_edits = any(e is not None for e in edits)
    names = list(FEATURES) + ([EDIT_SPAN] if with_edits else [])
    chosen = np.zeros((len(pairs), len(names)))
    rejected = np.zeros((len(pairs), len(names)))
    for i, p in enumerate(pairs):
        chosen[i, :len(FEATURES)] = list(surface_features(p["chosen"]).values())
        rejected[i, :len(FEATURES)] = list(surface_features(p["rejected"]).values())
        if with_edits:
            chosen[i, -1], rejected[i, -1] = edits[i] or (0.0, 0.0)
    prompts = [prompt_text(p["prompt"]).strip() for p in pairs]
    return names, chosen, rejected, prompts


# ----------------------------------------------------------------------------- statistics


def _fold_ci(ci: list[float] | None) -> list[float] | None:
    """The direction-free CI: the image of the pairwise AUC's CI under a -> |a - 0.5| + 0.5."""
    if ci is None:
        return None
    lo, hi = ci
    if lo <= 0.5 <= hi:
        return [0.5, max(hi, 1 - lo)]
    return sorted([abs(lo - 0.5) + 0.5, abs(hi - 0.5) + 0.5])


def _auc_entry(rs: Resampler, credit: np.ndarray, clusters: np.ndarray) -> dict:
    point, boot = rs.ratio(Units(credit, clusters))
    ci = percentile_ci(boot)
    return {"auc": abs(point - 0.5) + 0.5, "auc_ci": _fold_ci(ci), "pairwise_auc": point, "pairwise_auc_ci": ci}


def _fit_logistic(x: np.ndarray, l2: float = L2, iters: int = 50) -> np.ndarray:
    """Weights w minimising sum log(1 + exp(-x_i w)) + l2/2 |w|^2 (every row is 'chosen minus rejected'): Newton."""
    w = np.zeros(x.shape[1])
    for _ in range(iters):
        z = x @ w
        p = 0.5 * (1 + np.tanh(-z / 2))  # sigmoid(-z), stable
        grad = -(x * p[:, None]).sum(axis=0) + l2 * w
        hess = (x * (p * (1 - p))[:, None]).T @ x + l2 * np.eye(x.shape[1])
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return w


def _scale(x: np.ndarray) -> np.ndarray:
    """Per-column RMS (no centring: centring would break the model's antisymmetry); 1 where a column is all 0."""
    rms = np.sqrt((x ** 2).mean(axis=0))
    return np.where(rms > 0, rms, 1.0)


def _shallow(rs: Resampler, names: list[str], diff: np.ndarray, clusters: np.ndarray, seed: int) -> dict:
    n_clusters = int(clusters.max()) + 1
    rng = np.random.default_rng(seed)
    fold_of_cluster = rng.permutation(n_clusters) % N_FOLDS
    folds = fold_of_cluster[clusters]
    scores = np.zeros(len(diff))
    for k in range(N_FOLDS):
        test = folds == k
        if not test.any() or test.all():
            continue
        sc = _scale(diff[~test])
        w = _fit_logistic(diff[~test] / sc)
        scores[test] = (diff[test] / sc) @ w
    entry = _auc_entry(rs, tie_credit(scores, 0.0), clusters)
    sc = _scale(diff)
    w = _fit_logistic(diff / sc)
    order = np.argsort(-np.abs(w), kind="stable")
    top = [{"feature": names[j], "weight": round(float(w[j]), 4),
            "direction": "chosen has more" if w[j] > 0 else "chosen has less"}
           for j in order[:TOP_FEATURES] if abs(w[j]) > 1e-6]
    return {"auc": entry["pairwise_auc"], "auc_ci": entry["pairwise_auc_ci"], "n_folds": N_FOLDS,
            "top_features": top}


def _audit_block(names, chosen, rejected, prompts, seed: int, n_boot: int) -> dict:
    clusters = np.unique(np.asarray(prompts, dtype=object).astype(str), return_inverse=True)[1].reshape(-1)
    rs = Resampler(int(clusters.max()) + 1, seed=seed, n_boot=n_boot)
    features = {}
    for j, name in enumerate(names):
        c, r = chosen[:, j], rejected[:, j]
        entry = _auc_entry(rs, tie_credit(c, r), clusters)
        features[name] = {"auc": entry["auc"], "auc_ci": entry["auc_ci"],
                          "chosen_more": float((c > r).mean()), "chosen_less": float((c < r).mean()),
                          "pairwise_auc": entry["pairwise_auc"], "pairwise_auc_ci": entry["pairwise_auc_ci"],
                          "counts": FEATURES[name][0] if name in FEATURES else EDIT_SPAN_HELP}
    diff = np.log1p(chosen) - np.log1p(rejected)
    shallow = _shallow(rs, names, diff, clusters, seed)
    return {"n_pairs": int(len(prompts)), "n_prompts": int(clusters.max()) + 1, "features": features,
            "shallow": shallow}


def audit_pairs(records: list[dict], *, seed: int = 0, n_boot: int = N_BOOT, source: str = "data",
                by_family: bool = True) -> dict:
    """The data audit of ``records`` (pairs as crome_audit.data loads them; ``label: tie`` records are skipped).

    Returns ``{n_pairs, n_prompts, n_ties, features: {name: {auc, auc_ci, chosen_more, chosen_less, ...}},
    shallow: {auc, auc_ci, top_features}, families: {family: {...same...}}}`` (``families`` only when records
    carry a ``family``)."""
    pairs, n_ties = [], 0
    for i, r in enumerate(records):
        if r.get("label") == "tie":
            n_ties += 1
            continue
        if not isinstance(r.get("chosen"), str) or not isinstance(r.get("rejected"), str):
            raise InputError(f"{source}: record {r.get('id', i)}: needs 'chosen' and 'rejected' answers "
                             "(the data audit reads preference pairs, not single responses)")
        pairs.append(r)
    if len(pairs) < 2:
        raise InputError(f"{source}: {len(pairs)} preference pair(s) ({n_ties} ties skipped); the data audit "
                         "needs at least 2")
    names, chosen, rejected, prompts = feature_matrix(pairs, source)
    if len(set(prompts)) < 2:
        raise InputError(f"{source}: every pair has the same prompt; the prompt-clustered CIs need at least 2")
    with single_threaded_blas():
        out = {"n_ties_skipped": n_ties, **_audit_block(names, chosen, rejected, prompts, seed, n_boot)}
        fams = Counter(str(p["family"]) for p in pairs if p.get("family"))
        if by_family and fams:
            out["families"] = {}
            for fam, n in sorted(fams.items()):
                idx = np.array([i for i, p in enumerate(pairs) if str(p.get("family")) == fam])
                fam_prompts = [prompts[i] for i in idx]
                if n < MIN_FAMILY_PAIRS or len(set(fam_prompts)) < 2:
                    out["families"][fam] = {"n_pairs": n, "skipped": f"fewer than {MIN_FAMILY_PAIRS} pairs"}
                    continue
                out["families"][fam] = _audit_block(names, chosen[idx], rejected[idx], fam_prompts, seed, n_boot)
    out["method"] = {"auc": "direction-free pairwise AUC |P(feature ranks chosen above rejected) - 0.5| + 0.5, "
                            "ties half", "ci": f"95% percentile bootstrap over prompts ({n_boot} replicates)",
                     "shallow": f"logistic regression on log1p feature differences, {N_FOLDS}-fold CV split by "
                                "prompt; auc = pairwise AUC of out-of-fold scores", "seed": seed}
    return out


# ----------------------------------------------------------------------------- terminal


def _ci(ci) -> str:
    return f"[{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "[-]"


def shallow_line(result: dict, label: str = "shallow classifier") -> str:
    sh = result["shallow"]
    top = ", ".join(f"{t['feature']}{'+' if t['weight'] > 0 else '-'}" for t in sh["top_features"][:3]) or "none"
    return (f"{label}: AUC {sh['auc']:.3f} {_ci(sh['auc_ci'])} on {result['n_pairs']} pairs "
            f"({result['n_prompts']} prompts); top features: {top}")


def format_table(result: dict, title: str = "data audit") -> str:
    """The terminal table: one row per feature, then the shallow classifier and the families."""
    lines = [f"{title}: {result['n_pairs']} preference pairs, {result['n_prompts']} prompts"
             + (f", {result['n_ties_skipped']} ties skipped" if result.get("n_ties_skipped") else ""),
             f"  {'feature':<18} {'chosen more':>11} {'chosen less':>11} {'AUC':>6}  95% CI",]
    for name, f in sorted(result["features"].items(), key=lambda kv: -kv[1]["auc"]):
        flag = "  <- shortcut" if f["auc_ci"] and f["auc_ci"][0] > SHORTCUT_AUC else ""
        lines.append(f"  {name:<18} {f['chosen_more']:>11.3f} {f['chosen_less']:>11.3f} {f['auc']:>6.3f}  "
                     f"{_ci(f['auc_ci'])}{flag}")
    lines.append("  " + shallow_line(result))
    for fam, block in (result.get("families") or {}).items():
        if "shallow" in block:
            lines.append(f"  family {fam}: " + shallow_line(block, "shallow AUC").split(": ", 1)[1])
        else:
            lines.append(f"  family {fam}: {block['n_pairs']} pairs ({block['skipped']})")
    return "\n".join(lines)
