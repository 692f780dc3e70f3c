"""``sglang:URL``: a reward model served by SGLang (``--is-embedding``), through its native ``/classify``.

    python -m sglang.launch_server --model-path ORG/RM --is-embedding --port 30000
    crome-audit run --rm sglang:http://127.0.0.1:30000 --rm-arg tokenizer=ORG/RM

Wire format (SGLang's reward-model docs): ``POST /classify`` with ``{"model", "text": [texts]}`` ->
``[{"embedding": [reward], "meta_info": {...}}, ...]``. As in those docs the text is the RM's chat template
applied on this side (``--rm-arg tokenizer=``, default: the model path the server reports, when it is a folder
here), with the leading BOS removed because SGLang's tokenizer adds it (``strip_bos``). The fingerprint holds
the server (its URL, credentials masked), its model path, its version (``GET /get_server_info``) and the formatting.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass

from ..errors import ModelLoadError
from ..secrets import redact_url
from ._http import ClientFormatter, ServedClient, ServedOptions, check_common, finite_float, run_pool
from .base import RewardModel, option, register_adapter


@dataclass
class SGLangOptions(ServedOptions):
    tokenizer: str | None = option(None, "Tokenizer folder or hub id whose chat template formats the texts here "
                                         "(default: the server's model path, if it is a folder on this machine).")
    template: str | None = option(None, "Format string with {prompt} and {response}, instead of a chat template.")
    strip_bos: bool = option(True, "Drop the chat template's leading BOS text (the server's tokenizer adds BOS).")
    trust_remote_code: bool = option(False, "Allow custom tokenizer code from the tokenizer folder/hub.")


@register_adapter("sglang", SGLangOptions, target="URL",
                  summary="A reward model served by SGLang (--is-embedding): POST /classify, reward in embedding[0].",
                  example="sglang:http://127.0.0.1:30000")
class SGLangRewardModel(RewardModel):
    def __init__(self, target: str, *, tokenizer: str | None = None, template: str | None = None,
                 strip_bos: bool = True, trust_remote_code: bool = False, **served):
        spec = f"sglang:{target}"
        check_common(spec, served)
        self.name = spec
        self.max_concurrency, self.batch_size = served["max_concurrency"], served["batch_size"]
        self.default_batch_size = self.batch_size * self.max_concurrency * 4
        self.client = ServedClient.from_options(target, spec, served)
        status, answer = self.client.get("/get_model_info", retry=False)
        if status != 200 or not isinstance(answer, dict) or "model_path" not in answer:
            raise ModelLoadError(f"--rm {spec}: GET {self.client.url}/get_model_info answered HTTP {status}: not an "
                                 "SGLang server (for vLLM use vllm:URL)")
        if answer.get("is_generation"):
            raise ModelLoadError(f"--rm {spec}: the server runs a generation model; start SGLang with --is-embedding "
                                 "on a reward model")
        self.model = served["model"] or answer["model_path"]
        status, server = self.client.get("/get_server_info")
        self.version = server.get("version", "unknown") if status == 200 and isinstance(server, dict) else "unknown"
        if tokenizer is None and template is None and os.path.isdir(str(answer["model_path"])):
            tokenizer = answer["model_path"]
        self.formatter = ClientFormatter(spec, tokenizer, template, strip_bos, trust_remote_code)
        described = {"engine": "sglang", "server": redact_url(self.client.url), "version": self.version,
                     "model": self.model,
                     "formatting": self.formatter.describe()}
        self.fingerprint = "sglang-" + hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:32]

    def _score_batch(self, texts: list[str]) -> list[float]:
        status, answer = self.client.post("/classify", {"model": self.model, "text": texts})
        if status != 200:
            raise self.client.fail("POST", "/classify", status, answer)
        if not isinstance(answer, list) or len(answer) != len(texts):
            raise self.client.malformed("/classify", answer, f"a list of {len(texts)} results")
        out = []
        for item in answer:
            emb = item.get("embedding") if isinstance(item, dict) else None
            if not isinstance(emb, list) or not emb:
                raise self.client.malformed("/classify", answer, 'results with an "embedding" list')
            if len(emb) != 1:
                raise ModelLoadError(f"--rm {self.name}: the served model returns {len(emb)} values per text, not "
                                     "1: an embedding model or a classifier, not a reward model")
            value = finite_float(emb[0])
            if value is None:
                raise self.client.malformed("/classify", answer, "a number in embedding[0]")
            out.append(value)
        return out

    def score(self, prompts, responses) -> list[float]:
        texts = [self.formatter.text(p, r) for p, r in zip(prompts, responses)]
        if not texts:
            return []
        size = self.batch_size
        parts = run_pool(lambda s: self._score_batch(texts[s:s + size]), list(range(0, len(texts), size)),
                         self.max_concurrency)
        return [r for part in parts for r in part]

    def info(self) -> dict:
        return {"adapter": "SGLangRewardModel", "engine": "sglang", "url": self.client.url,
                "server_version": self.version, "model": self.model, "formatting": self.formatter.describe(),
                "max_concurrency": self.max_concurrency, "batch_size": self.batch_size}


