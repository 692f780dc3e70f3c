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
    base = make_results("rm", seed=1, probes=PROBES[:4] + PROBES[12:14], examples_per_probe=2, rb_subset_n=20)
    other = make_results("rm2", seed=2, probes=PROBES[:4] + PROBES[12:14], examples_per_probe=2)
    for i in range(12):
        a, b = _mutate(base, rng), _mutate(other, rng)
        html = render_report([a, b], tmp_path / f"r{i}.html").read_text(encoding="utf-8")
        assert "</html>" in html and "<b>" not in html.split("<script")[0].split("<body>")[1]
        out = evaluate(a, GateConfig(max_spurious_index=1.0), baseline=make_baseline(b))
        assert out.exit_code in (0, 1)
