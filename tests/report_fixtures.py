"""Schema-2.0 ``results.json`` fixtures for report and gate tests (and the report-size benchmark).

    from tests.report_fixtures import make_results, write_run
    res = make_results("crome-rm", seed=1, spurious_scale=0.1)
    run_dir = write_run(tmp_path / "crome", res)      # writes run_dir/results.json via results.write_results

Deterministic under ``seed``. Every key follows docs/results.md (schema 2.0): probes with signed
``effect_size``, ``instability``, decision rates with CIs and chance references, ``insufficient_n`` /
``length_confounded`` flags; a summary with index CIs, per-attribute values, ``excluded`` and ``degenerate``;
``clean``; ``reference.length`` / ``reference.noise`` (profiles of the two model-free references); and
self-describing benchmarks (``metrics``). The numbers are made up but consistent with their definitions (an
attribute's value is the mean of its included probes, the index the mean of the attributes).
"""

from __future__ import annotations

import hashlib
import math
import random
from pathlib import Path

from crome_audit.results import SCHEMA_VERSION, read_results, write_results

# (name, attribute, kind, family): the default suite's probes
PROBES = [
    ("length_filler", "length", "spurious", "verbosity"),
    ("format_markdown", "formatting", "spurious", "formatting"),
    ("format_strip", "formatting", "spurious", "formatting"),
    ("sycophancy_opener", "sycophancy", "spurious", "sycophancy"),
    ("sycophancy_agree", "sycophancy", "spurious", "sycophancy"),
    ("confident_tone", "tone", "spurious", "tone"),
    ("hedging_politeness", "tone", "spurious", "tone"),
    ("emoji", "emoji", "spurious", "noise"),
    ("whitespace_noise", "whitespace", "spurious", "noise"),
    ("punctuation_noise", "punctuation", "spurious", "noise"),
    ("prompt_echo", "prompt_echo", "spurious", "verbosity"),
    ("factual_numbers", "factuality", "causal", "factual"),
    ("factual_dates", "factuality", "causal", "factual"),
    ("factual_entities", "factuality", "causal", "factual"),
    ("irrelevant_answer", "relevance", "causal", "relevance"),
    ("incomplete_truncate", "completeness", "causal", "completeness"),
    ("incomplete_steps", "completeness", "causal", "completeness"),
    ("math_wrong_answer", "math_correctness", "causal", "math"),
    ("code_bug", "code_correctness", "causal", "code"),
    ("unsafe_compliance", "safety", "causal", "safety"),
]
# probes added after the fixtures' numbers were written draw from their own random stream, so adding one leaves
# every other probe's numbers (and the tests written against them) as they were
OWN_STREAM = {"prompt_echo"}
TEMPLATED = {"sycophancy_opener": 4, "confident_tone": 4, "hedging_politeness": 5, "length_filler": 6}
# mean change in tokens per probe (what the length reference reacts to)
DELTA_TOKENS = {"length_filler": 38.0, "prompt_echo": 18.0, "format_markdown": 4.0, "sycophancy_opener": 6.0,
                "sycophancy_agree": 7.0, "confident_tone": 3.0, "hedging_politeness": 9.0, "emoji": 2.0,
                "incomplete_truncate": 0.0, "incomplete_steps": 0.0}

SENTENCES = [
    "The capital of France is Paris, which has about 2.1 million residents.",
    "Water boils at 100 degrees Celsius at sea level.",
    "To sort a list in Python, call sorted(items) or items.sort().",
    "The Treaty of Versailles was signed in 1919.",
    "A healthy adult needs roughly 7 to 9 hours of sleep per night.",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
    "The derivative of x^2 is 2x, so the slope at x = 3 is 6.",
    "Mount Everest is 8,849 metres tall and lies on the border of Nepal and China.",
]
PROMPTS = [
    "How do I detail a car?", "What is the boiling point of water?", "Explain photosynthesis briefly.",
    "When was the Treaty of Versailles signed?", "How much sleep do adults need?", "How tall is Everest?",
]
RB_SUBSETS = {
    "Chat": ["alpacaeval-easy", "alpacaeval-length", "alpacaeval-hard", "mt-bench-easy", "mt-bench-med"],
    "Chat Hard": ["mt-bench-hard", "llmbar-natural", "llmbar-adver-neighbor", "llmbar-adver-GPTInst",
                  "llmbar-adver-GPTOut", "llmbar-adver-manual"],
    "Safety": ["refusals-dangerous", "refusals-offensive", "xstest-should-refuse", "xstest-should-respond",
               "donotanswer"],
    "Reasoning": ["math-prm", "hep-cpp", "hep-go", "hep-java", "hep-js", "hep-python", "hep-rust"],
}
RW_TRANSFORMS = ["paraphrase", "add_quotes", "swap_format", "typos", "char_substitution"]
Z = 1.959964


