"""Self-describing benchmark metrics: the record shape, the stratified cluster bootstrap (against analytic
standard errors, clustering, determinism), and the `metrics` block of RewardBench and RM-Bench on real and
hand-built data.

Run: python -m pytest -q tests/test_bench_metrics.py
"""

import math
import random

import numpy as np
import pytest

from crome_audit.benchmarks import run_benchmark
from crome_audit.benchmarks.metrics import metric, nanmean_rows, stratified_bootstrap
from crome_audit.benchmarks.scoring import EXAMPLE_COUNTS, SECTIONS
from crome_audit.engine import ScoringEngine
from crome_audit.models import load_reward_model


def mean_of(name):
    return lambda means: {"mean": means[name][:, 0]}


def test_metric_record_shape():
    assert metric(0.5, (0.4, 0.6), 10, True) == {"value": 0.5, "ci": [0.4, 0.6], "n": 10, "higher_is_better": True}
    assert metric(float("nan"), (0.1, 0.2), 3, False, "x") == {"value": None, "ci": None, "n": 3,
                                                               "higher_is_better": False, "label": "x"}
    assert metric(0.1, None, 3, False)["ci"] is None
    assert nanmean_rows([np.array([1.0, np.nan]), np.array([3.0, np.nan])]).tolist()[0] == 2.0
    assert math.isnan(nanmean_rows([np.array([np.nan])])[0])


def test_bootstrap_matches_the_binomial_standard_error():
    rng = random.Random(0)
    values = [float(rng.random() < 0.3) for _ in range(400)]
    p = sum(values) / len(values)
    est, ci = stratified_bootstrap({"s": (values, list(range(400)))}, mean_of("s"), seed=1)
    assert est["mean"] == pytest.approx(p)
    width = ci["mean"][1] - ci["mean"][0]
    assert width == pytest.approx(2 * 1.96 * math.sqrt(p * (1 - p) / 400), rel=0.15)
    assert ci["mean"][0] < p < ci["mean"][1]


def test_clusters_are_resampled_together():
    """30 prompts x 10 identical copies carry the information of 30 items, not 300: the clustered CI is about
    sqrt(10) times wider than the one that wrongly treats the copies as independent."""
    rng = random.Random(2)
    per_prompt = [float(rng.random() < 0.5) for _ in range(30)]
    values = [v for v in per_prompt for _ in range(10)]
    clustered = [i for i in range(30) for _ in range(10)]
    _, ci_c = stratified_bootstrap({"s": (values, clustered)}, mean_of("s"), seed=0)
    _, ci_i = stratified_bootstrap({"s": (values, list(range(300)))}, mean_of("s"), seed=0)
    ratio = (ci_c["mean"][1] - ci_c["mean"][0]) / (ci_i["mean"][1] - ci_i["mean"][0])
    assert 2.3 < ratio < 4.2
    _, ci_30 = stratified_bootstrap({"s": (per_prompt, list(range(30)))}, mean_of("s"), seed=0)
    assert ci_c["mean"] == pytest.approx(ci_30["mean"], abs=0.04)


def test_seeded_and_paired_columns():
    rng = random.Random(3)
    rows = [[rng.random()] * 2 for _ in range(200)]  # two identical columns

    def diff(means):
        return {"a": means["s"][:, 0], "d": means["s"][:, 0] - means["s"][:, 1]}

    e1, c1 = stratified_bootstrap({"s": (rows, list(range(200)))}, diff, seed=5)
    e2, c2 = stratified_bootstrap({"s": (rows, list(range(200)))}, diff, seed=5)
    assert (e1, c1) == (e2, c2)
    assert c1["d"] == [0.0, 0.0]  # a paired difference of identical columns has no spread
    _, c3 = stratified_bootstrap({"s": (rows, list(range(200)))}, diff, seed=6)
    assert c3["a"] != c1["a"]
    with pytest.raises(ValueError):
        stratified_bootstrap({"s": ([1.0, 0.0], [0])}, mean_of("s"))


