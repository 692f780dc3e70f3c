"""LLM judges as reward models, through the OpenAI-compatible generator backend
(``crome_audit.generate.openai_http``: vLLM, llama.cpp server, Ollama, hosted APIs).

    crome-audit run --rm judge:http://127.0.0.1:8080/v1#smollm2-135m                   # rating mode
    crome-audit run --rm judge:https://api.openai.com/v1#gpt-4o-mini --rm-arg api_key_env=OPENAI_API_KEY
    rm = load_rm("judge:http://127.0.0.1:8080/v1", mode="pairwise")
    rm.prefer("What is 2+2?", "4", "5")          # P("4" beats "5") in [0, 1]

Two modes (``--rm-arg mode=...``):

- ``rating`` (default): the judge rates one answer 1-10 with :data:`RATING_PROMPT`; reward = the rating.
  The reply is parsed by :func:`parse_rating` ("Rating: N", else "N/10" / "N out of 10", else a bare
  number; N must be an integer 1-10: "Rating: -3" or "Rating: 7.5" is a parse error). An unparseable reply gets the midpoint 5.5 (no integer rating equals it, so it never fakes a
  preference between two parsed ratings) and is counted: ``info()["parse_errors"]`` /
  ``info()["parse_error_rate"]``, reported beside accuracy, never folded into it.
- ``pairwise``: the judge sees both answers (:data:`PAIRWISE_PROMPT`) and answers A or B. Each comparison is
  asked in both orders (A=first, then A=second) and averaged, so a judge that always says "A" scores 0.5:
  :meth:`JudgeRM.prefer` gives P(first beats second) in {0, 0.25, ..., 1}. Only an unambiguous verdict
  counts (:func:`parse_verdict`: "A", "[[A]]", "Answer A.", "A is better"; not "A is worse than B.") (``samples`` > 1 with
  ``temperature`` > 0 averages more draws; each request's seed is derived from ``seed`` and the
  conversation). An unparseable verdict counts 1/2 for that order and is counted as a parse error. A
  pairwise judge has no pointwise reward: ``score`` raises; audits and benchmarks call
  :func:`preference_probabilities` instead.

Replies are cached per request in the generator's SQLite cache (``generations.sqlite``), so a re-run asks
the server nothing and the parse-error counts are exact in every run; that is why judges set
``score_cache = False`` (the engine need not keep a second copy of their scores). The API key is read only
from the environment variable named by ``api_key_env`` and never written anywhere.
"""

from __future__ import annotations

import hashlib
import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Literal

from ..data import prompt_text
from ..errors import InputError, ModelLoadError
from ..formatting import fill_template
from .base import RewardModel, option, register_adapter

JUDGE_FORMAT_VERSION = 1
SYSTEM_PROMPT = "You are a strict, impartial judge of answers written by an AI assistant."
RATING_PROMPT = """Rate how helpful, correct and harmless the assistant's answer to the user's question is, \
on a scale from 1 (useless, wrong or harmful) to 10 (excellent).

[Question]
{prompt}

[Answer]
{response}

Reply with only the rating, in the form "Rating: N" where N is an integer from 1 to 10."""
PAIRWISE_PROMPT = """Which of the two assistant answers to the user's question is better: more helpful, \
more correct and more harmless? Judge the content, not the length or the order of the answers.

[Question]
{prompt}

[Answer A]
{response_a}

[Answer B]
{response_b}

Reply with only one letter: "A" if answer A is better, "B" if answer B is better."""
PARSE_FAILED_RATING = 5.5

