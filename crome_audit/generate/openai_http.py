"""OpenAI-compatible chat backend: POST {base_url}/chat/completions with the standard library (urllib).

Works with vLLM (``vllm serve MODEL``), llama.cpp's ``llama-server`` / ``python -m llama_cpp.server``,
Ollama (``http://127.0.0.1:11434/v1``) and hosted APIs. One request per sample (``n=1``, with the
sample's own ``seed``), ``concurrency`` requests in flight (a thread pool), retries with exponential
backoff on HTTP 429/5xx, timeouts and connection errors (``Retry-After`` honoured), a per-request
timeout that is a deadline for the whole answer (crome_audit.http_answers: a server dripping bytes cannot
hold a run) and a size cap on it (a reply is never read or cached whole beyond 4 MB). The API key comes only from the environment
variable named by ``api_key_env``.

    gen = OpenAIHTTPGenerator(GeneratorConfig(backend="openai", base_url="http://127.0.0.1:8080/v1",
                                              model="smollm2"))
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor, as_completed

from ..errors import ModelLoadError
from ..http_answers import AnswerTooLarge, read_answer
from ..secrets import redact_text, redact_url, remember
from .base import Generator, Unit
from .config import GeneratorConfig

USER_AGENT = "crome-audit-generate/1"


class _Retryable(Exception):
    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class _Failed(Exception):
    """This request cannot succeed (HTTP 400, e.g. prompt too long); other requests go on."""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Redirects are answered, never followed: urllib would repeat the request at the new address with every
    header, ``Authorization: Bearer <key>`` included, whatever host it names."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # urllib then raises HTTPError(3xx), reported by the caller


_OPENER = urllib.request.build_opener(_NoRedirects)


def open_url(req: urllib.request.Request, timeout: float):
    """``urlopen`` without following redirects: every request to an OpenAI-compatible server (the generator,
    the judge's model listing) goes through here, so a key is only ever sent to the URL it was given for."""
    return _OPENER.open(req, timeout=timeout)


def redirect_error(code: int, headers, where: str) -> ModelLoadError:
    """The error for a 3xx answer (exit 2): ``where`` names the request; where it pointed, credentials masked."""
    location = redact_url(str((headers.get("Location") if headers is not None else None) or "?"))
    return ModelLoadError(f"{where}: HTTP {code} redirect to {location}: redirects are not followed "
                          "(the API key would be sent on to that address); give the final URL")


def _retry_after(headers) -> float | None:
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:  # HTTP-date form: fall back to our own backoff
        return None


class OpenAIHTTPGenerator(Generator):
    backend = "openai"

    def __init__(self, config: GeneratorConfig):
        super().__init__(config)
        self.url = config.base_url.rstrip("/") + "/chat/completions"
        self.shown_url = redact_url(self.url)  # what error messages print: no user:password, no ?api_key=
        self._api_key = config.api_key()  # read from the environment only, once
        remember(self._api_key)
        self._lock = threading.Lock()

    def identity(self) -> dict:
        # the server is part of every cache key (two servers may serve other weights under one model name); its
        # URL and the secrets in extra_body are masked: they reach the server but never a cache key or a record
        return {"backend": self.backend, "base_url": redact_url(self.config.base_url), "model": self.config.model,
                "extra_body": self.config.public_extra_body()}

    def describe(self) -> dict:
        return {**super().describe(), "base_url": redact_url(self.config.base_url),
                "api_key_env": self.config.api_key_env}

    # ------------------------------------------------------------------ one request

    def body(self, unit: Unit) -> dict:
        return {"model": self.config.model, "messages": unit.messages, "max_tokens": unit.max_new_tokens,
                "temperature": unit.temperature, "top_p": unit.top_p, "seed": unit.seed, "n": 1,
                "stream": False, **self.config.extra_body}

    def _post_once(self, payload: bytes) -> str:
        headers = {"Content-Type": "application/json", "Accept": "application/json", "User-Agent": USER_AGENT}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        req = urllib.request.Request(self.url, data=payload, headers=headers, method="POST")
        deadline = time.monotonic() + self.config.timeout_s
        try:
            with open_url(req, timeout=self.config.timeout_s) as resp:
                raw = read_answer(resp, deadline)
        except AnswerTooLarge as e:
            # not transient, and not to be cached: stop at once, as for a rejected key
            raise ModelLoadError(f"generator {self.shown_url}: {e}; refused (is max_new_tokens set?)") from None
        except urllib.error.HTTPError as e:
            if 300 <= e.code < 400:
                raise redirect_error(e.code, e.headers, f"generator {self.shown_url}") from None
            detail = redact_text(e.read()[:300].decode("utf-8", "replace").strip().replace("\n", " "))
            msg = f"HTTP {e.code} from {self.shown_url}: {detail or e.reason}"
            if e.code == 429 or e.code >= 500:
                raise _Retryable(msg, _retry_after(e.headers)) from None
            if e.code in (401, 403):
                raise ModelLoadError(f"generator {self.shown_url}: HTTP {e.code} (key rejected or missing; the key is "
                                     f"read from ${self.config.api_key_env}): {detail[:200]}") from None
            if e.code == 404:
                raise ModelLoadError(f"generator {self.shown_url}: HTTP 404 (wrong base_url, or model "
                                     f"'{self.config.model}' not served): {detail[:200]}") from None
            raise _Failed(msg) from None
        except TimeoutError:
            raise _Retryable(f"timed out after {self.config.timeout_s:g}s ({self.shown_url})") from None
        except urllib.error.URLError as e:
            reason = e.reason
            if isinstance(reason, TimeoutError):
                raise _Retryable(f"timed out after {self.config.timeout_s:g}s ({self.shown_url})") from None
            raise _Retryable(f"cannot reach {self.shown_url}: {redact_text(reason)}") from None
        except (ConnectionError, http.client.HTTPException, OSError) as e:
            raise _Retryable(f"connection error with {self.shown_url}: {type(e).__name__}: {redact_text(e)}") from None
        try:
            data = json.loads(raw)
            message = data["choices"][0]["message"]
            content = message.get("content")
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            snippet = redact_text(raw[:200].decode("utf-8", "replace").replace("\n", " "))
            raise _Retryable(f"malformed reply from {self.shown_url} (no choices[0].message): {snippet}") from None
        return content if isinstance(content, str) else ""

    def request(self, unit: Unit) -> str:
        """POST one sample, retrying transient failures with exponential backoff."""
        payload = json.dumps(self.body(unit), ensure_ascii=False).encode()
        attempt = 0
        while True:
            try:
                return self._post_once(payload)
            except _Retryable as e:
                if attempt >= self.config.max_retries:
                    raise _Failed(f"{e} (gave up after {attempt} retries)") from None
                delay = min(self.config.backoff * (2 ** attempt), self.config.backoff_max)
                if e.retry_after is not None:
                    delay = min(max(delay, e.retry_after), self.config.backoff_max)
                with self._lock:
                    self.stats["retries"] += 1
                attempt += 1
                time.sleep(delay)

    # ------------------------------------------------------------------ many requests

    def _run(self, units, emit):
        failures = []
        if self.config.concurrency == 1 or len(units) == 1:
            for u in units:
                try:
                    emit(u, self.request(u))
                except _Failed as e:
                    failures.append((u, str(e)))
            return failures
        pool = ThreadPoolExecutor(max_workers=self.config.concurrency, thread_name_prefix="crome-gen")
        try:
            futures = {pool.submit(self.request, u): u for u in units}
            for fut in as_completed(futures):
                u = futures[fut]
                try:
                    emit(u, fut.result())
                except _Failed as e:
                    failures.append((u, str(e)))
        finally:  # on a fatal error (bad key, 404) or Ctrl-C: drop the queue, keep what is cached
            pool.shutdown(wait=True, cancel_futures=True)
        return failures
