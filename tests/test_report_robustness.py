"""Odd but readable results files (nulls, wrong types, NaN, empty containers anywhere) never crash the report
or the gate: every section shows what is there."""

import copy
import math
import random

from crome_audit.gate import GateConfig, evaluate, make_baseline
from crome_audit.report import render_report
from tests.report_fixtures import PROBES, make_results

ODD = [None, "x", [], {}, math.nan, -1, True, {"a": None}, [None], "<b>"]


def _paths(obj, prefix=()):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield prefix + (k,)
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:3]):
            yield prefix + (i,)
            yield from _paths(v, prefix + (i,))


def _mutate(res, rng, k=12):
    out = copy.deepcopy(res)
    paths = [p for p in _paths(out) if p[0] not in ("schema_version",) and p != ("probes",)]
    for path in rng.sample(paths, k):
        node = out
        try:
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = copy.deepcopy(rng.choice(ODD))
        except (KeyError, IndexError, TypeError):
            continue
    return out


def test_mutated_results_render_and_gate(tmp_path):
    rng = random.Random(0)
    base = make_results("rm", seed=1, probes=PROBES[:4] + PROBES[13:15], examples_per_probe=2, rb_subset_n=20)
    other = make_results("rm2", seed=2, probes=PROBES[:4] + PROBES[13:15], examples_per_probe=2)
    for i in range(12):
        a, b = _mutate(base, rng), _mutate(other, rng)
        html = render_report([a, b], tmp_path / f"r{i}.html").read_text(encoding="utf-8")
        assert "</html>" in html and "<b>" not in html.split("<script")[0].split("<body>")[1]
        out = evaluate(a, GateConfig(max_spurious_index=1.0), baseline=make_baseline(b))
        assert out.exit_code in (0, 1)


def test_odd_values_in_every_schema_2_key(tmp_path):
    """Each 2.0 key the report and gate read, set to each odd value, still renders and gates (exit 0 or 1)."""
    base = make_results("rm", seed=3, probes=PROBES[:3] + PROBES[14:16], examples_per_probe=1, rb_subset_n=10,
                        benchmarks=("rewardbench",))
    other = make_results("rm2", seed=4, probes=PROBES[:3] + PROBES[14:16], examples_per_probe=1,
                         benchmarks=("rewardbench",))
    probe_keys = ("instability", "instability_ci", "detection_rate", "detection_rate_ci", "hack_rate_ci",
                  "insufficient_n", "length_confounded", "n_clusters")
    summary_keys = ("spurious_index_ci", "causal_index_ci", "spurious_attributes", "causal_attributes",
                    "degenerate", "excluded")
    cases = [("probes", 0, k) for k in probe_keys] + [("probes", 4, k) for k in probe_keys] + \
        [("summary", k) for k in summary_keys] + [("clean", "pairwise_accuracy_ci"), ("reference", "noise"),
                                                  ("benchmarks", "rewardbench", "metrics")]
    for i, path in enumerate(cases):
        odd = ODD[i % len(ODD)]
        a = copy.deepcopy(base)
        node = a
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = copy.deepcopy(odd)
        html = render_report([a, other], tmp_path / f"odd{i}.html").read_text(encoding="utf-8")
        assert "</html>" in html, path
        out = evaluate(a, GateConfig(max_spurious_index=1.0, min_benchmark={"rewardbench": 0.1}),
                       baseline=make_baseline(other))
        assert out.exit_code in (0, 1), path