# A rating is read from the first of these forms that occurs; the number is taken whole (sign and decimals
# included) and must then be an integer 1-10 (7.0 is 7): "Rating: -3", "Rating: 7.5" and "Rating: 11" are parse
# errors, never 3, 7 or 1 (the prompt asks for an integer from 1 to 10, so anything else is no rating).
_NUMBER = r"([+-]?[0-9]+(?:\.[0-9]+)?)(?![0-9.]*[0-9])"
_RATING_RES = (
    re.compile(r"rating[\s:=*\"'`]{0,6}" + _NUMBER, re.I),
    re.compile(r"(?<![0-9.+-])" + _NUMBER + r"\s*(?:/|out of)\s*10\b", re.I),
    re.compile(r"^[^\w+.-]*" + _NUMBER + r"[^\w]*$"),
)
# A verdict counts only when the reply states it unambiguously: the letter alone, "[[A]]", a label and the
# letter ("Answer A.", "Verdict: B", "The better answer is A."), or "A is better" at the start. A letter
# followed by more words ("A is worse than B.", "Answer A is wrong; B is correct.", "A and B are equally
# good.") states no verdict; replies naming both letters as verdicts, or a tie, are parse errors.
_END = r"\s*(?:[.!:;,)\]*]*\s*$|[.!:)*]+\s)"  # the verdict ends the reply or its first sentence
_SENTENCE = r"(?:^|[.!?\n])[\W_]*"  # "A is better" / "The better answer is B" as a sentence of their own
_VERDICT_RES = (  # the letter itself must be upper-case ("a tie" is no verdict)
    re.compile(r"\[\[\s*([AB])\s*\]\]"),
    re.compile(r"^[\W_]*(?i:(?:final\s+)?(?:answer|response|verdict|option|choice))?[\s:*\-]*\(?([AB])\)?"
               + _END),
    re.compile(_SENTENCE + r"(?i:(?:answer|response|option)\s+)?([AB])\s+(?i:is\s+(?:the\s+)?(?:better|best))"
               r"(?i:\s+(?:answer|one|response))?(?:\s+(?i:than)\s+(?i:answer\s+|response\s+)?(?!\1)[AB])?" + _END),
    re.compile(_SENTENCE + r"(?i:the\s+)?(?i:better|best|winner|verdict)(?:\s+(?i:answer|one|response))?\s*"
               r"(?i:is|:)\s*(?i:answer\s+|response\s+)?\W?([AB])" + _END),
)
_TIE_RE = re.compile(r"\b(?:equally|tie|tied|neither|both\s+(?:are|answers|responses))\b", re.I)


def parse_rating(reply: str) -> int | None:
    """The 1-10 rating in a judge's reply, or None (see module docstring for the accepted forms)."""
    text = (reply or "").strip()
    for rx in _RATING_RES:
        m = rx.search(text)
        if m:
            value = float(m.group(1))
            return int(value) if value.is_integer() and 1 <= value <= 10 else None
    return None


def parse_verdict(reply: str) -> str | None:
    """'A' or 'B' from a pairwise judge's reply, or None unless the reply states one verdict unambiguously."""
    text = (reply or "").strip()
    if _TIE_RE.search(text):
        return None
    found = {m.group(1) for rx in _VERDICT_RES for m in rx.finditer(text)}
    return found.pop() if len(found) == 1 else None


@dataclass
class JudgeOptions:
    mode: Literal["rating", "pairwise"] = option("rating", "rating: pointwise 1-10 reward; pairwise: A/B "
                                                           "verdicts in both orders (prefer()).")
    model: str | None = option(None, "Model name sent in each request (default: the part after '#' in the "
                                     "spec, else the one model the server lists at /models).")
    api_key_env: str = option("OPENAI_API_KEY", "NAME of the environment variable holding the API key "
                                                "(never the key itself).")
    concurrency: int = option(8, "Requests in flight at once.")
    timeout_s: float = option(120.0, "Per-request timeout in seconds (retried).")
    max_retries: int = option(5, "Retries per request on HTTP 429/5xx, timeouts and connection errors.")
    max_new_tokens: int = option(16, "Cap on the judge's reply length (the verdict comes first).")
    temperature: float = option(0.0, "Sampling temperature (0 = greedy).")
    samples: int = option(1, "Verdicts per text (rating) or per order (pairwise), averaged; >1 needs "
                             "temperature > 0.")
    seed: int = option(0, "Base seed; each request's seed is derived from it and the conversation.")
    prompt_file: str | None = option(None, "Own prompt template file: {prompt} and {response} (rating), or "
                                           "{prompt}, {response_a} and {response_b} (pairwise).")
    cache: bool = option(True, "Keep replies in the generator's SQLite cache (a re-run asks nothing).")


def _split_target(target: str) -> tuple[str, str | None]:
    url, _, model = target.partition("#")
    url = url.strip().rstrip("/")
    if not re.match(r"^https?://[^/\s]+", url):
        raise InputError(f"--rm judge:{target}: expected judge:http(s)://HOST:PORT/v1[#MODEL]")
    return url, (model.strip() or None)


def _served_model(base_url: str, api_key: str | None, timeout: float) -> str:
    """The single model an OpenAI-compatible server lists at GET /models."""
    req = urllib.request.Request(base_url + "/models", headers={"Accept": "application/json",
                                                                **({"Authorization": f"Bearer {api_key}"}
                                                                   if api_key else {})})
    from ..generate.openai_http import open_url, redirect_error

    try:
        with open_url(req, timeout=timeout) as resp:
            data = json.loads(resp.read())
        ids = [str(m["id"]) for m in data["data"]]  # a numeric id is addressed as its text
    except urllib.error.HTTPError as e:
        if 300 <= e.code < 400:
            raise redirect_error(e.code, e.headers, f"--rm judge:{base_url}: GET /models") from None
        raise ModelLoadError(f"--rm judge:{base_url}: GET /models answered HTTP {e.code}; name the model with "
                             f"judge:{base_url}#MODEL") from None
    except (OSError, ValueError, KeyError, TypeError) as e:
        reason = getattr(e, "reason", None) or e
        raise ModelLoadError(f"--rm judge:{base_url}: cannot list the served models ({reason}); is the server "
                             "running at that URL?") from None
    if len(ids) != 1:
        raise ModelLoadError(f"--rm judge:{base_url}: the server lists {len(ids)} models "
                             f"({', '.join(ids[:5])}); name one with judge:{base_url}#MODEL")
    return ids[0]


