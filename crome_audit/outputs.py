"""Output folders: check them before any work, and write a command's files as one set.

    out = check_output_dir("reports/my-rm")          # before scoring: a file, read-only or missing parent -> OutputError
    with OutputSet(out, ("results.json", "samples.jsonl", "report.html")) as staging:
        write_results(staging, results)              # every file is written into a hidden staging folder
        write_jsonl_atomic(staging / "samples.jsonl", rows)
    # only now do the files move into OUT (one rename each); a set file not written this time is removed,
    # so OUT never holds a new results.json beside an old report.html

Why a staging folder: a disk that fills up, or an interrupt, while writing leaves OUT exactly as it was
(the staging folder is removed; a folder this call created is removed too). While the files move into
place OUT holds ``.incomplete`` (removed at the end), so a reader can tell an interrupted move. A staging
folder left by a killed process (``.staging-PID-*``, that PID gone) is removed by the next OutputSet on OUT.
Every write failure is an :class:`OutputError` (exit 2) naming the file and the reason.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from .errors import OutputError

INCOMPLETE = ".incomplete"


def _nearest_existing(path: Path) -> Path:
    anc = path
    while not os.path.lexists(anc):
        if anc.parent == anc:
            break
        anc = anc.parent
    return anc


def check_output_dir(path, option: str = "--out") -> Path:
    """Fail now (not after the scoring) when ``path`` cannot become a writable folder."""
    out = Path(path)
    if os.path.lexists(out) and not out.is_dir():
        raise OutputError(f"{option} {out}: " + ("is a file, not a folder" if out.is_file() else
                                                 "exists and is not a folder"))
    anc = out if out.is_dir() else _nearest_existing(out.absolute().parent)
    if not anc.is_dir():
        raise OutputError(f"{option} {out}: {anc} is a file, not a folder")
    try:  # os.access is not enough (root passes it; read-only file systems do not show in it)
        fd, probe = tempfile.mkstemp(prefix=".crome-audit-write-check-", dir=anc)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise OutputError(f"{option} {out}: cannot write in {anc}: {e.strerror or e}") from None
    return out


def check_output_file(path, option: str = "-o/--out") -> Path:
    """The same check for a command that writes one file (report, export)."""
    out = Path(path)
    if out.is_dir():
        raise OutputError(f"{option} {out}: is a folder; give a file name such as {out / 'report.html'}")
    check_output_dir(out.absolute().parent, option)
    return out


def _remove_stale_staging(out: Path) -> None:
    """Staging folders of killed runs (``.staging-PID-*`` whose process is gone): an audit streams its
    samples.jsonl there, ~10 KB a pair, so a killed million-pair run would otherwise leave gigabytes."""
    for d in out.glob(".staging-*-*"):
        pid = d.name.split("-")[1]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(d, ignore_errors=True)
        except OSError:  # alive, another user's: leave it
            pass


class OutputSet:
    """Context manager yielding a staging folder; on a clean exit its files replace ``names`` in ``out``."""

    def __init__(self, out, names, option: str = "--out"):
        self.out = Path(out)
        self.names = tuple(names)
        self.option = option
        self.staging: Path | None = None
        self.created = False

    def __enter__(self) -> Path:
        check_output_dir(self.out, self.option)
        try:
            self.created = not self.out.exists()
            self.out.mkdir(parents=True, exist_ok=True)
            _remove_stale_staging(self.out)
            self.staging = Path(tempfile.mkdtemp(prefix=f".staging-{os.getpid()}-", dir=self.out))
        except OSError as e:
            self._cleanup()
            raise OutputError(f"{self.option} {self.out}: cannot create the folder: {e.strerror or e}") from None
        return self.staging

    def _cleanup(self) -> None:
        if self.staging is not None:
            shutil.rmtree(self.staging, ignore_errors=True)
            self.staging = None
        if self.created:
            try:
                self.out.rmdir()  # only if empty: never removes what someone else put there
            except OSError:
                pass

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self._cleanup()
            if isinstance(exc, OSError) and not isinstance(exc, OutputError):
                name = Path(exc.filename).name if getattr(exc, "filename", None) else "output"
                raise OutputError(f"{self.option} {self.out}: cannot write {name}: {exc.strerror or exc} "
                                  "(nothing was changed in the folder)") from None
            return False
        marker = self.out / INCOMPLETE
        try:
            marker.write_text("files are being moved into place; if this file stays, re-run the command\n")
            for name in self.names:
                staged, final = self.staging / name, self.out / name
                if staged.exists():
                    os.replace(staged, final)
                elif final.exists():  # not part of this set: remove, so no stale file sits beside new ones
                    final.unlink()
            shutil.rmtree(self.staging, ignore_errors=True)
            self.staging = None
            marker.unlink()
        except OSError as e:
            raise OutputError(f"{self.option} {self.out}: cannot move outputs into place: {e.strerror or e}") from None
        return False
