"""Data I/O: read preference pairs or single responses from jsonl/json/csv/parquet files or hub ids.

Formats accepted (TRL's preference format):
- ``{"prompt", "chosen", "rejected"}`` with strings, or conversational message lists
  (``prompt`` = list of messages, ``chosen``/``rejected`` = assistant message lists);
- implicit prompt: ``{"chosen": [messages], "rejected": [messages]}`` sharing a prefix;
- HH-RLHF dialogues: ``{"chosen": "\\n\\nHuman: ...\\n\\nAssistant: ...", "rejected": ...}``
  (split at the last "\\n\\nAssistant:");
- ``{"prompt", "response"}`` for single responses;
- BiasScope's RewardBench re-save ``{"question", "response_A", "response_B", "label": 1}`` (response_A is
  the chosen answer), read exactly as ``bench rewardbench`` reads it.

Message roles must be one of ``ROLES``; text must be valid Unicode (a JSON ``"\ud800"`` lone surrogate is
refused). CSV fields may be any length; a truncated ``.gz`` or JSON nested past Python's recursion limit is
an input error naming the file (and line).

Every record comes out as a plain dict: ``{"id": str, "prompt": str | list[message], "chosen": str,
"rejected": str, **other columns}`` (or ``response`` instead of chosen/rejected). Bad input raises
:class:`InputError` with one line naming the file, line/row and field.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import itertools
import json
import math
import os
import re
import sys
import zlib
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import InputError, InvalidRowError

HH_ASSISTANT = "\n\nAssistant:"
HH_HUMAN = "\n\nHuman:"
FILE_SUFFIXES = (".jsonl", ".json", ".csv", ".parquet", ".jsonl.gz", ".json.gz")
ROLES = ("system", "user", "assistant", "tool")
SURROGATE = re.compile("[\ud800-\udfff]")
# text that shows nothing: whitespace plus zero-width and other invisible format characters (str.strip keeps them)
BLANK = re.compile("[\\s\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]*")
# BiasScope's RewardBench columns -> ours (the same mapping crome_audit.benchmarks.rewardbench accepts)
BIASSCOPE_COLUMNS = {"question": "prompt", "response_A": "chosen", "response_B": "rejected"}
# decompression-bomb limits: a 2 MB .gz can hold a 2 GB line; a row this long is no pair anyone scores
MAX_LINE_BYTES = 64 * 2**20
MAX_GZIP_BYTES = 2**30  # whole-file formats (.json.gz) are decompressed into memory


def default_data_path() -> str:
    """The small bundled sample of real preference pairs (see crome_audit/assets/SOURCE.md)."""
    return str(resources.files("crome_audit") / "assets" / "sample_pairs.jsonl")


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sha256_json(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


# ----------------------------------------------------------------------------- raw rows


def _decode(path: Path, raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise InputError(f"{path}:{line}: not valid UTF-8 (byte 0x{raw[e.start]:02x})") from None


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                raw = f.read(MAX_GZIP_BYTES + 1)
            if len(raw) > MAX_GZIP_BYTES:
                raise InputError(f"{path}: decompresses to more than {MAX_GZIP_BYTES >> 20} MB; refused "
                                 "(decompress it yourself, or use JSON lines, which are read row by row)")
        else:
            raw = path.read_bytes()
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise InputError(f"{path}: truncated or corrupt gzip file: {e}") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror or e}") from None
    if not raw.strip():
        raise InputError(f"{path}: file is empty")
    return raw


def _rows_jsonl(path: Path) -> list[tuple[str, dict]]:
    return list(_iter_rows_jsonl(path))


def _iter_rows_jsonl(path: Path):
    """Line by line, yielded as read (a million-pair file is read without holding its bytes, its text, its
    lines or its raw rows at once). Lines are split on "\\n" only, as JSON Lines says: U+2028, U+2029, U+0085
    or a lone CR inside a string are text, not line breaks (``str.splitlines`` would split there)."""
    i, seen_text = 0, False
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            for n, raw in enumerate(iter(lambda: f.readline(MAX_LINE_BYTES + 1), b""), start=1):
                if len(raw) > MAX_LINE_BYTES:
                    raise InputError(f"{path}:{n}: line longer than {MAX_LINE_BYTES >> 20} MB; refused "
                                     "(a decompression bomb or not JSON lines)")
                try:
                    chunk = raw.decode("utf-8-sig" if n == 1 else "utf-8")
                except UnicodeDecodeError as e:
                    raise InputError(f"{path}:{n}: not valid UTF-8 (byte 0x{raw[e.start]:02x})") from None
                i = n
                line = chunk.rstrip("\r\n")
                if not line.strip():
                    continue
                seen_text = True
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as e:
                    raise InputError(f"{path}:{i}: invalid JSON line: {e.msg} (column {e.colno})") from None
                except RecursionError:
                    raise InputError(f"{path}:{i}: JSON nested too deeply to read") from None
                if not isinstance(obj, dict):
                    raise InputError(f"{path}:{i}: expected a JSON object, got {type(obj).__name__}")
                yield f"{path}:{i}", obj
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise InputError(f"{path}: truncated or corrupt gzip file: {e}") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror or e}") from None
    if not seen_text:
        raise InputError(f"{path}: file is empty")


def _rows_json(path: Path) -> list[tuple[str, dict]]:
    text = _decode(path, _read_bytes(path))
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"{path}:{e.lineno}: invalid JSON: {e.msg} (column {e.colno})") from None
    except RecursionError:
        raise InputError(f"{path}: JSON nested too deeply to read") from None
    if isinstance(obj, dict):  # {"data": [...]} or a single record
        lists = [v for v in obj.values() if isinstance(v, list) and v and isinstance(v[0], dict)]
        obj = lists[0] if len(lists) == 1 else [obj]
    if not isinstance(obj, list):
        raise InputError(f"{path}: expected a JSON list of objects, got {type(obj).__name__}")
    rows = []
    for i, item in enumerate(obj):
        if not isinstance(item, dict):
            raise InputError(f"{path}: item {i}: expected a JSON object, got {type(item).__name__}")
        rows.append((f"{path}: item {i}", item))
    return rows


def _rows_csv(path: Path) -> list[tuple[str, dict]]:
    text = _decode(path, _read_bytes(path))
    # the csv module stops at 131,072 characters per field by default; a long answer is valid data
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows = []
    try:
        for row in reader:
            if None in row:
                raise InputError(f"{path}:{reader.line_num}: more values than header columns")
            rows.append((f"{path}:{reader.line_num}", dict(row)))
    except csv.Error as e:
        raise InputError(f"{path}:{reader.line_num}: invalid CSV: {e}") from None
    return rows


def _rows_parquet(path: Path) -> list[tuple[str, dict]]:
    import pyarrow.parquet as pq

    _read_bytes(path)  # empty-file check
    try:
        table = pq.read_table(path)
    except Exception as e:  # pyarrow raises several types for corrupt files
        raise InputError(f"{path}: not a readable parquet file: {e}") from None
    return [(f"{path}: row {i}", row) for i, row in enumerate(table.to_pylist())]


def _rows_hub(name: str, split: str | None) -> list[tuple[str, dict]]:
    try:
        import datasets

        ds = datasets.load_dataset(name, split=split or "train")
    except Exception as e:
        raise InputError(
            f"{name}: not a local file and could not be loaded as a hub dataset: {str(e).splitlines()[0]}"
        ) from None
    return [(f"{name}[{split or 'train'}] row {i}", dict(row)) for i, row in enumerate(ds)]


def read_rows(source: str, split: str | None = None) -> tuple[list[tuple[str, dict]], dict]:
    """Read raw rows. Returns ``([(location, row), ...], info)`` with info = {path, sha256, format}."""
    rows, info = iter_rows(source, split)
    rows = list(rows)
    if not rows:
        raise InputError(f"{source}: no rows")
    return rows, info


def iter_rows(source: str, split: str | None = None):
    """Raw rows as an iterator: ``(iterator of (location, row), info)``; JSON-lines files (and folders of them)
    are read as the iterator is consumed, other formats at once. The iterator may yield nothing (the caller
    says "no rows")."""
    path = Path(source)
    name = path.name.lower()
    if path.is_file():
        if name.endswith((".jsonl", ".jsonl.gz")):
            rows = _iter_rows_jsonl(path)
        elif name.endswith((".json", ".json.gz")):
            rows = _rows_json(path)
        elif name.endswith(".csv"):
            rows = _rows_csv(path)
        elif name.endswith(".parquet"):
            rows = _rows_parquet(path)
        else:
            raise InputError(f"{path}: unknown file type (expected one of {', '.join(FILE_SUFFIXES)})")
        info = {"path": str(source), "sha256": sha256_file(path), "format": name.rsplit(".", 1)[-1]}
    elif path.is_dir():
        files = sorted(p for p in path.iterdir() if p.name.lower().endswith(FILE_SUFFIXES))
        if not files:
            raise InputError(f"{path}: directory holds no {'/'.join(FILE_SUFFIXES)} file")
        parts = [iter_rows(str(f)) for f in files]
        rows = itertools.chain.from_iterable(sub for sub, _ in parts)
        info = {"path": str(source), "sha256": sha256_json([sub_info["sha256"] for _, sub_info in parts]),
                "format": "dir"}
    elif source.startswith((".", "/")) or name.endswith(FILE_SUFFIXES):
        raise InputError(f"{source}: no such file")
    else:
        rows = _rows_hub(source, split)
        info = {"path": source, "split": split or "train", "format": "hub"}
        info["sha256"] = sha256_json([r for _, r in rows])
    return iter(rows), info


# ----------------------------------------------------------------------------- normalisation


def prompt_text(prompt: str | list[dict]) -> str:
    """The text of the last user turn (what probes read and rewrite)."""
    if isinstance(prompt, str):
        return prompt
    for msg in reversed(prompt):
        if msg.get("role") == "user":
            return msg["content"]
    return prompt[-1]["content"] if prompt else ""


def as_messages(prompt: str | list[dict], response: str) -> list[dict]:
    """Prompt + response as a chat message list (for chat templates)."""
    msgs = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else [dict(m) for m in prompt]
    return msgs + [{"role": "assistant", "content": response}]


def split_hh_dialogue(text: str) -> tuple[list[dict], str]:
    """Split an HH-RLHF dialogue at its last "\\n\\nAssistant:" into (prompt messages, response)."""
    cut = text.rfind(HH_ASSISTANT)
    head, response = text[:cut], text[cut + len(HH_ASSISTANT) :].strip()
    messages = []
    for chunk in head.split(HH_HUMAN)[1:]:
        parts = chunk.split(HH_ASSISTANT)
        messages.append({"role": "user", "content": parts[0].strip()})
        for assistant in parts[1:]:
            messages.append({"role": "assistant", "content": assistant.strip()})
    return messages, response


def is_blank(text: str) -> bool:
    """True for text that shows nothing: whitespace and zero-width characters only."""
    return BLANK.fullmatch(text) is not None


def _check_text(loc: str, field: str, value: str) -> str:
    bad = SURROGATE.search(value)
    if bad:
        raise InvalidRowError(f"{loc}: field '{field}': lone surrogate \\u{ord(bad.group()):04x} at character "
                              f"{bad.start()} (not valid Unicode text)")
    return value


def _check_messages(loc: str, field: str, value: list) -> list[dict]:
    from .registry import suggest

    for j, m in enumerate(value):
        if not isinstance(m, dict) or not isinstance(m.get("content"), str) or "role" not in m:
            raise InvalidRowError(f"{loc}: field '{field}' item {j}: expected a message {{role, content: str}}")
        if m["role"] not in ROLES:
            raise InvalidRowError(f"{loc}: field '{field}' item {j}: unknown role {m['role']!r}"
                                  f"{suggest(str(m['role']), ROLES)}")
        _check_text(loc, f"{field}[{j}].content", m["content"])
    return value


def _text_field(loc: str, row: dict, field: str, allow_messages: bool) -> Any:
    if field not in row or row[field] is None:
        have = ", ".join(k for k in row if row[k] is not None) or "nothing"
        raise InvalidRowError(f"{loc}: missing field '{field}' (row has: {have})")
    value = row[field]
    if isinstance(value, float) and math.isnan(value):
        raise InvalidRowError(f"{loc}: missing field '{field}' (NaN)")
    if isinstance(value, list) and allow_messages:
        if not value:
            raise InvalidRowError(f"{loc}: field '{field}' is an empty message list")
        return _check_messages(loc, field, value)
    if not isinstance(value, str):
        kind = "a string or a list of messages" if allow_messages else "a string"
        raise InvalidRowError(f"{loc}: field '{field}' must be {kind}, got {type(value).__name__}")
    if is_blank(value):
        raise InvalidRowError(f"{loc}: field '{field}' is empty" + ("" if not value.strip() else
                                                                   " (only invisible characters)"))
    return _check_text(loc, field, value)


def _from_biasscope(loc: str, row: dict) -> dict:
    """BiasScope's RewardBench columns renamed to ours (only when the row has no prompt/chosen/rejected)."""
    if not all(c in row for c in BIASSCOPE_COLUMNS) or any(c in row for c in BIASSCOPE_COLUMNS.values()):
        return row
    if row.get("label") is not None and row["label"] != 1:
        raise InvalidRowError(f"{loc}: field 'label' is {row['label']!r}; only 1 (response_A is the chosen "
                              "answer, as in the BiasScope re-save) is understood")
    return {BIASSCOPE_COLUMNS.get(k, k): v for k, v in row.items()}


