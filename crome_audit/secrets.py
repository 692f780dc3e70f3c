"""Secret redaction: the one place that decides what a secret looks like and how it is hidden.

    from crome_audit.secrets import redact, redact_text, redact_url, remember
    redact({"extra_body": {"api_key": "sk-123", "top_k": 20}})   # {"extra_body": {"api_key": "***", "top_k": 20}}
    redact_text("HTTP 401 from https://u:pw@h/v1?api_key=sk-1")  # "HTTP 401 from https://***@h/v1?api_key=***"
    remember("sk-123")     # any later redact_text() also hides this exact value wherever it appears

Used for everything that leaves the process: config echoes (crome_training.json, candidates files, results),
generation-cache keys and rows, and error messages (the CLI passes every message through redact_text).
A secret is: the value of a mapping key that looks like a credential (api_key, token, secret, password,
authorization, ...), the user:password part of a URL, a credential-like URL query parameter, a
``Bearer``/``Basic`` header value, and any value :func:`remember`-ed (e.g. the key read from $OPENAI_API_KEY).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"
_KEY_WORDS = r"api[_-]?key|apikey|key|token|secret|password|passwd|pwd|authorization|auth|bearer|credentials?|" \
             r"access[_-]?token|refresh[_-]?token|client[_-]?secret|session|cookie|signature|sig"
SECRET_KEY_RE = re.compile(rf"(^|[_\-.])({_KEY_WORDS})$", re.IGNORECASE)
# keys that end like a secret but name something public
NOT_SECRET = {"api_key_env", "max_tokens", "max_new_tokens", "tokenizer", "key_env", "num_tokens"}
_URL_RE = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s'\"<>]+")
_USERINFO_RE = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.\-]*://)[^/\s@'\"<>]+@")
_QUERY_RE = re.compile(rf"([?&;](?:[A-Za-z0-9_.\-]*?(?:{_KEY_WORDS})))=([^&;#\s'\"<>]*)", re.IGNORECASE)
_HEADER_RE = re.compile(r"\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=\-]{6,}", re.IGNORECASE)
# in free text, `key=...` is too common ("expected KEY=VALUE"): only unambiguous credential names count there
_TEXT_WORDS = r"api[_-]?key|apikey|token|secret|password|passwd|authorization|access[_-]?token|client[_-]?secret"
_KV_RE = re.compile(rf"(['\"]?(?:[A-Za-z0-9_\-]*(?:{_TEXT_WORDS}))['\"]?\s*[:=]\s*)(['\"]?)([^'\"\s,}}&]+)",
                    re.IGNORECASE)
_remembered: set[str] = set()
ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def is_secret_key(name) -> bool:
    """Does a mapping key name a credential? (``api_key``, ``X-Api-Key``, ``access_token``; not ``api_key_env``)."""
    s = str(name)
    return s.lower() not in NOT_SECRET and bool(SECRET_KEY_RE.search(s.replace("-", "_")))


def is_env_var_name(value) -> bool:
    """Is ``value`` an environment-variable NAME (letters, digits, _; not starting with a digit)? ``api_key_env``
    options must be one: a value such as ``sk-...`` is a key given where its variable's name belongs."""
    return isinstance(value, str) and ENV_NAME_RE.fullmatch(value) is not None


def url_credentials(url: str) -> list[str]:
    """What credentials a URL carries, by kind, never by value: ``user:password`` (userinfo) and the names of
    credential-like query parameters (``api_key``, ``token``... as :func:`is_secret_key` decides). The caller
    refuses such a URL (a served RM or judge takes its key only from ``api_key_env``); the values are
    :func:`remember`-ed first, so no later message can echo them."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return []
    found = []
    if "@" in parts.netloc:
        userinfo = parts.netloc.rsplit("@", 1)[0]
        remember(userinfo)
        for piece in userinfo.split(":"):
            remember(piece)
        found.append("user:password before the host")
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if is_secret_key(key):
            remember(value)
            found.append(f"query parameter '{key}'")
    return found


def remember(value: str | None) -> None:
    """Hide this exact value in every later :func:`redact_text` (values under 6 characters are too common)."""
    if isinstance(value, str) and len(value.strip()) >= 6:
        _remembered.add(value.strip())


def redact_url(url: str) -> str:
    """A URL without user:password and with credential-like query values masked."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_text(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = MASK + "@" + netloc.rsplit("@", 1)[1]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, MASK if is_secret_key(k) else v) for k, v in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_text(text) -> str:
    """Mask URL credentials, credential query values, auth headers, ``key=value`` credentials and remembered
    values in free text (error messages, logs)."""
    s = str(text)
    for value in sorted(_remembered, key=len, reverse=True):
        s = s.replace(value, MASK)
    s = _USERINFO_RE.sub(lambda m: m.group(1) + MASK + "@", s)
    s = _QUERY_RE.sub(lambda m: m.group(1) + "=" + MASK, s)
    s = _HEADER_RE.sub(lambda m: m.group(1) + " " + MASK, s)
    s = _KV_RE.sub(lambda m: m.group(1) + m.group(2) + (MASK if not _is_public(m) else m.group(3)), s)
    return s


def _is_public(m: re.Match) -> bool:
    key = m.group(1).strip(" '\":=")
    return key.lower() in NOT_SECRET or m.group(3) == MASK


def redact(obj):
    """A deep copy of plain data with secret-keyed values masked and every string passed through
    :func:`redact_text` (URLs lose their credentials)."""
    if isinstance(obj, dict):
        return {k: (MASK if is_secret_key(k) and v not in (None, "") else redact(v)) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(redact(v) for v in obj)
    if isinstance(obj, str):
        return redact_text(obj)
    return obj


def secret_values(obj) -> list[str]:
    """Every value under a secret-looking key (to :func:`remember` them before anything can echo them)."""
    out: list[str] = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if is_secret_key(k) and isinstance(v, str | int) and not isinstance(v, bool):
                out.append(str(v))
            else:
                out += secret_values(v)
    elif isinstance(obj, list | tuple):
        for v in obj:
            out += secret_values(v)
    return out
