"""Verdict rules (crome_audit/verdicts.py) on bootstrap replicates with a known spread.

    python -m pytest -q tests/test_verdicts.py
"""

import numpy as np
import pytest

from crome_audit.verdicts import (
    CAUSAL_FLOOR,
    SPURIOUS_FLOOR,
    bootstrap_p,
    causal_verdict,
    spurious_verdict,
    spurious_verdict_no_scale,
)


def _boot(center, se, n=4000, seed=0):
    return np.random.default_rng(seed).normal(center, se, n)


@pytest.mark.parametrize("effect, se, verdict", [
    (0.0, 0.02, "robust"),        # CI well inside ±0.2
    (0.5, 0.05, "sensitive"),     # CI clear of 0, above the floor
    (-0.5, 0.05, "sensitive"),    # a penalty is a sensitivity too
    (0.15, 0.05, "inconclusive"),  # CI [0.05, 0.25]: clear of 0 but reaches past the floor
    (0.0, 0.3, "inconclusive"),   # underpowered
])
def test_spurious_verdicts(effect, se, verdict):
    v = spurious_verdict(effect, _boot(effect, se), n_clusters=100)
    assert v["verdict"] == verdict, v
    assert v["mde"] == pytest.approx(2.8 * se, rel=0.05)
    assert (v["n_needed"] is not None) == (verdict == "inconclusive")


def test_n_needed_is_where_the_ci_would_settle_the_verdict():
    # underpowered around 0: the CI must shrink to fit inside ±floor -> n x (1.96 se / floor)^2
    v = spurious_verdict(0.0, _boot(0.0, 0.3), n_clusters=100)
    assert v["n_needed"] == pytest.approx(100 * (1.96 * 0.3 / SPURIOUS_FLOOR) ** 2, rel=0.06)
    # above the floor but not yet clear of 0: the CI must shrink below |effect|
    v = spurious_verdict(0.4, _boot(0.4, 0.25), n_clusters=100)
    assert v["verdict"] == "inconclusive" and v["n_needed"] == pytest.approx(100 * (1.96 * 0.25 / 0.4) ** 2, rel=0.06)


@pytest.mark.parametrize("value, se, verdict", [(0.6, 0.05, "detects"), (0.0, 0.03, "blind"),
                                                (-0.4, 0.05, "inverted"), (0.05, 0.2, "inconclusive")])
def test_causal_verdicts(value, se, verdict):
    assert causal_verdict(value, _boot(value, se), n_clusters=100)["verdict"] == verdict
    assert CAUSAL_FLOOR == 0.1


def test_without_a_unit_only_a_clear_move_is_called():
    assert spurious_verdict_no_scale(3.0, _boot(3.0, 0.5), 100)["verdict"] == "sensitive"
    nothing = spurious_verdict_no_scale(0.1, _boot(0.1, 0.5), 100)
    assert nothing["verdict"] == "inconclusive" and nothing["n_needed"] is None


def test_bootstrap_p():
    assert bootstrap_p(_boot(0.0, 1.0)) == pytest.approx(1.0, abs=0.05)
    assert bootstrap_p(_boot(5.0, 1.0)) == pytest.approx(1 / 4000)  # floor: 1 / replicates
    assert bootstrap_p([np.nan]) is None