def _response_text(loc: str, field: str, value: str | list) -> str:
    if isinstance(value, str):
        return value
    last = value[-1]
    if last.get("role") != "assistant":
        raise InvalidRowError(f"{loc}: field '{field}': last message must have role 'assistant'")
    if is_blank(last["content"]):
        raise InvalidRowError(f"{loc}: field '{field}': assistant message is empty")
    return last["content"]


def _normalise_pair(loc: str, row: dict, index: int) -> dict:
    row = _from_biasscope(loc, row)
    chosen = _text_field(loc, row, "chosen", True)
    rejected = _text_field(loc, row, "rejected", True)
    if row.get("prompt") is None:
        if isinstance(chosen, str) and isinstance(rejected, str) and HH_ASSISTANT in chosen:
            prompt, chosen = split_hh_dialogue(chosen)
            _, rejected = split_hh_dialogue(rejected)
            if is_blank(chosen) or is_blank(rejected):
                raise InvalidRowError(f"{loc}: HH-RLHF dialogue has an empty final Assistant turn")
        elif isinstance(chosen, list) and isinstance(rejected, list):
            prompt = chosen[:-1]
            if not prompt:
                raise InvalidRowError(f"{loc}: field 'chosen': implicit-prompt messages need a user turn")
        else:
            _text_field(loc, row, "prompt", True)  # raises "missing field 'prompt'"
            raise AssertionError
    else:
        prompt = _text_field(loc, row, "prompt", True)
    out = {k: v for k, v in row.items() if k not in ("prompt", "chosen", "rejected")}
    out["id"] = str(row.get("id", index))
    out["prompt"] = prompt
    out["chosen"] = _response_text(loc, "chosen", chosen)
    out["rejected"] = _response_text(loc, "rejected", rejected)
    return out


