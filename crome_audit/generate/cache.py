"""On-disk SQLite cache of every generation request and its response.

Key = sha256 of (backend, server URL with credentials masked, model, messages, sampling params, sample index,
seed), so a re-run with the same inputs costs no generation, and asking for more samples (n=8 after n=4) only generates the new ones.
Rows keep the full request JSON next to the response, so the file doubles as a log of what was asked.

Default location: ``$CROME_AUDIT_GEN_CACHE`` (a file path), else ``generations.sqlite`` next to the
score cache (``$CROME_AUDIT_CACHE``'s folder, or ``~/.cache/crome-audit/``).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from pathlib import Path


def default_generation_cache_path(cache_dir: str | None = None) -> Path:
    if cache_dir:
        return Path(cache_dir) / "generations.sqlite"
    env = os.environ.get("CROME_AUDIT_GEN_CACHE")
    if env:
        return Path(env)
    from ..cache import default_cache_path

    return default_cache_path().parent / "generations.sqlite"


def request_key(request: dict) -> str:
    """Stable hash of one request (a plain-JSON dict)."""
    return hashlib.sha256(json.dumps(request, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class GenerationCache:
    """Thread-safe (one connection, one lock): HTTP worker threads write results as they arrive, so an
    interrupted run keeps everything generated so far."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self.conn = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS generations (key TEXT PRIMARY KEY, backend TEXT NOT NULL,"
            " model TEXT NOT NULL, request TEXT NOT NULL, response TEXT NOT NULL, created REAL NOT NULL)"
            " WITHOUT ROWID"
        )
        self.conn.commit()

    def get_many(self, keys: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        with self._lock:
            for start in range(0, len(keys), 500):  # stay under SQLite's variable limit
                chunk = keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                found.update(self.conn.execute(
                    f"SELECT key, response FROM generations WHERE key IN ({marks})", chunk))
        return found

    def put(self, key: str, request: dict, response: str) -> None:
        with self._lock, self.conn:
            self.conn.execute(
                "INSERT OR REPLACE INTO generations (key, backend, model, request, response, created)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (key, request.get("backend", ""), request.get("model", ""),
                 json.dumps(request, sort_keys=True, ensure_ascii=False), response, time.time()))

    def count(self) -> int:
        with self._lock:
            return self.conn.execute("SELECT COUNT(*) FROM generations").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self.conn.close()
