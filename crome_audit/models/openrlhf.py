"""``openrlhf:URL``: a reward model served by OpenRLHF's ``serve_rm``.

    python -m openrlhf.cli.serve_rm --reward_pretrain ORG/RM --port 5000 --bf16 --max_len 8192 --batch_size 16
    crome-audit run --rm openrlhf:http://127.0.0.1:5000 --rm-arg tokenizer=ORG/RM

Wire format (``openrlhf/cli/serve_rm.py``): ``POST /get_reward`` with ``{"query": [full texts]}`` ->
``{"rewards": [...]}``. The full text is prompt + response in the RM's chat template, built here
(``--rm-arg tokenizer=``) with the leading BOS removed, because serve_rm tokenizes with special tokens and
appends EOS itself. serve_rm has no endpoint that names its model, so the fingerprint holds the URL, the
``model`` name you give (default: the tokenizer) and the formatting: restart it on another model, change
``model``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from ..errors import ModelLoadError
from ..secrets import redact_url
from ._http import ClientFormatter, ServedClient, ServedOptions, check_common, finite_float, run_pool
from .base import RewardModel, option, register_adapter


@dataclass
class OpenRLHFOptions(ServedOptions):
    tokenizer: str | None = option(None, "Tokenizer folder or hub id of the served RM, whose chat template "
                                         "formats the texts here.")
    template: str | None = option(None, "Format string with {prompt} and {response}, instead of a chat template.")
    strip_bos: bool = option(True, "Drop the chat template's leading BOS text (serve_rm's tokenizer adds BOS).")
    trust_remote_code: bool = option(False, "Allow custom tokenizer code from the tokenizer folder/hub.")


@register_adapter("openrlhf", OpenRLHFOptions, target="URL",
                  summary="A reward model served by OpenRLHF serve_rm: POST /get_reward {query: [texts]} -> "
                          "{rewards: [...]}.", example="openrlhf:http://127.0.0.1:5000")
class OpenRLHFRewardModel(RewardModel):
    def __init__(self, target: str, *, tokenizer: str | None = None, template: str | None = None,
                 strip_bos: bool = True, trust_remote_code: bool = False, **served):
        spec = f"openrlhf:{target}"
        check_common(spec, served)
        self.name = spec
        self.max_concurrency, self.batch_size = served["max_concurrency"], served["batch_size"]
        self.default_batch_size = self.batch_size * self.max_concurrency * 4
        self.client = ServedClient.from_options(target, spec, served)
        self.formatter = ClientFormatter(spec, tokenizer, template, strip_bos, trust_remote_code)
        self.model = served["model"] or tokenizer or "unnamed"
        # a probe: wrong URL, wrong server, non-RM answers fail here, before any data is read
        status, answer = self.client.post("/get_reward", {"query": [self.formatter.text("Hello", "Hi there.")]},
                                          retry=False)
        if status != 200:
            raise self.client.fail("POST", "/get_reward", status, answer, " (is it OpenRLHF serve_rm?)")
        self._parse(answer, 1)
        described = {"engine": "openrlhf", "url": redact_url(self.client.url), "model": self.model,
                     "formatting": self.formatter.describe()}
        self.fingerprint = "openrlhf-" + hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:32]

    def _parse(self, answer, n: int) -> list[float]:
        rewards = answer.get("rewards") if isinstance(answer, dict) else None
        if not isinstance(rewards, list) or len(rewards) != n:
            raise self.client.malformed("/get_reward", answer, f'{{"rewards": [...]}} with {n} numbers')
        out = []
        for r in rewards:
            if isinstance(r, list):  # a value head per token or several heads: not one reward per text
                raise ModelLoadError(f"--rm {self.name}: the server returns lists, not one reward per text")
            value = finite_float(r)
            if value is None:
                raise self.client.malformed("/get_reward", answer, "numbers in rewards")
            out.append(value)
        return out

    def _score_batch(self, texts: list[str]) -> list[float]:
        status, answer = self.client.post("/get_reward", {"query": texts})
        if status != 200:
            raise self.client.fail("POST", "/get_reward", status, answer)
        return self._parse(answer, len(texts))

    def score(self, prompts, responses) -> list[float]:
        texts = [self.formatter.text(p, r) for p, r in zip(prompts, responses)]
        size = self.batch_size
        parts = run_pool(lambda s: self._score_batch(texts[s:s + size]), list(range(0, len(texts), size)),
                         self.max_concurrency)
        return [r for part in parts for r in part]

    def info(self) -> dict:
        return {"adapter": "OpenRLHFRewardModel", "engine": "openrlhf", "url": self.client.url, "model": self.model,
                "formatting": self.formatter.describe(), "max_concurrency": self.max_concurrency,
                "batch_size": self.batch_size}
