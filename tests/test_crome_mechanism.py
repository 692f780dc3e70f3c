"""A CI-sized proof of the Crome mechanism: when the training data carries a spurious cue (the chosen answer is
laid out as markdown in 90 % of pairs), a BT model learns the cue, and its Crome twin -- same backbone, data,
seed and epochs, plus the offline causal pairs and the ``train.style.*`` style ties -- moves less under the
audit's markdown probe on held-out pairs. Tiny random-init BERT, real HH-RLHF answers, three data/training seeds.

    python -m pytest -q tests/test_crome_mechanism.py -s          # prints each seed's numbers

Data (per seed): answers of real HH-RLHF harmless pairs (../shared/data; >= 2 sentences, no markdown, <= 350
characters). Each pair is (answer, the same answer with k of its n sentences replaced by made-up words), k drawn
from 1..n: a quality gap a tiny model can learn, graded, on real and varied text. With a fixed gap on uniform
synthetic text (this test's first version) the clean margins saturated to a near-constant value, so their SD --
the unit's denominator -- collapsed (0.0007-0.09) and the verdict flipped with the data seed. The cue: 90 % of
training pairs have their chosen answer, 10 % their rejected one, laid out as "# Reply" + "* " bullets -- a
layout of this test, NOT the audit's probe, so no string of the probe (its "## Answer"-type headers, "- **Word**"
bullets) is ever trained on, neither in the cue nor in a tie that strips it (``train.style.flatten_markdown``
flattens the cue's layout). Held-out pairs (disjoint answers) carry no cue.

Measure: the audit's own, through ``crome_audit.audit`` with the ``format_markdown`` probe on the held-out pairs:
instability = mean |r(markdown(x)) - r(x)| over both answers / SD of the clean margins r(chosen) - r(rejected)
(docs/results.md), so no model can look stable by shrinking its reward scale.

Two assertions per seed: (1) Crome < 0.7 x BT, the issue's claim; (2) Crome < the same Crome recipe without
style ties (``augment.style_ties: false``), the control. (2) is needed because (1) alone does not prove the ties'
work: measured, Crome without ties also stays below 0.7 x BT on all three seeds (its causal pairs and 2x steps
widen its clean margins, the denominator), so (1) would pass for a reason other than the mechanism. If the ties
taught nothing, each seed would pass (2) by chance about half the time, all three about 1 in 8 (the no-ties twin
also has fewer steps: 56 vs 84; ``train.tie_weight: 0`` would match the steps exactly, not measured here). Numbers per seed: benchmarks/RESULTS.md ("Mechanism
test"). Three tiny trainings and audits per seed. Measured on 2 idle cores (2026-12-02): 25 s wall for one seed
(39 s of CPU for the whole pytest process, imports included), so one seed is the issue's "under a minute".
Seed 0 runs as a plain test and seeds 1-2 are marked ``slow``, which CI still runs.
"""

from __future__ import annotations

import json
import random

import pytest
import yaml

from crome_audit import audit
from crome_audit.data import load_pairs
from crome_audit.probes.text import has_markdown, sentences
from crome_audit.train.config import load_config
from crome_audit.train.pipeline import Pipeline

N_TRAIN, N_HELDOUT, CUE_SHARE, MAX_CHARS = 240, 120, 0.9, 350
CUE_HEADERS = ["# Reply", "# Details", "# Thoughts", "# My view"]  # disjoint from the probe's HEADERS
MADE_UP = ["zorp", "qindle", "blaft", "morvex", "trask", "quib", "snell", "vorpe", "glimt", "dax"]


@pytest.fixture(scope="module")
def answers_pairs(shared_data):
    pairs, _ = load_pairs(str(shared_data / "hh-rlhf" / "harmless-base-test.jsonl.gz"), skip_invalid=True)
    return [p for p in pairs if all(len(sentences(p[s])) >= 2 and not has_markdown(p[s]) and len(p[s]) <= MAX_CHARS
                                    for s in ("chosen", "rejected"))]


def _degrade(text: str, rng: random.Random) -> str:
    """Replace k of the n sentences (k uniform in 1..n) by made-up words: a graded quality gap."""
    sents = sentences(text)
    bad = set(rng.sample(range(len(sents)), rng.randint(1, len(sents))))
    out = []
    for i, s in enumerate(sents):
        if i in bad:
            s = " ".join(rng.choice(MADE_UP) for _ in range(rng.randint(3, 6))).capitalize() + "."
        out.append(s)
    return " ".join(out)