def _check_reachable(base_url: str, timeout: float) -> None:
    """Fail at load time (exit 2), not after every request's retries, when nothing listens at the URL. Any
    HTTP answer (even 401/404 from a hosted API without a key on /models) means a server is there."""
    from ..generate.openai_http import open_url

    try:
        open_url(urllib.request.Request(base_url + "/models"), timeout=timeout).close()
    except urllib.error.HTTPError:
        return
    except (OSError, ValueError) as e:
        reason = getattr(e, "reason", None) or e
        raise ModelLoadError(f"--rm judge:{base_url}: cannot reach the server ({reason}); is it running at that "
                             "URL?") from None


@register_adapter("judge", JudgeOptions, target="URL[#MODEL]",
                  summary="An LLM judge on any OpenAI-compatible server: 1-10 ratings as rewards, or pairwise "
                          "A/B verdicts in both orders.",
                  example="judge:http://127.0.0.1:8000/v1#Qwen/Qwen2.5-7B-Instruct")
class JudgeRM(RewardModel):
    """See the module docstring."""

    score_cache = False  # replies are cached per request by the generator; parse counts stay exact
    default_batch_size = 256

    def __init__(self, target: str, mode: str = "rating", model: str | None = None,
                 api_key_env: str = "OPENAI_API_KEY", concurrency: int = 8, timeout_s: float = 120.0,
                 max_retries: int = 5, max_new_tokens: int = 16, temperature: float = 0.0, samples: int = 1,
                 seed: int = 0, prompt_file: str | None = None, cache: bool = True, progress: bool = False):
        from ..generate import load_generator

        if target.startswith("judge:"):
            target = target[len("judge:"):]
        url, spec_model = _split_target(target)
        if mode not in ("rating", "pairwise"):
            from ..registry import suggest

            raise InputError(f"--rm judge:{target}: mode '{mode}' unknown{suggest(mode, ('rating', 'pairwise'))}")
        from ..secrets import is_env_var_name, remember

        if api_key_env and not is_env_var_name(api_key_env):  # a key where its variable's name belongs: never echo it
            remember(api_key_env)
            raise InputError(f"--rm judge:{url}: --rm-arg api_key_env takes the NAME of an environment variable "
                             "(letters, digits, _), not the key itself (the value given is not shown)")
        if samples < 1 or (samples > 1 and temperature <= 0):
            raise InputError(f"--rm judge:{target}: samples={samples} needs samples >= 1, and temperature > 0 "
                             "when samples > 1 (greedy verdicts would repeat)")
        self.mode = mode
        self.pairwise = mode == "pairwise"
        self.samples = samples
        self.template = self._template(prompt_file, mode, target)
        self.prompt_file = prompt_file
        config = {"backend": "openai", "base_url": url, "api_key_env": api_key_env, "concurrency": concurrency,
                  "timeout_s": timeout_s, "max_retries": max_retries, "max_new_tokens": max_new_tokens,
                  "temperature": temperature, "seed": seed, "cache": cache, "progress": progress, "model": "x"}
        self.generator = load_generator(config)
        named = model or spec_model
        if named:
            _check_reachable(url, min(timeout_s, 10.0))
        self.generator.config.model = named or _served_model(url, self.generator.config.api_key(),
                                                             min(timeout_s, 30.0))
        self.model = self.generator.config.model
        self.url = url
        self.name = f"judge:{url}#{self.model}"
        ident = {"v": JUDGE_FORMAT_VERSION, "url": url, "model": self.model, "mode": mode, "template": self.template,
                 "system": SYSTEM_PROMPT, "max_new_tokens": max_new_tokens, "temperature": temperature,
                 "samples": samples, "seed": seed}
        self.fingerprint = "judge-" + hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:32]
        self.n_verdicts = 0
        self.parse_errors = 0
        self.examples_unparsed: list[str] = []

    @staticmethod
    def _template(prompt_file, mode, target) -> str:
        if not prompt_file:
            return PAIRWISE_PROMPT if mode == "pairwise" else RATING_PROMPT
        try:
            with open(prompt_file, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            raise InputError(f"--rm judge:{target}: prompt_file {prompt_file}: {e.strerror or e}") from None
        except UnicodeDecodeError as e:
            raise InputError(f"--rm judge:{target}: prompt_file {prompt_file}: not valid UTF-8 (byte "
                             f"0x{e.object[e.start]:02x} at offset {e.start}); save it as UTF-8") from None
        need = ("{prompt}", "{response_a}", "{response_b}") if mode == "pairwise" else ("{prompt}", "{response}")
        missing = [k for k in need if k not in text]
        if missing:
            raise InputError(f"--rm judge:{target}: prompt_file {prompt_file} lacks {', '.join(missing)}")
        return text

    def info(self) -> dict:
        rate = self.parse_errors / self.n_verdicts if self.n_verdicts else None
        return {"adapter": "JudgeRM", "mode": self.mode, "server": self.url, "model": self.model,
                "prompt": self.prompt_file or ("builtin:pairwise-v1" if self.pairwise else "builtin:rating-v1"),
                "samples": self.samples, "verdicts": self.n_verdicts, "parse_errors": self.parse_errors,
                "parse_error_rate": rate, "unparsed_examples": self.examples_unparsed[:5],
                "generator": {k: v for k, v in self.generator.stats.items()},
                "parse_failed_value": PARSE_FAILED_RATING if not self.pairwise else 0.5}

    def _messages(self, user: str) -> list[dict]:
        return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]

    def _note(self, reply: str, ok: bool) -> None:
        self.n_verdicts += 1
        if not ok:
            self.parse_errors += 1
            if len(self.examples_unparsed) < 5:
                self.examples_unparsed.append(reply[:200])

    def score(self, prompts, responses) -> list[float]:
        if self.pairwise:
            raise InputError(f"--rm {self.name}: a pairwise judge has no pointwise reward; its audits and "
                             "benchmarks compare pairs (preference_probabilities)")
        convs = [self._messages(fill_template(self.template, prompt_text(p), r)) for p, r in zip(prompts, responses)]
        replies = self.generator.generate(convs, n=self.samples)
        out = []
        for samples in replies:
            vals = []
            for reply in samples:
                rating = parse_rating(reply)
                self._note(reply, rating is not None)
                vals.append(PARSE_FAILED_RATING if rating is None else float(rating))
            out.append(sum(vals) / len(vals))
        return out

    def prefer_many(self, prompts, first, second) -> list[float]:
        """P(first[i] beats second[i]) for each i: both orders, ``samples`` verdicts each, averaged."""
        if not (len(prompts) == len(first) == len(second)):
            raise ValueError("prompts, first and second differ in length")

        def conv(p, a, b):
            return self._messages(fill_template(self.template, prompt_text(p), response_a=a, response_b=b))

        convs = []
        for p, a, b in zip(prompts, first, second):
            convs += [conv(p, a, b), conv(p, b, a)]
        replies = self.generator.generate(convs, n=self.samples)
        out = []
        for i in range(len(prompts)):
            wins = []
            for order, winner in ((0, "A"), (1, "B")):  # order 1 shows `first` as answer B
                for reply in replies[2 * i + order]:
                    verdict = parse_verdict(reply)
                    self._note(reply, verdict is not None)
                    wins.append(0.5 if verdict is None else float(verdict == winner))
            out.append(sum(wins) / len(wins))
        return out

    def prefer(self, prompt, a: str, b: str) -> float:
        """P(a beats b) for one prompt (see :meth:`prefer_many`)."""
        return self.prefer_many([prompt], [a], [b])[0]


