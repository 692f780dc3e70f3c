"""Shared CLI plumbing: error -> exit-code mapping, common options, offline hub handling."""

from __future__ import annotations

import functools
import os
import sys
import traceback

import click

from ..errors import CromeError


def fail(message: str, code: int) -> None:
    from ..secrets import redact_text  # no credential is ever echoed, whatever raised the error

    click.echo(f"crome-audit: error: {redact_text(message)}", err=True)
    sys.exit(code)


def cli_errors(func):
    """Run a command body; map typed errors to one-line messages and exit codes (2 input, 3 internal)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except CromeError as e:
            fail(str(e), e.exit_code)
        except KeyboardInterrupt:
            fail("interrupted (scores computed so far are cached; re-run to resume)", 130)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as e:  # internal error: one line, traceback only on request
            if os.environ.get("CROME_AUDIT_DEBUG"):
                traceback.print_exc()
            fail(f"internal error: {type(e).__name__}: {e} (set CROME_AUDIT_DEBUG=1 for a traceback)", 3)

    return wrapper


def rm_options(func):
    """Options every command that loads a reward model shares."""
    options = [
        click.option("--rm", "rm_spec", required=True,
                     help="Reward model: local folder, hub id, 'length', 'py:module:function', 'vllm:URL'... "
                          "(`crome-audit rms` lists every adapter)."),
        click.option("--rm-arg", "rm_args", multiple=True, metavar="KEY=VALUE",
                     help="Adapter option, repeatable (e.g. max_concurrency=16); `crome-audit rms` lists them."),
        click.option("--batch-size", default="auto", show_default=True,
                     help="Max texts per batch, or 'auto' (token-budget batching only)."),
        click.option("--max-batch-tokens", type=click.IntRange(min=1), default=None,
                     help="Padded tokens per batch (default 8192 on CPU, 65536 on GPU, halved on OOM)."),
        click.option("--max-length", type=click.IntRange(min=8), default=None,
                     help="Max tokens per text (default: what a crome-audit-trained model recorded, else 512)."),
        click.option("--truncation", type=click.Choice(["left", "right"]), default=None,
                     help="Drop tokens from the start (left, default: keeps the response end) or the end (right)."),
        click.option("--template", default=None,
                     help="Plain format string with {prompt} and {response}, used instead of the chat template."),
        click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:1, mps."),
        click.option("--dtype", default="auto", show_default=True, help="auto (bf16/fp16 on GPU), fp32, bf16, fp16."),
        click.option("--trust-remote-code", is_flag=True, help="Allow custom model code from the model folder/hub."),
        click.option("--cache", "cache_path", default=None,
                     help="SQLite score cache (default $CROME_AUDIT_CACHE or ~/.cache/crome-audit/scores.sqlite)."),
        click.option("--no-cache", is_flag=True, help="Do not read or write the score cache."),
    ]
    for opt in reversed(options):
        func = opt(func)
    return func


def parse_batch_size(value: str):
    if value == "auto":
        return "auto"
    try:
        n = int(value)
    except ValueError:
        raise click.BadParameter("must be a positive integer or 'auto'", param_hint="--batch-size") from None
    if n < 1:
        raise click.BadParameter("must be a positive integer or 'auto'", param_hint="--batch-size")
    return n


def build_engine(rm_spec, batch_size, max_batch_tokens, max_length, truncation, template, device, dtype,
                 trust_remote_code, cache_path, no_cache, progress=True, rm_args=()):
    """Load the RM and wrap it in a ScoringEngine with the cache the options ask for."""
    from ..cache import ScoreCache, default_cache_path
    from ..engine import ScoringEngine
    from ..models import load_reward_model, parse_rm_args

    size = parse_batch_size(batch_size)
    rm = load_reward_model(rm_spec, parse_rm_args(rm_args), device=device, dtype=dtype, max_length=max_length,
                           truncation=truncation, template=template, trust_remote_code=trust_remote_code,
                           batch_size=None if size == "auto" else size, max_batch_tokens=max_batch_tokens)
    cache = None if no_cache else ScoreCache(cache_path or default_cache_path())
    return ScoringEngine(rm, cache=cache, progress=progress)


def rm_config(rm_spec, batch_size, max_batch_tokens, max_length, truncation, template, device, dtype,
              trust_remote_code, rm_args=(), **_):
    """The RM-related options as they go into results.json's config (rm_args hold env-var names, never keys)."""
    return {"rm": rm_spec, "batch_size": batch_size, "max_batch_tokens": max_batch_tokens,
            "max_length": max_length, "truncation": truncation, "template": template, "device": device,
            "dtype": dtype, "trust_remote_code": trust_remote_code, "rm_args": list(rm_args)}


def set_offline_if_requested():
    """Respect HF_HUB_OFFLINE etc. as set by the user; nothing to do otherwise (hub ids work online)."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
