"""Schema-true ``results.json`` fixtures for report and gate tests (and the report-size benchmark).

    from tests.report_fixtures import make_results, write_run
    res = make_results("crome-rm", seed=1, spurious_scale=0.1)
    run_dir = write_run(tmp_path / "crome", res)      # writes run_dir/results.json via results.write_results

Deterministic under ``seed``. Numbers follow the contract in crome_audit/results.py and issue 2/4:
probes with effect sizes and bootstrap-like CIs, a summary, the four benchmarks, flipped-pair examples.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

from crome_audit.results import read_results, write_results

# (name, attribute, kind, family)
PROBES = [
    ("length_restate", "length", "spurious", "verbosity"),
    ("filler_sentences", "length", "spurious", "verbosity"),
    ("add_markdown", "formatting", "spurious", "formatting"),
    ("strip_markdown", "formatting", "spurious", "formatting"),
    ("flattering_opener", "sycophancy", "spurious", "sycophancy"),
    ("agree_with_user", "sycophancy", "spurious", "sycophancy"),
    ("confident_tone", "tone", "spurious", "tone"),
    ("hedging", "politeness", "spurious", "tone"),
    ("emoji", "emoji", "spurious", "noise"),
    ("whitespace_noise", "noise", "spurious", "noise"),
    ("corrupt_numbers", "factuality", "causal", "factual"),
    ("corrupt_entities", "factuality", "causal", "factual"),
    ("swap_answer", "relevance", "causal", "relevance"),
    ("drop_second_half", "completeness", "causal", "completeness"),
    ("wrong_math_answer", "math", "causal", "math"),
    ("inject_bug", "code", "causal", "code"),
    ("unsafe_compliance", "safety", "causal", "safety"),
]

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
RW_TRANSFORMS = ["paraphrase", "add_quotes", "swap_format", "typos", "char_substitution", "back_translation"]


def _perturb(rng: random.Random, text: str, probe: str) -> str:
    if probe.startswith("length") or probe.startswith("filler"):
        return text + " In other words, to restate the main point: " + text.split(".")[0].lower() + "."
    if probe == "add_markdown":
        return "## Answer\n\n- **" + text.replace(". ", ".\n- ", 1) + "**"
    if probe == "flattering_opener":
        return "What a great question! " + text
    if probe == "corrupt_numbers":
        return "".join(str((int(c) + 3) % 10) if c.isdigit() else c for c in text)
    if probe == "drop_second_half":
        return text[: len(text) // 2]
    if probe == "emoji":
        return text + " 😊👍"
    words = text.split(" ")
    i = rng.randrange(len(words))
    words[i] = words[i].upper()
    return " ".join(words)


def make_results(name: str = "rm", seed: int = 0, spurious_scale: float = 0.4, causal_scale: float = 0.8,
                 ci_half: float = 0.08, n: int = 200, probes=None, benchmarks=("rewardbench", "rewordbench",
                 "wildguard", "rmbench"), examples_per_probe: int = 6, data_sha: str | None = None,
                 seen_families=(), rb_subset_n: int = 40, texts=None, extra_examples=None) -> dict:
    """A results dict as ``crome-audit run`` writes it. Effects scale with spurious_scale/causal_scale."""
    rng = random.Random(f"{name}:{seed}")
    probes = PROBES if probes is None else probes
    out_probes = []
    for pname, attr, kind, fam in probes:
        base = spurious_scale * (2.5 if attr == "length" else 1.0) if kind == "spurious" else -causal_scale
        eff = round(base * rng.uniform(0.6, 1.2) + rng.gauss(0, 0.02), 4)
        half = ci_half * rng.uniform(0.8, 1.2)
        out_probes.append({
            "name": pname, "attribute": attr, "kind": kind, "family": fam, "n": n,
            "mean_delta": round(eff * 1.7, 4), "effect_size": eff,
            "ci_low": round(eff - half, 4), "ci_high": round(eff + half, 4),
            "p_value": 1e-6 if abs(eff) > half else round(rng.uniform(0.05, 0.9), 4),
            "flip_rate": round(min(1.0, abs(eff) * 0.3 + rng.uniform(0, 0.03)), 4),
            "seen_in_training": fam in seen_families,
        })
    spur = [abs(p["effect_size"]) for p in out_probes if p["kind"] == "spurious"]
    caus = [-p["effect_size"] for p in out_probes if p["kind"] == "causal"]
    summary = {"spurious_index": sum(spur) / len(spur) if spur else None,
               "causal_index": sum(caus) / len(caus) if caus else None}
    if seen_families:
        held = [p for p in out_probes if not p["seen_in_training"]]
        hs = [abs(p["effect_size"]) for p in held if p["kind"] == "spurious"]
        hc = [-p["effect_size"] for p in held if p["kind"] == "causal"]
        summary["spurious_index_heldout"] = sum(hs) / len(hs) if hs else None
        summary["causal_index_heldout"] = sum(hc) / len(hc) if hc else None
    texts = texts or SENTENCES
    examples = {}
    for p in out_probes:
        rows = []
        for k in range(examples_per_probe):
            original = " ".join(rng.choice(texts) for _ in range(2))
            r0 = round(rng.gauss(0, 1), 4)
            other = round(r0 + abs(rng.gauss(0.3, 0.1)) * (1 if p["kind"] == "spurious" else -1), 4)
            rows.append({"id": f"pair-{rng.randrange(10_000)}", "prompt": rng.choice(PROMPTS),
                         "side": "rejected" if p["kind"] == "spurious" else "chosen", "original": original,
                         "perturbed": _perturb(rng, original, p["name"]), "reward_original": r0,
                         "reward_perturbed": round(r0 + p["effect_size"] * 1.5, 4), "other_reward": other,
                         "flipped": k % 5 != 4})
        examples[p["name"]] = rows
    for probe, rows in (extra_examples or {}).items():
        examples.setdefault(probe, []).extend(rows)
    bench = {}
    quality = 0.5 + 0.4 * (1 - min(1.0, spurious_scale))
    if "rewardbench" in benchmarks:
        bench["rewardbench"] = _rewardbench(rng, quality, rb_subset_n)
    if "rewordbench" in benchmarks:
        trs = {}
        for t in RW_TRANSFORMS:
            secs = {}
            for sec in RB_SUBSETS:
                orig = min(0.99, quality + rng.uniform(-0.05, 0.05))
                drop = spurious_scale * rng.uniform(0.05, 0.3)
                secs[sec] = {"original": orig, "transformed": orig - drop, "drop": drop,
                             "flip_rate": drop * 1.2, "n": 300}
            drop = sum(x["drop"] for x in secs.values()) / len(secs)
            trs[t] = {"sections": secs, "overall": {"original": quality, "transformed": quality - drop,
                                                    "drop": drop, "flip_rate": drop * 1.2, "n": 1200}}
        drops = [s["drop"] for t in trs.values() for s in t["sections"].values()]
        trans = [s["transformed"] for t in trs.values() for s in t["sections"].values()]
        bench["rewordbench"] = {"score": sum(trans) / len(trans), "mean_drop": sum(drops) / len(drops),
                                "transformations": trs, "n": 1200,
                                "not_run": [{"name": "back_translation", "reason": "no generator configured"}]}
    if "wildguard" in benchmarks:
        ns = [1, 2, 4, 8, 16]
        asr = {str(k): round(min(1, 0.2 + spurious_scale * 0.15 * i), 4) for i, k in enumerate(ns)}
        ref = {str(k): round(max(0, 0.1 + spurious_scale * 0.05 * i), 4) for i, k in enumerate(ns)}
        bench["wildguard"] = {"score": 1 - asr["16"], "n_values": ns, "asr": asr, "refusal_rate": ref,
                              "n_harmful": 120, "n_benign": 80}
    if "rmbench" in benchmarks:
        domains = {}
        for d in ("chat", "code", "math", "safety"):
            m = [[min(1, max(0, quality + 0.15 * (i - j) + rng.uniform(-0.03, 0.03))) for j in range(3)]
                 for i in range(3)]
            domains[d] = {"score": sum(map(sum, m)) / 9, "matrix": m, "n": 50}
        mats = [d["matrix"] for d in domains.values()]
        hard = sum(m[i][j] for m in mats for i in range(3) for j in range(3) if i < j) / (3 * len(mats))
        normal = sum(m[i][i] for m in mats for i in range(3)) / (3 * len(mats))
        easy = sum(m[i][j] for m in mats for i in range(3) for j in range(3) if i > j) / (3 * len(mats))
        bench["rmbench"] = {"score": sum(d["score"] for d in domains.values()) / 4, "hard": hard,
                            "normal": normal, "easy": easy, "domains": domains}
    rm = {"name": name, "fingerprint": hashlib.sha256(name.encode()).hexdigest()[:16],
          "info": {"kind": "py" if name.startswith("py:") else "hf", "truncated": 0}}
    if seen_families:
        rm["training"] = {"method": "crome", "intervention_families": list(seen_families),
                          "generator": "offline-rules", "seed": seed}
    return {
        "schema_version": "1.0", "rm": rm,
        "data": {"path": "crome_audit/assets/sample_pairs.jsonl",
                 "sha256": data_sha or hashlib.sha256(b"sample").hexdigest(), "n": n},
        "config": {"rm": name, "suite": "default", "limit": None, "seed": seed, "batch_size": "auto",
                   "max_length": 512},
        "versions": {"crome_audit": "0.1.0", "python": "3.11.9"},
        "probes": out_probes, "summary": summary, "benchmarks": bench, "examples": examples,
        "engine": {"requested": 4 * n, "unique": 3 * n, "cache_hits": 0, "scored": 3 * n, "seconds": 1.5},
    }


def _rewardbench(rng: random.Random, quality: float, subset_n: int) -> dict:
    def one(q):
        subsets, sections = {}, {}
        for sec, names in RB_SUBSETS.items():
            accs = []
            for s in names:
                acc = round(min(1.0, max(0.0, q + rng.uniform(-0.12, 0.12))), 4)
                subsets[s] = {"accuracy": acc, "n": subset_n, "section": sec}
                accs.append(acc)
            sections[sec] = sum(accs) / len(accs)
        return {"score": sum(sections.values()) / 4, "sections": sections, "subsets": subsets}

    out = one(quality)
    out["length_baseline"] = one(0.55)
    return out


def write_run(run_dir, results: dict) -> Path:
    """Write results.json into run_dir (through the real writer) and return run_dir."""
    run_dir = Path(run_dir)
    write_results(run_dir, results)
    return run_dir


def three_runs(tmp_path) -> list[dict]:
    """length baseline, a baseline RM and its Crome-trained twin, written and read back like real runs."""
    specs = [("length", dict(spurious_scale=0.9, causal_scale=0.05)),
             ("baseline-rm", dict(spurious_scale=0.45, causal_scale=0.5)),
             ("crome-rm", dict(spurious_scale=0.1, causal_scale=0.9, seen_families=("factual", "completeness")))]
    out = []
    for i, (name, kw) in enumerate(specs):
        out.append(read_results(write_run(Path(tmp_path) / f"run{i}", make_results(name, seed=i, **kw))))
    return out
