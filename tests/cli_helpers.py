"""Helpers for CLI-level tests: invoke the real click CLI in-process and check the one-line error contract."""

from click.testing import CliRunner

from crome_audit.cli import main


def cli(*args, env=None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


def one_line_error(res, *contains, code=2):
    """Exit ``code`` with exactly one stderr line that names what is wrong."""
    assert res.exit_code == code, (res.exit_code, res.output)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("crome-audit: error:"), res.stderr
    for c in contains:
        assert c in lines[0], (c, lines[0])
    return lines[0]
