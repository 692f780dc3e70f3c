"""Real local HTTP servers for the generator tests (127.0.0.1 only, real sockets).

- :class:`ScriptedChatServer`: a small OpenAI-compatible ``/v1/chat/completions`` server on the standard
  library's ThreadingHTTPServer. A ``reply(body, n_call) -> (status, content_or_error, headers, delay_s)``
  function decides each answer, so tests can return 500-then-200, sleep past a timeout, or answer
  rewrite prompts with chosen texts. Every request's JSON body and headers are recorded.
- :func:`start_llama_server`: ``python -m llama_cpp.server`` serving a GGUF on a free port.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def user_text(body: dict) -> str:
    return "\n".join(m["content"] for m in body.get("messages", []) if m.get("role") == "user")


class ScriptedChatServer:
    def __init__(self, reply):
        self.reply = reply
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length))
                with server._lock:
                    n_call = len(server.requests)
                    server.requests.append(body)
                    server.headers.append(dict(self.headers))
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    try:
                        status, content, headers, delay = server.reply(body, n_call)
                        if delay:
                            time.sleep(delay)
                    finally:  # done before replying: the client may send its next request as soon as it reads
                        with server._lock:
                            server.in_flight -= 1
                    if status == 200:
                        payload = {"id": f"cmpl-{n_call}", "object": "chat.completion", "model": body.get("model"),
                                   "choices": [{"index": 0, "finish_reason": "stop",
                                                "message": {"role": "assistant", "content": content}}]}
                    else:
                        payload = {"error": {"message": content, "code": status}}
                    data = json.dumps(payload).encode()
                    self.send_response(status)
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client timed out and left
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def start_llama_server(gguf: str, log_path: str, timeout: float = 180.0,
                       n_threads: int = 1) -> tuple[subprocess.Popen, str]:
    """Start llama-cpp-python's OpenAI-compatible server on a free port; wait until /v1/models answers.
    One thread by default: on a shared 2-core CI machine oversubscribed threads are far slower."""
    port = free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", gguf, "--host", "127.0.0.1", "--port", str(port),
           "--n_ctx", "2048", "--n_threads", str(n_threads), "--model_alias", "smollm2-135m"]
    log = open(log_path, "w")  # noqa: SIM115 - closed with the process by the caller
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited with {proc.returncode}; see {log_path}")
        try:
            with urllib.request.urlopen(base + "/models", timeout=2) as r:
                if r.status == 200:
                    return proc, base
        except OSError:
            time.sleep(0.5)
    proc.terminate()
    raise RuntimeError(f"llama_cpp.server did not answer within {timeout}s; see {log_path}")
