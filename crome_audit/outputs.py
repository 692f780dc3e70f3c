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

Outputs never eat inputs: :func:`refuse_overwriting_inputs` refuses an output file (or a set's file) that is
one of the files the command reads; an OutputSet refuses a folder another command wrote, told by its files
(``bench -o`` a run's folder would replace its results.json and leave a stale report.html);
and it holds an exclusive lock on OUT (``.crome-audit.lock``, ``fcntl.flock``: the kernel drops it when the
process dies, so a killed run's lock is free at once) so two runs cannot write one folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from .errors import OutputError

INCOMPLETE = ".incomplete"
RUN_OUTPUTS = ("results.json", "samples.jsonl", "report.html")  # the set `run` writes
BENCH_OUTPUTS = ("results.json", "samples.jsonl")
LOCK = ".crome-audit.lock"
# files that say whose output a folder is (besides results.json, whose config names `bench`)
FOREIGN_FILES = {"crome_training.json": "train", "model.safetensors": "a model", "config.json": "a model"}


def _nearest_existing(path: Path) -> Path:
    anc = path
    while not os.path.lexists(anc):
        if anc.parent == anc:
            break
        anc = anc.parent
    return anc


def _same_path(a, b) -> bool:
    try:
        return os.path.samefile(a, b)  # hard links and symlinks too
    except OSError:  # one does not exist (yet)
        return Path(a).resolve() == Path(b).resolve()


def refuse_overwriting_inputs(outputs, inputs, option: str) -> None:
    """Raise OutputError when a path this command writes (or replaces) is one it reads. ``outputs``: paths;
    ``inputs``: (label, path) pairs; a folder input is hit when an output lies inside it."""
    for out in outputs:
        for label, src in inputs:
            if src is None or not os.path.lexists(src):
                continue
            if _same_path(out, src) or (os.path.isdir(src) and _same_path(Path(out).parent, src)):
                raise OutputError(f"{option} {out}: is the input {label} {src}; writing it would destroy what "
                                  "this command reads (choose another output)")


def _owner_of(out: Path) -> str | None:
    """The command whose output the folder holds (None: none, or nothing known)."""
    for name, owner in FOREIGN_FILES.items():
        if (out / name).exists():
            return owner
    try:  # bench records its command in the results' config; run does not
        config = json.loads((out / "results.json").read_text(encoding="utf-8")).get("config") or {}
        return "bench" if config.get("command") == "bench" else "run"
    except (OSError, ValueError, AttributeError):  # none, or not ours to judge: only a known owner is refused
        return None


def check_output_dir(path, option: str = "--out", command: str | None = None, shown=None) -> Path:
    """Fail now (not after the scoring) when ``path`` cannot become a writable folder (or, with ``command``,
    when it holds another command's output). ``shown``: the name the message gives (default ``path``)."""
    out = Path(path)
    shown = out if shown is None else shown
    if os.path.lexists(out) and not out.is_dir():
        raise OutputError(f"{option} {shown}: " + ("is a file, not a folder" if out.is_file() else
                                                 "exists and is not a folder"))
    anc = out if out.is_dir() else _nearest_existing(out.absolute().parent)
    if not anc.is_dir():
        raise OutputError(f"{option} {shown}: {anc} is a file, not a folder")
    try:  # os.access is not enough (root passes it; read-only file systems do not show in it)
        fd, probe = tempfile.mkstemp(prefix=".crome-audit-write-check-", dir=anc)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise OutputError(f"{option} {shown}: cannot write in {anc}: {e.strerror or e}") from None
    owner = _owner_of(out) if command and out.is_dir() else None
    if owner is not None and owner != command:
        what = owner if owner == "a model" else f"`crome-audit {owner}`"
        raise OutputError(f"{option} {shown}: holds the output of {what}; `crome-audit {command}` would replace "
                          "its files (choose another folder)")
    return out


class _FolderLock:
    """An exclusive, non-blocking lock on OUT for the life of an output set."""

    def __init__(self, out: Path, option: str):
        self.path, self.option, self.fd = out / LOCK, option, None

    def acquire(self) -> None:
        import fcntl

        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
                os.close(fd)
                raise OutputError(f"{self.option} {self.path.parent}: another crome-audit process (PID {holder}) "
                                  "is writing this folder; wait for it or choose another folder") from None
            try:  # the holder may have removed the file between our open and flock: lock the file that is there
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            try:
                os.unlink(self.path)
            except OSError:
                pass
            os.close(self.fd)
            self.fd = None


@contextlib.contextmanager
def folder_lock(out, option: str = "--out"):
    """Hold the exclusive lock on OUT (the one an output set takes) while writing a folder that is not an output
    set (``train``'s model folder): a second process writing the same folder is refused with one line."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    lock = _FolderLock(out, option)
    lock.acquire()
    try:
        yield out
    finally:
        lock.release()


def check_output_file(path, option: str = "-o/--out") -> Path:
    """The same check for a command that writes one file (report, export)."""
    out = Path(path)
    if out.is_dir():
        raise OutputError(f"{option} {out}: is a folder; give a file name such as {out / 'report.html'}")
    check_output_dir(out.absolute().parent, option, shown=out)
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

    def __init__(self, out, names, option: str = "--out", command: str = "run", inputs=()):
        self.out = Path(os.path.abspath(out))
        self.names = tuple(names)
        self.option = option
        self.command = command
        self.staging: Path | None = None
        self.created = False
        self.lock: _FolderLock | None = None
        refuse_overwriting_inputs([self.out / n for n in self.names], inputs, option)

    def __enter__(self) -> Path:
        check_output_dir(self.out, self.option, self.command)
        try:
            self.created = not self.out.exists()
            self.out.mkdir(parents=True, exist_ok=True)
            self.lock = _FolderLock(self.out, self.option)
            self.lock.acquire()
            _remove_stale_staging(self.out)
            self.staging = Path(tempfile.mkdtemp(prefix=f".staging-{os.getpid()}-", dir=self.out))
        except OutputError:  # locked by another process
            self._cleanup()
            raise
        except OSError as e:
            self._cleanup()
            raise OutputError(f"{self.option} {self.out}: cannot create the folder: {e.strerror or e}") from None
        return self.staging

    def _cleanup(self) -> None:
        if self.staging is not None:
            shutil.rmtree(self.staging, ignore_errors=True)
            self.staging = None
        if self.lock is not None:
            self.lock.release()
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
        finally:
            if self.lock is not None:
                self.lock.release()
        return False