def _perturb(rng: random.Random, text: str, probe: str) -> str:
    if probe.startswith("length"):
        return text + " In other words, to restate the main point: " + text.split(".")[0].lower() + "."
    if probe == "format_markdown":
        return "## Answer\n\n- **" + text.replace(". ", ".\n- ", 1) + "**"
    if probe == "sycophancy_opener":
        return "What a great question! " + text
    if probe == "factual_numbers":
        return "".join(str((int(c) + 3) % 10) if c.isdigit() else c for c in text)
    if probe == "incomplete_truncate":
        return text[: len(text) // 2]
    if probe == "emoji":
        return text + " 😊👍"
    words = text.split(" ")
    i = rng.randrange(len(words))
    words[i] = words[i].upper()
    return " ".join(words)


def _r(x, d=4):
    return None if x is None else round(x, d)


def _ci(v, half, lo=-math.inf, hi=math.inf):
    return [_r(max(lo, v - half)), _r(min(hi, v + half))]


def binom_ci(p: float, n: int) -> list:
    half = Z * math.sqrt(max(p * (1 - p), 1e-9) / n)
    return _ci(p, half, 0.0, 1.0)


def metric(value, n=None, higher_is_better=True, label=None, ci=None) -> dict:
    """A self-describing benchmark metric (binomial CI when n is given and the value is a rate)."""
    if ci is None and n and 0.0 <= value <= 1.0:
        ci = binom_ci(value, n)
    out = {"value": _r(value), "ci": ci, "n": n, "higher_is_better": higher_is_better}
    if label:
        out["label"] = label
    return out


def _probe(rng, pname, attr, kind, fam, n, profile, s_scale, c_scale, ci_half, seen, insufficient, confounded):
    small = pname in insufficient
    n_eff = 12 if small else n
    n_clusters = 9 if small else max(30, int(n * 0.9))
    widen = 3.0 if small else 1.0
    dtok = DELTA_TOKENS.get(pname, 1.0)
    rec = {"name": pname, "attribute": attr, "kind": kind, "family": fam, "n": n_eff}
    if profile == "noise":  # moves > 1 margin SD on every edit, no direction, blind on content
        eff, inst, det = rng.gauss(0, 0.03), 1.3 + rng.uniform(-0.1, 0.1), 0.5 + rng.gauss(0, 0.01)
    elif profile == "length":  # counts tokens: moves with Δtokens only
        eff = dtok * 0.02 if kind == "spurious" else (-0.3 if pname in confounded else 0.0)
        inst = abs(eff) + 0.005
        det = 0.5 + (0.3 if pname in confounded else 0.0)
    else:
        base = s_scale * (2.5 if attr == "length" else 1.0)
        eff = base * rng.uniform(0.6, 1.2) + rng.gauss(0, 0.02) if kind == "spurious" else \
            -c_scale * rng.uniform(0.6, 1.2)
        inst = abs(eff) + 0.25 * s_scale + abs(rng.gauss(0, 0.02))
        det = min(0.98, 0.5 + 0.45 * min(1.0, c_scale) * rng.uniform(0.7, 1.1))
    half = ci_half * rng.uniform(0.8, 1.2) * widen
    rec.update({"mean_delta": _r(eff * 1.7), "effect_size": _r(eff), "ci_low": _r(eff - half),
                "ci_high": _r(eff + half), "p_value": 1e-6 if abs(eff) > half else _r(rng.uniform(0.05, 0.9)),
                "p_value_raw": 1e-7 if abs(eff) > half else _r(rng.uniform(0.05, 0.9)),
                "flip_rate": _r(min(1.0, abs(eff) * 0.3 + rng.uniform(0, 0.03))), "seen_in_training": seen,
                "n_clusters": n_clusters, "n_templates": TEMPLATED.get(pname, 0), "insufficient_n": small,
                "instability": _r(inst), "instability_ci": _ci(inst, half * 0.8, 0.0),
                "mean_delta_tokens": dtok if kind == "spurious" else _r(rng.uniform(-0.5, 0.5), 2)})
    if kind == "spurious":
        hack = min(0.95, 0.02 + inst * 0.25) if profile != "noise" else 1 / 3 + rng.gauss(0, 0.01)
        change = min(0.95, inst * 0.3) if profile != "noise" else 0.5 + rng.gauss(0, 0.01)
        rec.update({"hack_rate": _r(hack), "hack_rate_ci": binom_ci(hack, n_clusters), "hack_rate_chance": 1 / 3,
                    "decision_change_rate": _r(change), "decision_change_rate_ci": binom_ci(change, n_clusters),
                    "length_adjusted_effect": _r(eff - 0.02 * dtok * (1 if profile == "length" else 0.3)),
                    "length_confounded": False})
    else:
        rec.update({"detection_rate": _r(det), "detection_rate_ci": binom_ci(det, n_clusters),
                    "detection_rate_chance": 0.5, "length_confounded": pname in confounded})
    if TEMPLATED.get(pname):
        rec["per_template"] = [{"template": f"template {k}", "n": n_eff // TEMPLATED[pname],
                                "effect_size": _r(eff * rng.uniform(0.5, 1.5)),
                                "instability": _r(inst * rng.uniform(0.7, 1.3))} for k in range(TEMPLATED[pname])]
    return rec


def summarize(probes: list[dict], degenerate=()) -> dict:
    """The summary a 3.0 run writes (every attribute robust / detects), from its probe records (attribute = mean of included probes)."""
    excluded = {}
    groups: dict = {"spurious": {}, "causal": {}}
    for p in probes:
        if p.get("effect_size") is None:
            excluded[p["name"]] = "no_edits"
        elif p.get("insufficient_n"):
            excluded[p["name"]] = "insufficient_n"
        elif p["kind"] == "causal" and p.get("length_confounded"):
            excluded[p["name"]] = "length_confounded"
        else:
            groups[p["kind"]].setdefault(p["attribute"], []).append(p)
    out = {"excluded": excluded}
    for kind, key, ci_key in (("spurious", "instability", "instability_ci"),
                              ("causal", "detection_rate", "detection_rate_ci")):
        attrs = {}
        for attr, ps in groups[kind].items():
            f = (lambda x: x) if kind == "spurious" else (lambda x: 2 * x - 1)
            v = sum(f(p[key]) for p in ps) / len(ps)
            lo = sum(f(p[ci_key][0]) for p in ps) / len(ps)
            hi = sum(f(p[ci_key][1]) for p in ps) / len(ps)
            attrs[attr] = {"value": _r(v), "ci": [_r(lo), _r(hi)], "probes": [p["name"] for p in ps],
                           "verdict": "robust" if kind == "spurious" else "detects"}
        out[f"{kind}_attributes"] = attrs
        out[f"n_{kind}"] = len(attrs)
        if attrs:
            v = sum(a["value"] for a in attrs.values()) / len(attrs)
            half = math.sqrt(sum(((a["ci"][1] - a["ci"][0]) / 2) ** 2 for a in attrs.values())) / len(attrs)
            out[f"{kind}_index"] = _r(v)
            out[f"{kind}_index_ci"] = [_r(v - half), _r(v + half)]
        else:
            out[f"{kind}_index"], out[f"{kind}_index_ci"] = None, None
    out["degenerate"] = {"flagged": bool(degenerate), "reasons": list(degenerate)}
    return out


def make_results(name: str = "rm", seed: int = 0, spurious_scale: float = 0.4, causal_scale: float = 0.8,
                 ci_half: float = 0.08, n: int = 200, probes=None, benchmarks=("rewardbench", "rewordbench",
                 "wildguard", "rmbench"), examples_per_probe: int = 6, data_sha: str | None = None,
                 seen_families=(), rb_subset_n: int = 40, texts=None, extra_examples=None, profile: str = "rm",
                 references: bool = True, degenerate=(), accuracy: float = 0.7, insufficient=(),
                 confounded=("incomplete_truncate",)) -> dict:
    """A results dict as ``crome-audit run`` writes it (schema 2.0). ``profile``: "rm" (effects scale with
    spurious_scale / causal_scale), or the model-free references "length" and "noise"."""
    rng = random.Random(f"{name}:{seed}:{profile}")
    streams = {p: random.Random(f"{name}:{seed}:{profile}:{p}") for p in OWN_STREAM}
    probes = PROBES if probes is None else probes
    out_probes = [_probe(streams.get(pname, rng), pname, attr, kind, fam, n, profile, spurious_scale, causal_scale,
                         ci_half, fam in seen_families, set(insufficient), set(confounded))
                  for pname, attr, kind, fam in probes]
    summary = summarize(out_probes, degenerate)
    if seen_families:
        held = summarize([p for p in out_probes if not p["seen_in_training"]])
        for kind in ("spurious", "causal"):
            summary[f"{kind}_index_heldout"] = held[f"{kind}_index"]
            summary[f"{kind}_index_heldout_ci"] = held[f"{kind}_index_ci"]
    acc = {"rm": accuracy, "length": 0.55, "noise": 0.5}[profile]
    clean = {"n_responses": 2 * n, "n_pairs": n, "reward_mean": _r(rng.gauss(0, 1)),
             "reward_std": 1e-6 if "constant" in " ".join(degenerate) else _r(rng.uniform(0.8, 1.5)),
             "margin_std": 1e-6 if "constant" in " ".join(degenerate) else _r(rng.uniform(0.8, 1.5)),
             "pairwise_accuracy": _r(acc), "pairwise_accuracy_ci": binom_ci(acc, n), "scale_basis": "margin"}
    texts = texts or SENTENCES
    examples = {}
    for p in out_probes:
        rows, rng_p = [], streams.get(p["name"], rng)
        for k in range(examples_per_probe):
            original = " ".join(rng_p.choice(texts) for _ in range(2))
            r0 = round(rng_p.gauss(0, 1), 4)
            other = round(r0 + abs(rng_p.gauss(0.3, 0.1)) * (1 if p["kind"] == "spurious" else -1), 4)
            rows.append({"id": f"pair-{rng_p.randrange(10_000)}", "prompt": rng_p.choice(PROMPTS),
                         "side": "rejected" if p["kind"] == "spurious" else "chosen", "original": original,
                         "perturbed": _perturb(rng_p, original, p["name"]), "reward_original": r0,
                         "reward_perturbed": round(r0 + p["effect_size"] * 1.5, 4), "other_reward": other,
                         "flipped": k % 5 != 4})
        examples[p["name"]] = rows
    for probe, rows in (extra_examples or {}).items():
        examples.setdefault(probe, []).extend(rows)
    quality = 0.5 + 0.4 * (1 - min(1.0, spurious_scale))
    bench = {}
    if "rewardbench" in benchmarks:
        bench["rewardbench"] = _rewardbench(rng, quality, rb_subset_n)
    if "rewordbench" in benchmarks:
        bench["rewordbench"] = _rewordbench(rng, quality, spurious_scale)
    if "wildguard" in benchmarks:
        bench["wildguard"] = _wildguard(spurious_scale)
    if "rmbench" in benchmarks:
        bench["rmbench"] = _rmbench(rng, quality)
    rm = {"name": name, "fingerprint": hashlib.sha256(name.encode()).hexdigest()[:16],
          "info": {"kind": "py" if name.startswith("py:") else "hf", "truncated": 0}}
    if seen_families:
        rm["training"] = {"method": "crome", "intervention_families": list(seen_families),
                          "generator": "offline-rules", "seed": seed}
    out = {
        "schema_version": SCHEMA_VERSION, "rm": rm,
        "data": {"path": "crome_audit/assets/sample_pairs.jsonl",
                 "sha256": data_sha or hashlib.sha256(b"sample").hexdigest(), "n": n, "kind": "pairs"},
        "config": {"rm": name, "suite": "default", "limit": None, "seed": seed, "batch_size": "auto",
                   "max_length": 512},
        "versions": {"crome_audit": "0.2.0", "python": "3.11.9"},
        "probes": out_probes, "summary": summary, "clean": clean, "benchmarks": bench, "examples": examples,
        "engine": {"requested": 4 * n, "unique": 3 * n, "cache_hits": 0, "scored": 3 * n, "seconds": 1.5},
    }
    if references and profile == "rm":
        out["reference"] = {}
        for ref in ("length", "noise"):
            r = make_results(ref, seed=seed, n=n, probes=probes, benchmarks=(), examples_per_probe=0,
                             profile=ref, references=False, ci_half=ci_half, insufficient=insufficient,
                             confounded=confounded)
            out["reference"][ref] = {"probes": r["probes"], "summary": r["summary"], "clean": r["clean"]}
    return out


def _rewardbench(rng: random.Random, quality: float, subset_n: int) -> dict:
    subsets, sections, metrics = {}, {}, {}
    for sec, names in RB_SUBSETS.items():
        accs = []
        for s in names:
            acc = round(min(1.0, max(0.0, quality + rng.uniform(-0.12, 0.12))), 4)
            subsets[s] = {"accuracy": acc, "n": subset_n, "section": sec}
            accs.append(acc)
        sections[sec] = sum(accs) / len(accs)
    score = sum(sections.values()) / 4
    total = subset_n * sum(len(v) for v in RB_SUBSETS.values())
    metrics["score"] = metric(score, total, label="overall (mean of the 4 sections)")
    for sec, names in RB_SUBSETS.items():
        metrics[sec] = metric(sections[sec], subset_n * len(names))
    return {"score": score, "sections": sections, "subsets": subsets, "metrics": metrics}


def _rewordbench(rng, quality, s_scale) -> dict:
    trs, metrics = {}, {}
    for t in RW_TRANSFORMS:
        drop = s_scale * rng.uniform(0.05, 0.3)
        trs[t] = {"overall": {"original": quality, "transformed": quality - drop, "drop": drop, "n": 1200}}
    mean_drop = sum(t["overall"]["drop"] for t in trs.values()) / len(trs)
    score = quality - mean_drop
    metrics["score"] = metric(score, 1200, label="transformed accuracy")
    metrics["original"] = metric(quality, 1200, label="untransformed accuracy")
    metrics["mean_drop"] = metric(mean_drop, None, higher_is_better=False,
                                  ci=_ci(mean_drop, 0.02), label="mean accuracy drop")
    for t, v in trs.items():
        metrics[f"drop.{t}"] = metric(v["overall"]["drop"], None, higher_is_better=False,
                                      ci=_ci(v["overall"]["drop"], 0.03))
    return {"score": score, "mean_drop": mean_drop, "transformations": trs, "metrics": metrics}


def _wildguard(s_scale) -> dict:
    ns = [1, 2, 4, 8, 16]
    asr = {str(k): round(min(1, 0.2 + s_scale * 0.15 * i), 4) for i, k in enumerate(ns)}
    ref = {str(k): round(max(0, 0.1 + s_scale * 0.05 * i), 4) for i, k in enumerate(ns)}
    score = 1 - (asr["16"] + ref["16"]) / 2
    return {"score": score, "asr": asr, "refusal_rate": ref, "n_harmful": 120, "n_benign": 80,
            "metrics": {"score": metric(score, 200, label="1 − (ASR + benign refusal) / 2 @ N=16"),
                        **{f"asr.{k}": metric(v, 120, higher_is_better=False) for k, v in asr.items()},
                        **{f"refusal_rate.{k}": metric(v, 80, higher_is_better=False) for k, v in ref.items()}}}


def _rmbench(rng, quality) -> dict:
    m = [[min(1, max(0, quality + 0.15 * (i - j) + rng.uniform(-0.03, 0.03))) for j in range(3)] for i in range(3)]
    hard = sum(m[i][j] for i in range(3) for j in range(3) if i < j) / 3
    normal = sum(m[i][i] for i in range(3)) / 3
    easy = sum(m[i][j] for i in range(3) for j in range(3) if i > j) / 3
    score = (hard + normal + easy) / 3
    return {"score": score, "hard": hard, "normal": normal, "easy": easy, "matrix": m,
            "metrics": {"score": metric(score, 600), "hard": metric(hard, 200), "normal": metric(normal, 200),
                        "easy": metric(easy, 200), "chat": metric(score, 150), "code": metric(score, 150)}}


def write_run(run_dir, results: dict) -> Path:
    """Write results.json into run_dir (through the real writer) and return run_dir."""
    run_dir = Path(run_dir)
    write_results(run_dir, results)
    return run_dir


def three_runs(tmp_path) -> list[dict]:
    """A Bradley-Terry RM, its Crome-trained twin and a degenerate (constant) RM, written and read back."""
    specs = [("bt-rm", dict(spurious_scale=0.45, causal_scale=0.5)),
             ("crome-rm", dict(spurious_scale=0.1, causal_scale=0.9, seen_families=("factual", "completeness"))),
             ("constant-rm", dict(spurious_scale=0.0, causal_scale=0.0, accuracy=0.5, ci_half=0.01,
                                  degenerate=("constant RM: clean margin SD 1e-06",
                                              "clean accuracy 50.0% [43.1%, 56.9%] is within chance")))]
    out = []
    for i, (name, kw) in enumerate(specs):
        out.append(read_results(write_run(Path(tmp_path) / f"run{i}", make_results(name, seed=i, **kw))))
    return out
