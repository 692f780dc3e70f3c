"""The ``crome-audit`` command line (click). Commands live in their own modules and are loaded lazily,
so ``crome-audit report`` and ``gate`` never import torch.

    crome-audit run --rm length             # probe audit on the bundled sample
    crome-audit --help
"""

from __future__ import annotations

import importlib

import click

from .. import __version__

# command name -> "module:attribute" (relative to crome_audit.cli)
COMMANDS = {
    "run": "run_cmd:run",
    "probes": "run_cmd:list_probes",
    "rms": "rms_cmd:list_rms",
    "report": "report_cmd:report",
    "gate": "gate_cmd:gate",
    "bench": "bench_cmd:bench",
    "generate": "generate_cmd:generate",
    "train": "train_cmd:train",
    "rubrics": "train_cmd:rubrics",
    "augment": "train_cmd:augment",
    "filter": "train_cmd:filter_pairs",
    "eval": "train_cmd:evaluate",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return [name for name in COMMANDS if self._load(name) is not None]

    def get_command(self, ctx, name):
        return self._load(name)

    @staticmethod
    def _load(name):
        target = COMMANDS.get(name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(f"{__name__}.{module_name}")
        except ModuleNotFoundError as e:
            if e.name == f"{__name__}.{module_name}":
                return None  # command not built (yet)
            raise
        return getattr(module, attr, None)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="crome-audit")
def main():
    """Audit reward models for reward hacking, benchmark them, and train causally robust ones (Crome)."""
