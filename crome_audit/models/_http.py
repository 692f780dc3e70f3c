"""The small HTTP core the served adapters (vllm:, sglang:, openrlhf:) share. Standard library only.

    client = ServedClient("http://127.0.0.1:8000", spec="vllm:http://127.0.0.1:8000", api_key_env="VLLM_KEY")
    status, answer = client.post("/classify", {"model": "m", "input": ["text"]})
    results = run_pool(lambda batch: score(batch), batches, max_concurrency=8)   # in input order

- one keep-alive connection per worker thread (a new TCP connection per request would double the cost of a
  small request);
- retries with exponential backoff (honouring Retry-After) on 429, 5xx, timeouts and dropped connections,
  bounded by ``retries``; any other 4xx fails at once;
- every failure is a ModelLoadError (exit 2) naming the server and the request; the API key is read from the
  environment variable named by ``api_key_env`` and scrubbed from every message.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ..errors import InputError, ModelLoadError
from ..http_answers import AnswerTooLarge, read_answer
from .base import option

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


@dataclass
class ServedOptions:
    """Options every served adapter has (subclassed by each adapter's options)."""

    model: str | None = option(None, "Model name sent to the server (default: the one model it serves).")
    max_concurrency: int = option(8, "Requests in flight at once (a bounded thread pool).")
    batch_size: int = option(32, "Texts per request, for endpoints that take a list.")
    timeout: float = option(120.0, "Seconds for one whole answer (a deadline, not per read) before retrying.")
    retries: int = option(4, "Retries per request on 429/5xx/timeouts, with exponential backoff.")
    backoff: float = option(0.5, "First retry delay in seconds; doubles at every retry (capped at 30 s).")
    api_key_env: str | None = option(None, "Name of the environment variable holding the API key (sent as "
                                           "'Authorization: Bearer'); the key itself is never written anywhere.")


def check_common(spec: str, opts: dict) -> None:
    if opts.get("max_concurrency", 1) < 1 or opts.get("batch_size", 1) < 1:
        raise InputError(f"--rm {spec}: max_concurrency and batch_size must be at least 1")
    if opts.get("retries", 0) < 0 or opts.get("timeout", 1) <= 0 or opts.get("backoff", 0) < 0:
        raise InputError(f"--rm {spec}: retries and backoff must be >= 0 and timeout > 0")


class ServedClient:
    @classmethod
    def from_options(cls, url: str, spec: str, served: dict) -> ServedClient:
        """The client of a served adapter, from its ServedOptions values (after check_common)."""
        return cls(url, spec=spec, api_key_env=served["api_key_env"], timeout=served["timeout"],
                   retries=served["retries"], backoff=served["backoff"])

    def __init__(self, url: str, *, spec: str, api_key_env: str | None = None, timeout: float = 120.0,
                 retries: int = 4, backoff: float = 0.5):
        parsed = urllib.parse.urlsplit(url.strip())
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise InputError(f"--rm {spec}: expected an http(s)://HOST[:PORT] URL after the prefix, got '{url}'")
        self.spec = spec
        self.scheme, self.host = parsed.scheme, parsed.hostname
        self.port = parsed.port or (443 if parsed.scheme == "https" else 80)
        self.base_path = parsed.path.rstrip("/")
        self.url = f"{parsed.scheme}://{parsed.netloc}{self.base_path}"
        self.timeout, self.retries, self.backoff = timeout, retries, backoff
        self._key = None
        if api_key_env:
            from ..secrets import is_env_var_name, remember

            if not is_env_var_name(api_key_env):  # a key where its variable's name belongs: never echo it
                remember(api_key_env)
                raise InputError(f"--rm {spec}: --rm-arg api_key_env takes the NAME of an environment variable "
                                 "(letters, digits, _), not the key itself (the value given is not shown)")
        if api_key_env:
            self._key = os.environ.get(api_key_env)
            if not self._key:
                raise InputError(f"--rm-arg api_key_env={api_key_env}: environment variable {api_key_env} is not set")
            from ..secrets import remember

            remember(self._key)  # every message the CLI prints goes through secrets.redact_text
        self._local = threading.local()

    # -- plumbing

    def scrub(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key else text

    def _connection(self, fresh: bool = False) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None or fresh:
            if conn is not None:
                conn.close()
            cls = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
            conn = cls(self.host, self.port, timeout=self.timeout)
            self._local.conn = conn
        return conn

    def _once(self, method: str, path: str, payload: bytes | None) -> tuple[int, bytes, dict]:
        headers = {"Accept": "application/json"}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        deadline = time.monotonic() + self.timeout  # `timeout` bounds the whole answer, not each socket read
        for attempt in (0, 1):  # a kept-alive connection the server closed: reconnect once, no backoff
            conn = self._connection(fresh=attempt == 1)
            expired = threading.Event()
            # a server dripping its status line and headers: cut the socket at the deadline
            watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), _cut, (conn, expired))
            watchdog.daemon = True
            watchdog.start()
            try:
                conn.request(method, self.base_path + path, body=payload, headers=headers)
                resp = conn.getresponse()
                body = read_answer(resp, deadline)
                if expired.is_set():  # cut by the watchdog between reads: what came is not the whole answer
                    raise TimeoutError("cut at the deadline")
                if resp.getheader("Connection", "").lower() == "close":
                    conn.close()
                    self._local.conn = None
                return resp.status, body, {k.lower(): v for k, v in resp.getheaders()}
            except AnswerTooLarge as e:
                conn.close()
                self._local.conn = None
                raise ModelLoadError(self.scrub(f"--rm {self.spec}: {method} {self.url}{path}: {e}; "
                                                "refused")) from None
            except (OSError, http.client.HTTPException) as e:
                conn.close()
                self._local.conn = None
                if expired.is_set() or isinstance(e, TimeoutError):
                    raise TimeoutError(f"no complete answer within {self.timeout:g} s") from None
                dropped = isinstance(e, (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError))
                if attempt == 1 or not dropped:
                    raise
            finally:
                watchdog.cancel()
        raise AssertionError("unreachable")

    def request(self, method: str, path: str, body=None, *, retry: bool = True) -> tuple[int, object]:
        """One JSON request with bounded retries. Returns (status, parsed JSON or text) for 2xx and
        non-retryable 4xx; raises ModelLoadError for unreachable servers and exhausted retries."""
        payload = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        where = f"{method} {self.url}{path}"
        last = ""
        attempts = 1 + (self.retries if retry else 0)
        for i in range(attempts):
            try:
                status, raw, headers = self._once(method, path, payload)
            except (OSError, http.client.HTTPException) as e:  # refused, reset, timeout, DNS
                stale = getattr(self._local, "conn", None)
                if stale is not None:  # a timed-out connection may still get the late answer: drop it
                    stale.close()
                self._local.conn = None
                last = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
                if isinstance(e, ConnectionRefusedError) or isinstance(e, socket.gaierror):
                    last = f"cannot connect ({e.strerror or e})"
                delay = self.backoff * 2**i
            else:
                text = raw.decode("utf-8", "replace")
                try:
                    parsed = json.loads(text) if text.strip() else None
                except ValueError:
                    parsed = text
                if status not in RETRY_STATUS:
                    return status, parsed
                last = f"HTTP {status}: {_detail(parsed)}"
                delay = self.backoff * 2**i
                retry_after = headers.get("retry-after", "")
                if retry_after.replace(".", "", 1).isdigit():
                    delay = max(delay, float(retry_after))
            if i + 1 < attempts:
                time.sleep(min(delay, 30.0))
        tries = f" after {attempts} tries" if attempts > 1 else ""
        raise ModelLoadError(self.scrub(f"--rm {self.spec}: {where} failed{tries}: {last}"))

    def get(self, path: str, *, retry: bool = True) -> tuple[int, object]:
        return self.request("GET", path, retry=retry)

    def post(self, path: str, body, *, retry: bool = True) -> tuple[int, object]:
        return self.request("POST", path, body, retry=retry)

    def fail(self, method: str, path: str, status: int, answer, what: str = "") -> ModelLoadError:
        """The error for a non-2xx answer (401/403 get a hint about the key)."""
        hint = ""
        if status in (401, 403):
            hint = " (the server wants an API key: set --rm-arg api_key_env=VAR)" if not self._key else \
                " (the server rejected the API key)"
        msg = f"--rm {self.spec}: {method} {self.url}{path} answered HTTP {status}: {_detail(answer)}{hint}{what}"
        return ModelLoadError(self.scrub(msg))

    def malformed(self, path: str, answer, expected: str, method: str = "POST") -> ModelLoadError:
        shown = json.dumps(answer)[:200] if not isinstance(answer, str) else answer[:200]
        return ModelLoadError(self.scrub(f"--rm {self.spec}: malformed answer from {method} {self.url}{path}: "
                                         f"expected {expected}, got {shown}"))