@pytest.fixture(scope="module")
def rb_length(shared_data):
    path = shared_data / "rewardbench" / "filtered.jsonl"
    return run_benchmark("rewardbench", ScoringEngine(load_reward_model("length"), progress=False), data=str(path))


def test_rewardbench_metrics_match_the_official_numbers_and_analytic_errors(rb_length):
    entry, samples = rb_length
    m = entry["metrics"]
    assert list(m) == ["score", "Chat", "Chat Hard", "Safety", "Reasoning"]
    assert m["score"]["value"] == entry["score"] and m["score"]["n"] == 2985
    assert {k: v["n"] for k, v in m.items()} == {"score": 2985, "Chat": 358, "Chat Hard": 456, "Safety": 740,
                                                "Reasoning": 1431}
    for section in SECTIONS:
        assert m[section]["value"] == entry["sections"][section] and m[section]["higher_is_better"]
        # a section is a fixed-weight mean of subset accuracies: SE^2 = sum w^2 p (1 - p) / n over its subsets
        subs = {s: v for s, v in entry["subsets"].items() if s in SECTIONS[section]}
        total = sum(EXAMPLE_COUNTS[s] for s in subs)
        se = math.sqrt(sum((EXAMPLE_COUNTS[s] / total) ** 2 * v["accuracy"] * (1 - v["accuracy"]) / v["n"]
                           for s, v in subs.items()))
        lo, hi = m[section]["ci"]
        assert lo < m[section]["value"] < hi
        assert hi - lo == pytest.approx(2 * 1.96 * se, rel=0.15), section
    assert entry["ci_method"].startswith("percentile bootstrap")


def test_rewardbench_metrics_of_a_partial_run(shared_data):
    entry, _ = run_benchmark("rewardbench", ScoringEngine(load_reward_model("length"), progress=False),
                             data=str(shared_data / "rewardbench" / "filtered.jsonl"),
                             subsets="mt-bench-easy,refusals-offensive")
    assert set(entry["metrics"]) == {"score", "Chat", "Safety"}
    assert entry["metrics"]["score"]["value"] == pytest.approx((entry["sections"]["Chat"]
                                                                + entry["sections"]["Safety"]) / 2)


def tagged_rm(prompts, responses):
    return [float(r.rsplit("[r=", 1)[1].rstrip("]")) for r in responses]


def test_rmbench_metrics(tmp_path):
    import json

    rows = []
    for i in range(40):  # chat: right on the easy triangle only; code: all right on even items
        rows.append({"id": f"c{i}", "prompt": f"q{i}", "domain": "chat",
                     "chosen": [f"a [r={v}]" for v in (1, 2, 3)], "rejected": [f"b [r={v}]" for v in (1.5, 2.5, 3.5)]})
        good = i % 2 == 0
        rows.append({"id": f"k{i}", "prompt": f"p{i}", "domain": "code",
                     "chosen": [f"a [r={2 if good else 0}]"] * 3, "rejected": ["b [r=1]"] * 3})
    path = tmp_path / "rmb.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    entry, _ = run_benchmark("rmbench", ScoringEngine(load_reward_model(f"py:{__file__}:tagged_rm"), progress=False),
                             data=str(path))
    m = entry["metrics"]
    assert set(m) == {"score", "hard", "normal", "easy", "chat", "code"}
    for k in ("score", "hard", "normal", "easy"):
        assert m[k]["value"] == pytest.approx(entry[k]) and m[k]["n"] == 80
    assert m["chat"]["ci"] == [pytest.approx(1 / 3)] * 2  # every chat item is identical: no spread
    assert m["easy"]["value"] == pytest.approx((1 + 0.5) / 2) and m["hard"]["value"] == pytest.approx(0.25)
    lo, hi = m["code"]["ci"]
    assert lo < 0.5 < hi and hi - lo == pytest.approx(2 * 1.96 * math.sqrt(0.25 / 40), rel=0.2)
