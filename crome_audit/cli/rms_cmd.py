"""``crome-audit rms``: list the reward-model adapters (``--rm`` prefixes) with their ``--rm-arg`` options.

    crome-audit rms                 # every adapter, its options, types, defaults and help
    crome-audit rms vllm            # one adapter
    crome-audit rms --json          # the same as plain data

Listing imports each adapter file but no model library (torch, transformers are imported at load time).
"""

from __future__ import annotations

import json
import textwrap

import click

from .common import cli_errors


@click.command(name="rms")
@click.argument("prefixes", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print plain JSON instead of text.")
@cli_errors
def list_rms(prefixes, as_json):
    """List reward-model adapters (--rm PREFIX:TARGET) and their --rm-arg KEY=VALUE options."""
    from ..errors import InputError
    from ..models import describe_adapters
    from ..registry import suggest

    entries = describe_adapters()
    known = [e["prefix"] for e in entries]
    for p in prefixes:
        if p not in known:
            raise InputError(f"unknown reward-model adapter '{p}'{suggest(p, known)}")
    if prefixes:
        entries = [e for e in entries if e["prefix"] in prefixes]
    if as_json:
        click.echo(json.dumps(entries, indent=2, default=str))
        return
    for e in entries:
        click.echo(f"--rm {e['spec']}")
        click.echo(textwrap.fill(e["summary"], 100, initial_indent="    ", subsequent_indent="    "))
        if e["example"]:
            click.echo(f"    example: --rm {e['example']}")
        if e["requires"]:
            click.echo(f"    needs: {', '.join(e['requires'])}")
        for o in e["options"]:
            default = "" if o["default"] is None else f" = {o['default']!r}"
            click.echo(f"    --rm-arg {o['name']}=<{o['type']}>{default}")
            click.echo(textwrap.fill(o["help"], 100, initial_indent="        ", subsequent_indent="        "))
        click.echo("")
