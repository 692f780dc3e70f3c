"""Persistent SQLite score cache: (model fingerprint, text key) -> reward.

An interrupted run resumes (scores are committed chunk by chunk) and an unchanged re-run does no
forward passes. Default location: ``$CROME_AUDIT_CACHE`` or ``~/.cache/crome-audit/scores.sqlite``.

A cache that cannot be used (not a SQLite file, another table layout, a folder, a read-only file or
folder) is an :class:`InputError` naming the file, raised when the cache opens, before any scoring;
``--no-cache`` or another ``--cache`` path is the way out.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from pathlib import Path

from .errors import InputError

COLUMNS = ["model", "key", "reward"]


def default_cache_path() -> Path:
    env = os.environ.get("CROME_AUDIT_CACHE")
    if env:  # quoted in a shell or set in a CI file, "~" reaches us unexpanded
        return Path(env).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser()
    return base / "crome-audit" / "scores.sqlite"


def text_key(prompt, response: str) -> str:
    """Stable hash of one (prompt, response); prompt may be a string or a message list."""
    return hashlib.sha256(json.dumps([prompt, response], ensure_ascii=False).encode()).hexdigest()


class ScoreCache:
    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.conn = None
        if self.path.is_dir():
            self._fail("is a folder, not a SQLite file")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            self._fail(f"cannot create its folder: {e.strerror or e}")
        # Two processes opening a new cache at once (data-parallel ranks, concurrent runs) can get "database is
        # locked" from the journal-mode switch, which SQLite does not retry under its busy timeout: retry it here.
        for attempt in range(20):
            try:
                self._open()
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or attempt == 19:
                    self._fail(f"{e}")
                if self.conn is not None:
                    self.conn.close()
                    self.conn = None
                time.sleep(0.05 * (attempt + 1))
            except sqlite3.Error as e:
                self._fail(f"{e}")

    def _open(self) -> None:
        self.conn = sqlite3.connect(self.path, timeout=60)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS scores (model TEXT NOT NULL, key TEXT NOT NULL, reward REAL NOT NULL,"
            " PRIMARY KEY (model, key)) WITHOUT ROWID"
        )
        self.conn.commit()
        cols = [row[1] for row in self.conn.execute("PRAGMA table_info(scores)")]
        if cols != COLUMNS:
            self._fail(f"table 'scores' has columns {cols}, expected {COLUMNS} (not a crome-audit score cache)")
        self.conn.execute("BEGIN IMMEDIATE")  # takes the write lock: a read-only cache fails here, not mid-run
        self.conn.rollback()

    def _fail(self, why: str):
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        raise InputError(f"score cache {self.path}: {why} (use --no-cache or --cache PATH)")

    def get_many(self, model: str, keys: list[str]) -> dict[str, float]:
        found: dict[str, float] = {}
        for start in range(0, len(keys), 500):  # stay under SQLite's variable limit
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            try:
                found.update(self.conn.execute(
                    f"SELECT key, reward FROM scores WHERE model = ? AND key IN ({marks})", [model, *chunk]))
            except sqlite3.Error as e:
                self._fail(f"cannot read: {e}")
        return found

    def put_many(self, model: str, items: dict[str, float]) -> None:
        try:
            with self.conn:
                self.conn.executemany(
                    "INSERT OR REPLACE INTO scores (model, key, reward) VALUES (?, ?, ?)",
                    [(model, k, float(v)) for k, v in items.items()],
                )
        except sqlite3.Error as e:
            self._fail(f"cannot write: {e}")

    def count(self, model: str | None = None) -> int:
        if model is None:
            return self.conn.execute("SELECT COUNT(*) FROM scores").fetchone()[0]
        return self.conn.execute("SELECT COUNT(*) FROM scores WHERE model = ?", [model]).fetchone()[0]

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
