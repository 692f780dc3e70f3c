"""Shared CLI plumbing: error -> exit-code mapping, common options, checks that run before any work
(device, seed, output folder, benchmark data), and the one spelling of benchmark data/options.

    @click.command()
    @rm_options
    @cli_errors
    def cmd(rm_spec, ..., device, ...):
        check_device(device)                       # exit 2 now, not after loading data
        engine = build_engine(rm_spec, ...)

Output rule for every command: ``-o/--out`` names what the command writes: a folder for commands that write
a set of files (run, bench, train), a file for commands that write one file (report, export, generate).
"""

from __future__ import annotations

import functools
import os
import re
import sys
import traceback

import click

from ..errors import CromeError, InputError

# benchmarks whose data comes from another's variable, and those whose --bench-data is optional
DATA_OF = {"rewordbench": "rewardbench"}
DATA_OPTIONAL = {"wildguard"}  # scores a candidates file; its prompts file only cross-checks
DEVICE_RE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")
RM_HELP = ("Reward model: a local folder, a hub id (org/name), 'length', 'noise', 'py:module:function' "
           "(imported from the current folder too) or 'py:path/to/file.py:function' (the function takes "
           "(prompts, responses) lists and returns a list of floats), 'vllm:URL', 'judge:URL', 'dpo:POLICY,REF'... "
           "(`crome-audit rms` lists every adapter).")


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
        except OSError as e:
            if getattr(e, "filename", None) is None:
                fail_internal(e)
            # a path the user gave that the system refuses: a name too long, a read-only folder, no space
            fail(f"{e.filename}: {e.strerror or e}", 2)
        except Exception as e:  # internal error: one line, traceback only on request
            fail_internal(e)

    return wrapper


def fail_internal(e: BaseException) -> None:
    """Exit 3 with one line; the traceback only with CROME_AUDIT_DEBUG=1."""
    if os.environ.get("CROME_AUDIT_DEBUG"):
        traceback.print_exc()
    fail(f"internal error: {type(e).__name__}: {e} (set CROME_AUDIT_DEBUG=1 for a traceback)", 3)


