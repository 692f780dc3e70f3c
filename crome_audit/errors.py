"""Typed errors. Library code raises these; only the CLI turns them into messages and exit codes.

Exit codes used by every command: 0 ok, 1 gate failed, 2 bad input or usage, 3 internal error.
"""


class CromeError(Exception):
    """Base class for every error crome-audit raises on purpose."""

    exit_code = 3


class InputError(CromeError):
    """Bad user input: a file, a row, a field, an option or a config key. Message is one line
    that names where (file, line/row, field) and what is wrong."""

    exit_code = 2


class ConfigError(InputError):
    """A configuration (YAML recipe, suite, CLI option combination) is invalid."""


class ModelLoadError(InputError):
    """A reward model or generator could not be found or loaded."""


class InvalidRowError(InputError):
    """One data row fails validation (the CLI adds the hint that ``--skip-invalid`` skips such rows)."""


class UserCodeError(InputError):
    """The user's own code (a ``py:`` reward model) raised, exited or returned something unusable."""


class OutputError(InputError):
    """An output folder or file cannot be written (not a folder, read-only, disk full)."""


def where(path, line=None, field=None) -> str:
    """Format a location prefix like ``data.jsonl:12: field 'chosen'``."""
    loc = str(path)
    if line is not None:
        loc += f":{line}"
    if field is not None:
        loc += f": field '{field}'"
    return loc