def _normalise_single(loc: str, row: dict, index: int) -> dict:
    prompt = _text_field(loc, row, "prompt", True)
    response = _response_text(loc, "response", _text_field(loc, row, "response", True))
    out = {k: v for k, v in row.items() if k not in ("prompt", "response")}
    out.update(id=str(row.get("id", index)), prompt=prompt, response=response)
    return out


def _normalise_all(rows, info, normalise, limit, skip_invalid, spill_after: int | None = None):
    """Normalise ``rows`` (non-empty: a list, consumed, each raw row dropped once normalised; or an iterator).
    ``spill_after``: beyond that many records they move to a :class:`~crome_audit.record_store.SpilledRecords`
    (a temporary file read back by index), so a million-pair audit does not hold 1.8 GB of dicts."""
    records, skipped = [], []
    items = _consume(rows) if isinstance(rows, list) else rows
    for i, (loc, row) in enumerate(items):
        try:
            records.append(normalise(loc, row, i))
        except InvalidRowError as e:
            if not skip_invalid:
                raise  # the CLI adds how to skip such rows (--skip-invalid, or a recipe's data.skip_invalid)
            skipped.append(str(e))
        if spill_after is not None and isinstance(records, list) and len(records) > spill_after:
            from .record_store import SpilledRecords

            store = SpilledRecords()
            store.extend(records)
            records = store
        if limit is not None and len(records) >= limit:
            break  # --limit N: the first N valid rows; rows after them are neither read nor counted
    if not records:
        raise InputError(f"{info['path']}: no valid rows ({len(skipped)} skipped; first: {skipped[0]})")
    info["n"] = len(records)
    info["skipped"] = info["n_skipped"] = len(skipped)  # "skipped" is schema 2.0's name; n_skipped kept for 1.0
    if skipped:
        info["skipped_examples"] = skipped[:5]
    return records, info