def _cut(conn, expired: threading.Event) -> None:
    """The deadline passed: wake the blocked read by shutting the socket (the request then fails as a timeout)."""
    expired.set()
    sock = conn.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _detail(answer) -> str:
    """The server's error message, short."""
    if isinstance(answer, dict):
        for key in ("message", "detail", "error"):
            value = answer.get(key)
            if isinstance(value, dict):
                value = value.get("message") or value
            if value:
                return str(value)[:300]
        return json.dumps(answer)[:300]
    return str(answer)[:300].strip() or "(empty body)"


def run_pool(fn, items: list, max_concurrency: int) -> list:
    """``[fn(x) for x in items]`` on at most ``max_concurrency`` threads, results in input order. The first
    error cancels what has not started and is raised."""
    if max_concurrency <= 1 or len(items) <= 1:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(max_workers=min(max_concurrency, len(items)), thread_name_prefix="crome-rm") as pool:
        futures = [pool.submit(fn, x) for x in items]
        try:
            return [f.result() for f in futures]
        except BaseException:
            for f in futures:
                f.cancel()
            raise


def finite_float(value) -> float | None:
    """A JSON number as float, or None if it is not one (bools are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


class ClientFormatter:
    """(prompt, response) -> the text a server that takes raw text reads (SGLang, OpenRLHF): the RM's chat
    template applied here, as those engines' docs do, with the leading BOS text removed when the server's
    tokenizer adds BOS itself (no duplicated BOS). Uses crome_audit.formatting, so the text is the one the
    in-process adapter would build."""

    def __init__(self, spec: str, tokenizer: str | None, template: str | None, strip_bos: bool,
                 trust_remote_code: bool = False):
        from ..formatting import PLAIN_TEMPLATE

        self.tokenizer_name, self.template, self.strip_bos = tokenizer, template, strip_bos
        self._tok = None
        if tokenizer is None and template is None:
            raise InputError(f"--rm {spec}: cannot format texts: pass --rm-arg tokenizer=FOLDER|ORG/NAME (whose chat "
                             f"template the server's model uses) or --rm-arg template='...{{prompt}}...{{response}}...'")
        if tokenizer is not None:
            try:
                from transformers import AutoTokenizer
            except ModuleNotFoundError:
                raise ModelLoadError(f"--rm {spec}: --rm-arg tokenizer needs the Python package 'transformers' "
                                     "(pip install transformers), or use --rm-arg template=...") from None
            try:
                self._tok = AutoTokenizer.from_pretrained(tokenizer, trust_remote_code=trust_remote_code)
            except Exception as e:
                first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                raise ModelLoadError(f"--rm {spec}: cannot load tokenizer '{tokenizer}': {first}") from None
        if self._tok is not None and template is None and getattr(self._tok, "chat_template", None):
            self.mode = "chat_template"
        else:
            self.mode = "template" if template is not None else "plain"
            self.template = template or PLAIN_TEMPLATE
        bos = getattr(self._tok, "bos_token", None) if self._tok is not None else None
        self._bos = bos if strip_bos and bos else None

    def text(self, prompt, response: str) -> str:
        from ..data import as_messages, prompt_text
        from ..formatting import fill_template

        if self.mode == "chat_template":
            text = self._tok.apply_chat_template(as_messages(prompt, response), tokenize=False)
            if self._bos and text.startswith(self._bos):
                text = text[len(self._bos):]
            return text
        return fill_template(self.template, prompt_text(prompt), response)

    def describe(self) -> dict:
        return {"mode": self.mode, "tokenizer": self.tokenizer_name,
                "template": self.template if self.mode != "chat_template" else None,
                "chat_template": getattr(self._tok, "chat_template", None) if self.mode == "chat_template" else None,
                "strip_bos": bool(self._bos)}