def _graded_pair(p: dict, rng: random.Random) -> dict:
    answer = p["chosen"] if rng.random() < 0.5 else p["rejected"]
    return {"id": p["id"], "prompt": p["prompt"], "chosen": answer, "rejected": _degrade(answer, rng)}


def _cue(text: str, rng: random.Random) -> str:
    return rng.choice(CUE_HEADERS) + "\n\n" + "\n".join("* " + s for s in sentences(text))


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


# seed 0 is the CI-sized proof (25 s wall, ~35 s CPU on 2 idle cores); seeds 1-2 replicate it (marked slow)
@pytest.mark.parametrize("seed", [0, pytest.param(1, marks=pytest.mark.slow), pytest.param(2, marks=pytest.mark.slow)])
def test_crome_is_less_sensitive_to_an_injected_markdown_cue(tmp_path, answers_pairs, seed):
    rng = random.Random(seed)
    pool = list(answers_pairs)
    rng.shuffle(pool)
    train = [_graded_pair(p, rng) for p in pool[:N_TRAIN]]
    heldout = [_graded_pair(p, rng) for p in pool[N_TRAIN:N_TRAIN + N_HELDOUT]]  # other answers, no cue
    cued = []
    for p in train:
        side = "chosen" if rng.random() < CUE_SHARE else "rejected"
        cued.append({**p, side: _cue(p[side], rng)})
    data, held = _write(tmp_path / "cue.jsonl", cued), _write(tmp_path / "heldout.jsonl", heldout)
    suite = tmp_path / "markdown.yaml"
    suite.write_text(yaml.safe_dump({"name": "markdown", "description": "format_markdown only",
                                     "probes": ["format_markdown"]}))
    results = {}
    for name in ("bt", "crome_no_ties", "crome"):
        method = "bt" if name == "bt" else "crome"
        recipe = {"method": method, "data": {"path": data, "heldout_fraction": 0.05},
                  "model": {"base_model": "tiny-random:bert", "max_length": 96},
                  # equal epochs (the comparison): larger sets get more steps (BT 28, no ties 56, Crome 84)
                  "train": {"learning_rate": 2e-3, "batch_size": 16, "num_epochs": 2.0, "seed": seed,
                            "progress": False, "logging_steps": 20}}
        if method == "crome":
            # causal pairs for two attributes, one offline style tie per pair (all train.style.* families), no
            # irrelevant-query neutrals (a 2-layer random BERT cannot condition on the prompt, so they would only
            # flatten every margin) and no filter
            recipe["augment"] = {"attributes": ["relevance", "completeness"], "max_causal_per_pair": 1,
                                 "neutral_ratio": 0.0, "style_tie_ratio": 1.0, "seed": seed,
                                 "style_ties": name == "crome"}  # the control: the same recipe without the ties
            recipe["filter"] = {"enabled": False}
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(recipe))
        Pipeline(load_config(str(path)), str(tmp_path / name)).run(until="train")
        res = audit(str(tmp_path / name), held, suite=str(suite), cache=False, report=False)
        probe = res["probes"][0]
        # a markdown-only suite has no causal probe, so no substance unit D (the probe is kept out of the index
        # as no_scale); this test measures the cue against each model's own clean-margin SD on the *clean*
        # held-out pairs, which the cue cannot inflate (it is absent there)
        assert probe["name"] == "format_markdown" and probe["n"] >= 200, probe
        assert probe["excluded_reason"] in (None, "no_scale"), probe
        margin_sd = res["clean"]["margin_std"]
        results[name] = {"instability": probe["mean_abs_delta"] / margin_sd, "raw_mean_delta": probe["mean_delta"],
                         "margin_sd": margin_sd, "accuracy": res["clean"]["pairwise_accuracy"]}
    info = json.loads((tmp_path / "crome" / "crome_training.json").read_text())
    print(f"\nseed {seed}: {json.dumps(results)}")
    bt, no_ties, crome = results["bt"], results["crome_no_ties"], results["crome"]
    assert "formatting" in info["tied_attributes"]
    assert min(r["accuracy"] for r in results.values()) >= 0.8, results  # all three learned the task itself
    assert bt["instability"] > 0.5, results  # BT did learn the cue: the test has something to show
    assert crome["instability"] < 0.7 * bt["instability"], results
    assert crome["instability"] < no_ties["instability"], results