def rm_options(func):
    """Options every command that loads a reward model shares."""
    options = [
        click.option("--rm", "rm_spec", required=True, help=RM_HELP),
        click.option("--rm-arg", "rm_args", multiple=True, metavar="KEY=VALUE",
                     help="Adapter option, repeatable (e.g. max_concurrency=16); `crome-audit rms` lists them."),
        click.option("--batch-size", default="auto", show_default=True,
                     help="Max texts per batch, or 'auto' (token-budget batching only)."),
        click.option("--max-batch-tokens", type=click.IntRange(min=1), default=None,
                     help="Padded tokens per batch (default 8192 on CPU, 65536 on GPU, halved on OOM; "
                          "hf batch-invariant forwards: 4096 / 32768, fixed)."),
        click.option("--max-length", type=click.IntRange(min=8), default=None,
                     help="Max tokens per text (default: what a crome-audit-trained model recorded, else the model's "
                          "context length; longer texts are cut and counted)."),
        click.option("--truncation", type=click.Choice(["left", "right"]), default=None,
                     help="Drop tokens from the start (left, default: keeps the response end) or the end (right)."),
        click.option("--template", default=None,
                     help="Plain format string with {prompt} and {response}, used instead of the chat template."),
        click.option("--device", default="auto", show_default=True, callback=_device_callback,
                     help="auto, cpu, cuda, cuda:1, mps."),
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


def _device_callback(ctx, param, value):
    if not DEVICE_RE.match(value or ""):
        raise click.BadParameter(f"'{value}' is not a device (use auto, cpu, cuda, cuda:N or mps)")
    return value


def check_device(device: str) -> None:
    """A device this torch cannot use is bad input, found before any data is read or model loaded."""
    if device in ("auto", "cpu"):
        return  # no torch import for the model-free RMs
    import torch

    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise InputError(f"--device {device}: this torch ({torch.__version__}) has no usable CUDA device "
                             "(use --device cpu or auto)")
        index = int(device.split(":")[1]) if ":" in device else 0
        if index >= torch.cuda.device_count():
            raise InputError(f"--device {device}: only {torch.cuda.device_count()} CUDA device(s) visible")
    elif device == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise InputError("--device mps: MPS is not available in this torch (use --device cpu or auto)")


def _import_user_rm(rm_spec: str, load):
    """Load a ``py:`` RM with the current folder importable (a console script does not put it on sys.path)
    and the user's module code's own failures (even sys.exit at import) reported as one line."""
    from ..engine import describe_user_error, user_frame
    from ..errors import UserCodeError

    cwd = os.getcwd()
    added = cwd not in sys.path
    if added:
        sys.path.insert(0, cwd)
    try:
        return load()
    except SystemExit as e:
        raise UserCodeError(describe_user_error(rm_spec, e, when="while importing")) from None
    except CromeError as e:
        cause = e.__context__  # the user's exception behind "cannot import": say where it happened
        frame = user_frame(cause) if getattr(cause, "__traceback__", None) is not None else "?"
        if frame != "?" and "(at " not in str(e):
            raise type(e)(f"{e} (at {frame})") from None
        raise
    finally:
        if added and cwd in sys.path:
            sys.path.remove(cwd)


def build_engine(rm_spec, batch_size, max_batch_tokens, max_length, truncation, template, device, dtype,
                 trust_remote_code, cache_path, no_cache, progress=True, rm_args=()):
    """Load the RM and wrap it in a ScoringEngine with the cache the options ask for."""
    from ..cache import ScoreCache, default_cache_path
    from ..engine import ScoringEngine
    from ..models import load_reward_model, parse_rm_args

    check_device(device)
    cache = None if no_cache else ScoreCache(cache_path or default_cache_path())  # a bad cache fails before loading

    def load():
        size = parse_batch_size(batch_size)
        return load_reward_model(rm_spec, parse_rm_args(rm_args), device=device, dtype=dtype, max_length=max_length,
                                 truncation=truncation, template=template, trust_remote_code=trust_remote_code,
                                 batch_size=None if size == "auto" else size, max_batch_tokens=max_batch_tokens)

    rm = _import_user_rm(rm_spec, load) if rm_spec.startswith("py:") else load()
    return ScoringEngine(rm, cache=cache, progress=progress)


def output_name(rm_spec: str) -> str:
    """A readable folder name for an RM: ``py:myrm.py:score`` -> ``myrm-score``, ``org/Model-8B`` ->
    ``Model-8B``, ``./runs/tiny/`` -> ``tiny``."""
    spec = rm_spec.strip()
    if spec.startswith("py:"):
        module, _, func = spec[3:].rpartition(":")
        module = os.path.basename(module.rstrip("/\\"))
        module = module[:-3] if module.endswith(".py") else module.rsplit(".", 1)[-1]
        name = f"{module}-{func}" if func else module
    else:
        name = os.path.basename(spec.rstrip("/\\")) or spec
        if name.endswith(".gguf"):
            name = name[:-5]
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")[:80]
    return name or "rm"


def quiet_option(func):
    return click.option("-q", "--quiet", is_flag=True, help="No progress bars.")(func)


def bench_data_options(func):
    """``--bench-data NAME=PATH`` and ``--bench-option NAME.KEY=VALUE``, the one spelling for run and bench."""
    options = [
        click.option("--bench-data", "bench_data", multiple=True, metavar="NAME=PATH",
                     help="Data for a benchmark (repeatable), e.g. rewardbench=filtered.jsonl "
                          "(default: $CROME_AUDIT_<NAME>, else its hub id)."),
        click.option("--bench-option", "bench_option", multiple=True, metavar="NAME.KEY=VALUE",
                     help="Benchmark option (repeatable; VALUE is a YAML scalar), e.g. rewardbench.subsets=hep-python."),
    ]
    for opt in reversed(options):
        func = opt(func)
    return func


def _yaml_scalar(raw: str):
    import yaml

    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        return raw
    return value if isinstance(value, (str, int, float, bool, list)) or value is None else raw


def parse_bench_data(values, known: list[str], default: str | None = None) -> dict[str, str]:
    """``NAME=PATH`` pairs -> {name: path}; NAME must be one of ``known`` (did-you-mean otherwise). With
    ``default`` (the bench subcommand), a bare PATH is that benchmark's."""
    from ..registry import suggest

    out = {}
    for v in values:
        name, sep, path = v.partition("=")
        if not sep or (default and name.strip() not in known):
            if default is None:
                raise InputError(f"--bench-data {v!r}: expected NAME=PATH (NAME one of: {', '.join(known)})")
            name, path = default, v
        name = name.strip()
        if name not in known:
            raise InputError(f"--bench-data {v!r}: '{name}' is not a benchmark of this run{suggest(name, known)}")
        if not path:
            raise InputError(f"--bench-data {v!r}: empty PATH")
        out[name] = path
    return out


def parse_bench_options(values, known: list[str], default: str | None = None) -> dict[str, dict]:
    """``NAME.KEY=VALUE`` -> {name: {key: yaml scalar}}; with ``default``, ``KEY=VALUE`` is that benchmark's."""
    from ..registry import suggest

    out: dict[str, dict] = {}
    for v in values:
        key, sep, raw = v.partition("=")
        name, dot, opt = key.strip().rpartition(".") if "." in key else ("", "", key.strip())
        if not dot:
            if default is None:
                raise InputError(f"--bench-option {v!r}: expected NAME.KEY=VALUE")
            name = default
        if not sep or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", opt):
            raise InputError(f"--bench-option {v!r}: expected NAME.KEY=VALUE with KEY a Python identifier")
        if name not in known:
            raise InputError(f"--bench-option {v!r}: '{name}' is not a benchmark of this run{suggest(name, known)}")
        out.setdefault(name, {})[opt] = _yaml_scalar(raw)
    return out


def check_bench_data(names: list[str], data: dict[str, str]) -> None:
    """Resolve each benchmark's data source before any scoring: a path must exist, and with the hub
    switched off (HF_HUB_OFFLINE / HF_DATASETS_OFFLINE) a benchmark needs --bench-data or its variable."""
    import inspect

    from ..benchmarks import get_benchmark

    offline = any(os.environ.get(v, "").lower() in ("1", "true", "yes", "on")
                  for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))
    for name in names:
        if name in DATA_OPTIONAL and name not in data:
            continue
        module = inspect.getmodule(get_benchmark(DATA_OF.get(name, name)))
        env_var = getattr(module, "ENV_VAR", None)
        source = data.get(name) or (os.environ.get(env_var) if env_var else None)
        if source:
            local = source.startswith((".", "/", "~")) or os.path.splitext(source)[1] in (
                ".jsonl", ".json", ".csv", ".parquet", ".gz")
            how = f"--bench-data {name}=" if data.get(name) else f"${env_var}="
            if not os.path.exists(os.path.expanduser(source)):
                if local:
                    raise InputError(f"{how}{source}: no such file or folder")
                if offline:
                    raise InputError(f"{how}{source}: not a local file or folder, and the hub is offline")
            continue
        if offline and getattr(module, "HUB_ID", None):
            var = f" or set ${env_var}" if env_var else ""
            raise InputError(f"benchmark '{name}' needs its data: the hub is offline, so give "
                             f"--bench-data {name}=PATH{var} (to a local copy of {module.HUB_ID})")


def rm_config(rm_spec, batch_size, max_batch_tokens, max_length, truncation, template, device, dtype,
              trust_remote_code, rm_args=(), **_):
    """The RM-related options as they go into results.json's config (rm_args hold env-var names, never keys)."""
    return {"rm": rm_spec, "batch_size": batch_size, "max_batch_tokens": max_batch_tokens,
            "max_length": max_length, "truncation": truncation, "template": template, "device": device,
            "dtype": dtype, "trust_remote_code": trust_remote_code, "rm_args": list(rm_args)}


def set_offline_if_requested():
    """Respect HF_HUB_OFFLINE etc. as set by the user; nothing to do otherwise (hub ids work online)."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