def _consume(rows: list):
    for i in range(len(rows)):
        item, rows[i] = rows[i], None
        yield item


def load_pairs(source: str | None = None, split: str | None = None, limit: int | None = None,
               skip_invalid: bool = False):
    """Load preference pairs. Returns ``(pairs, info)``; info = {path, sha256, n, format}.

    ``skip_invalid``: drop rows that fail validation (counted in ``info["n_skipped"]``) instead of stopping
    at the first one (real sets have a few, e.g. 4 HH-RLHF harmless test dialogues end in an empty turn)."""
    rows, info = read_rows(source or default_data_path(), split)
    return _normalise_all(rows, info, _normalise_pair, limit, skip_invalid)


def load_responses(source: str, split: str | None = None, limit: int | None = None, skip_invalid: bool = False):
    """Load single responses ``{prompt, response}``. Returns ``(records, info)``."""
    rows, info = read_rows(source, split)
    return _normalise_all(rows, info, _normalise_single, limit, skip_invalid)


def load_records(source: str | None = None, split: str | None = None, limit: int | None = None,
                 skip_invalid: bool = False, spill_after: int | None = None):
    """Load pairs or single responses, whichever the first row holds. Returns ``(records, info, kind)``.

    JSON-lines files are read row by row; ``spill_after`` (default ``record_store.SPILL_AFTER``): past that
    many records, they are kept in a temporary file instead of a list (a sequence read back by index)."""
    from .record_store import SPILL_AFTER

    rows, info = iter_rows(source or default_data_path(), split)
    head = next(rows, None)
    if head is None:
        raise InputError(f"{info['path']}: no rows")
    rows = itertools.chain([head], rows)
    single = "response" in head[1] and "chosen" not in head[1]
    records, info = _normalise_all(rows, info, _normalise_single if single else _normalise_pair, limit,
                                   skip_invalid, SPILL_AFTER if spill_after is None else spill_after)
    return records, info, "responses" if single else "pairs"


def write_jsonl_atomic(path: str | os.PathLike, records) -> None:
    """Write records as JSON lines via a temp file + rename, so nothing is half-written."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for rec in records:
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    os.replace(tmp, path)