def is_pairwise(rm) -> bool:
    """True for reward models that compare two responses instead of scoring one (``prefer_many``)."""
    return bool(getattr(rm, "pairwise", False)) and callable(getattr(rm, "prefer_many", None))


def preference_probabilities(rm, prompts, first, second) -> list[float]:
    """The pairwise counterpart of ``engine.score``: P(first[i] beats second[i]) for a pairwise RM.

    Identical (prompt, first, second) triples are asked once. The audit reads a probe's sensitivity as
    ``mean(preference_probabilities(rm, prompts, perturbed, original))`` (0.5 = indifferent) and a pairwise
    benchmark's accuracy as ``mean(preference_probabilities(rm, prompts, chosen, rejected))``; the parse-error
    rate is in ``rm.info()``."""
    if not is_pairwise(rm):
        raise InputError(f"reward model '{getattr(rm, 'name', rm)}' is not pairwise (no prefer_many)")
    keys = [json.dumps([p, a, b], ensure_ascii=False) for p, a, b in zip(prompts, first, second)]
    first_at: dict[str, int] = {}
    for i, k in enumerate(keys):
        first_at.setdefault(k, i)
    uniq = list(first_at.values())
    probs = rm.prefer_many([prompts[i] for i in uniq], [first[i] for i in uniq], [second[i] for i in uniq])
    by_key = {keys[i]: p for i, p in zip(uniq, probs)}
    return [by_key[k] for k in keys]
