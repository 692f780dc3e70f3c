"""The ``crome-audit`` command line (click). Commands live in their own modules and are loaded lazily,
so ``crome-audit report`` and ``gate`` never import torch.

    crome-audit run --rm length             # probe audit on the bundled sample
    crome-audit --help
"""

from __future__ import annotations

import importlib
import sys

import click

from .. import __version__

# command name -> "module:attribute" (relative to crome_audit.cli)
COMMANDS = {
    "run": "run_cmd:run",
    "probes": "run_cmd:list_probes",
    "rms": "rms_cmd:list_rms",
    "report": "report_cmd:report",
    "export": "export_cmd:export",
    "gate": "gate_cmd:gate",
    "bench": "bench_cmd:bench",
    "generate": "generate_cmd:generate",
    "train": "train_cmd:train",
    "rubrics": "train_cmd:rubrics",
    "augment": "train_cmd:augment",
    "filter": "train_cmd:filter_pairs",
    "eval": "train_cmd:evaluate",
    "demo": "demo_cmd:demo",
    "data": "data_cmd:data",
}


class LazyGroup(click.Group):
    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        """Usage errors (a bad option value, an unknown option) are one line, like every other bad input."""
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.UsageError as e:
            if type(e).__name__ == "NoArgsIsHelpError":  # bare "crome-audit": the help, as click prints it
                e.show()
                sys.exit(e.exit_code)
            ctx = e.ctx
            where = f"{ctx.command_path} --help" if ctx is not None else "crome-audit --help"
            from ..secrets import redact_text  # an option value may hold a credential

            click.echo(f"crome-audit: error: {redact_text(e.format_message())} (see {where})", err=True)
            sys.exit(e.exit_code)
        except click.ClickException as e:
            e.show()
            sys.exit(e.exit_code)
        except click.exceptions.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        if isinstance(rv, int) and not isinstance(rv, bool) and rv:  # ctx.exit(n) comes back as n here
            sys.exit(rv)
        return rv

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
    """Audit reward models for reward hacking, benchmark them, and train causally robust ones (Crome).

    \b
    Outputs: -o/--out names what a command writes: a folder for commands that write a set of files
    (run, bench, train), a file for commands that write one (report, export, generate).
    Exit codes: 0 ok, 1 gate failed, 2 bad input, 3 internal error."""
