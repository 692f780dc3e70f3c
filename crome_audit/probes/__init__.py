"""Probe library: seeded text transforms tagged spurious or causal, plus YAML suites.

    from crome_audit.probes import PROBES, load_suite
    suite = load_suite("default")          # or a path to a YAML file
    for probe in suite.probes: ...

No torch here: probes are plain and fast.
"""

from . import causal, spurious  # noqa: F401  (register the probes)
from .base import PROBES, Edit, Probe, ProbeInput
from .suite import Suite, list_suites, load_suite

__all__ = ["PROBES", "Edit", "Probe", "ProbeInput", "Suite", "load_suite", "list_suites"]
