"""crome-audit: audit reward models for reward hacking, and train causally robust ones (Crome).

Quick start (CPU, embedded sample data):

    crome-audit run --rm length --out reports/length

From Python (the same plain-data results the CLI writes; see crome_audit/api.py and examples/library_api.py):

    from crome_audit import audit, load_rm, run_benchmark, render_report
    results = audit("length", suite="quick")
    shortcuts = audit_data("pairs.jsonl")          # the shortcut audit of preference data (no model)

See README.md for the full tour.
"""

import sys
import types

__version__ = "0.1.0"
__all__ = ["audit", "audit_data", "load_rm", "render_report", "run_benchmark"]


def __getattr__(name: str):
    # lazy, so `import crome_audit` stays cheap (report and gate never import torch)
    if name in __all__:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _Package(types.ModuleType):
    def __setattr__(self, name, value):
        # importing the submodule crome_audit.audit must not shadow the function crome_audit.audit
        # (the submodule stays importable: `from crome_audit.audit import run_audit`)
        if name == "audit" and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
