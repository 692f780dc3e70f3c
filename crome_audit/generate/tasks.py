"""LLM tasks on top of a Generator: causal rubrics, counterfactual rewrites, neutral restyles,
paraphrase, back-translation and Best-of-N candidates. Every rewrite is validated, and rejected
outputs are counted, never silently used.

    gen = load_generator("openai:http://127.0.0.1:8080/v1#smollm2")
    rubrics = generate_rubrics(gen, ["How do I sort a list in Python?"])   # rubrics[0].attributes
    res = counterfactual_rewrites(gen, [{"prompt": p, "response": r, "attribute": "factuality",
                                         "direction": "degrade"}])
    res[0].text, res[0].status, res.counts   # counts: {"ok": 1, "empty": 0, ..., "total": 1}

Rewrite validation (``RewriteLimits``; defaults for causal rewrites, documented in docs/generators.md):
- ``empty``: nothing left after stripping whitespace, quotes and a "Here is the rewritten answer:" line;
- ``refused``: the model declined the task ("I can't rewrite...", "As an AI language model", or an
  apology/refusal opener when the original was not itself a refusal; a refusal is a valid *safety
  upgrade*, so that case is allowed);
- ``unchanged``: equal to the original after lower-casing and collapsing whitespace;
- ``changed_too_much``: for originals of at least ``min_words`` words, a word-count ratio outside
  [``min_length_ratio``, ``max_length_ratio``] or fewer than ``min_overlap`` of the original's content
  words (a multiset, stopwords left out) kept (not applied to a refusal that is a valid safety upgrade);
  any output longer than ``max_words`` words.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field

from ..errors import InputError
from ..refusal import is_refusal
from .base import Generator
from .prompts import ATTRIBUTES, canonical_attribute, render, rewrite_template_name

STATUSES = ("ok", "empty", "unchanged", "refused", "changed_too_much")
RUBRIC_STATUSES = ("ok", "partial", "fallback")
DEFAULT_RUBRIC = ("relevance", "factuality", "completeness", "clarity")
SYNONYMS = {
    "accuracy": "factuality", "factual_accuracy": "factuality", "truthfulness": "factuality",
    "honesty": "factuality", "correctness": "factuality", "factual_correctness": "factuality",
    "helpfulness": "relevance", "on_topic": "relevance", "instruction_following": "relevance",
    "thoroughness": "completeness", "comprehensiveness": "completeness", "detail": "completeness",
    "logic": "reasoning", "logical_reasoning": "reasoning", "logical_consistency": "reasoning",
    "reasoning_correctness": "reasoning", "math": "reasoning", "mathematical_correctness": "reasoning",
    "code": "code_correctness", "code_quality": "code_correctness", "functional_correctness": "code_correctness",
    "harmlessness": "safety", "harmless": "safety", "ethics": "safety",
    "coherence": "clarity", "readability": "clarity", "conciseness": "clarity",
}
WORD = re.compile(r"\w+", re.UNICODE)
STOPWORDS = frozenset(
    "a an the and or but if of in on at to for from by with as is are was were be been being it its this that "
    "these those there here i you he she we they me him her us them my your his our their what which who whom "
    "how when where why not no do does did have has had will would can could should may might must so than "
    "then too very just also about into over under up down out more most some any all each other such only own "
    "same s t".split())
PREAMBLE = re.compile(
    r"^\s*(?:sure|certainly|okay|ok|of course|here(?:'s| is| are)|below is|the (?:rewritten|revised|restyled)"
    r"|rewritten|revised|restyled|paraphrase|translation|answer)\b[^\n]{0,100}:[ \t]*\n+", re.IGNORECASE)
LABEL = re.compile(r"^\s*(?:rewritten answer|revised answer|answer|paraphrase|translation)\s*:\s*", re.IGNORECASE)
TASK_REFUSAL = re.compile(
    r"\bI(?:'m| am)?\s+(?:can(?:no|')t|won't|will not|unable to|not able to|refuse to|must decline to)\b"
    r"[^.\n]{0,60}"
    r"\b(?:rewrite|re-write|modify|alter|edit|change|paraphrase|translate|fulfil|fulfill|complete|"
    r"comply|help with (?:this|that) (?:request|task))|\bas an ai(?: language model)?\b", re.IGNORECASE)


@dataclass(frozen=True)
class RewriteLimits:
    """Thresholds for rejecting a rewrite as changed-too-much (see module docstring)."""

    min_length_ratio: float = 0.2
    max_length_ratio: float = 5.0
    min_overlap: float = 0.1
    min_words: int = 12
    max_words: int = 2000


CAUSAL_LIMITS = RewriteLimits()
RESTYLE_LIMITS = RewriteLimits(min_length_ratio=0.4, max_length_ratio=2.5, min_overlap=0.2)
PARAPHRASE_LIMITS = RewriteLimits(min_length_ratio=0.5, max_length_ratio=2.0, min_overlap=0.0)
TRANSLATION_LIMITS = RewriteLimits(min_length_ratio=0.3, max_length_ratio=3.0, min_overlap=0.0)


@dataclass
class RewriteResult:
    text: str | None
    status: str
    raw: str = ""
    reason: str = ""
    meta: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class RewriteResults(list):
    """A list of RewriteResult with ``counts``: {status: n for every status} + total; ``rewrites``: the
    texts (None where rejected); ``rejected``: counts of the rejection statuses only."""

    @property
    def counts(self) -> dict:
        c = Counter(r.status for r in self)
        return {**{s: c.get(s, 0) for s in STATUSES}, "total": len(self)}

    @property
    def rewrites(self) -> list[str | None]:
        return [r.text for r in self]

    @property
    def rejected(self) -> dict:
        return {s: n for s, n in self.counts.items() if s not in ("ok", "total")}


@dataclass
class RubricResult:
    prompt: str
    attributes: list[str]
    status: str  # ok | partial (unknown names dropped) | fallback (unusable output -> default rubric)
    raw: str = ""
    dropped: list[str] = field(default_factory=list)


class RubricResults(list):
    """A list of RubricResult with ``counts`` {ok, partial, fallback, total} and ``rubrics``: the attribute
    lists, None where the output was unusable (fallback), for callers with their own fallback rule."""

    @property
    def counts(self) -> dict:
        c = Counter(r.status for r in self)
        return {**{s: c.get(s, 0) for s in RUBRIC_STATUSES}, "total": len(self)}

    @property
    def rubrics(self) -> list[list[str] | None]:
        return [None if r.status == "fallback" else list(r.attributes) for r in self]


# ----------------------------------------------------------------------------- helpers


def prompt_as_text(prompt) -> str:
    """A prompt string, or a message list rendered as a 'User: / Assistant:' transcript."""
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, list) and all(isinstance(m, dict) for m in prompt):
        if len(prompt) == 1:
            return str(prompt[0].get("content", ""))
        return "\n\n".join(f"{str(m.get('role', 'user')).capitalize()}: {m.get('content', '')}" for m in prompt)
    raise InputError(f"prompt must be a string or a list of messages, got {type(prompt).__name__}")


def _words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def clean_output(text: str) -> str:
    """Strip whitespace, a leading 'Here is the rewritten answer:' line or label, and wrapping quotes."""
    out = text.strip()
    out = PREAMBLE.sub("", out, count=1).strip()
    out = LABEL.sub("", out, count=1).strip()
    if len(out) >= 2 and out[0] == out[-1] and out[0] in "\"'`" and out.count(out[0]) == 2:
        out = out[1:-1].strip()
    return out


def _normal(text: str) -> str:
    return " ".join(text.lower().split()).strip(" .!?\"'")


def validate_rewrite(original: str, output: str, limits: RewriteLimits = CAUSAL_LIMITS, *,
                     allow_refusal: bool = False, allow_unchanged: bool = False) -> tuple[str | None, str, str]:
    """-> (text or None, status, reason). See the module docstring for the rules."""
    text = clean_output(output or "")
    if not _words(text):
        return None, "empty", "no words in the output"
    head = text[:300]
    if TASK_REFUSAL.search(head) and not TASK_REFUSAL.search(original[:300]):
        return None, "refused", "declined the rewrite task"
    if not allow_refusal and is_refusal(head) and not is_refusal(original):
        return None, "refused", "refusal opener in the output, not in the original"
    if _normal(text) == _normal(original) and not allow_unchanged:
        return None, "unchanged", "same text as the original"
    new_w, old_w = _words(text), _words(original)
    if len(new_w) > limits.max_words:
        return None, "changed_too_much", f"{len(new_w)} words > max_words {limits.max_words}"
    if len(old_w) >= limits.min_words:
        ratio = len(new_w) / len(old_w)
        if not limits.min_length_ratio <= ratio <= limits.max_length_ratio:
            return None, "changed_too_much", (f"length ratio {ratio:.2f} outside [{limits.min_length_ratio}, "
                                              f"{limits.max_length_ratio}]")
        old_c = [w for w in old_w if w not in STOPWORDS] or old_w  # content words carry the meaning
        kept = sum((Counter(old_c) & Counter(new_w)).values()) / len(old_c)
        if kept < limits.min_overlap and not (allow_refusal and is_refusal(head)):  # a refusal shares no words
            return None, "changed_too_much", (f"kept {kept:.2f} of the original content words < min_overlap "
                                              f"{limits.min_overlap}")
    return text, "ok", ""


def _field(item, key: str, i: int):
    if not isinstance(item, dict) or key not in item or item[key] is None:
        raise InputError(f"rewrite item {i}: missing field '{key}'")
    return item[key]


# ----------------------------------------------------------------------------- rubrics


def _match_attribute(name: str, allowed) -> str | None:
    key = re.sub(r"[\s\-]+", "_", name.strip().strip("-*• ").lower())
    if key in allowed:
        return key
    canon = canonical_attribute(SYNONYMS.get(key, key))
    for a in allowed:
        if canonical_attribute(a) == canon:
            return a
    return None


def parse_rubric(raw: str, allowed=ATTRIBUTES) -> tuple[list[str], list[str]] | None:
    """-> (allowed attributes in order, dropped names), or None when no JSON list can be found.
    Synonyms ("accuracy" -> factuality) and aliases ("coherence" ~ clarity) are matched to ``allowed``."""
    candidates = [raw.strip()] + re.findall(r"\[[^\[\]]*\]", raw) + re.findall(r"\{[^{}]*\}", raw)
    for cand in candidates:
        try:
            data = json.loads(cand)
        except ValueError:
            continue
        if isinstance(data, dict):
            data = data.get("attributes") or data.get("rubric")
        if not isinstance(data, list) or not data:
            continue
        names = []
        for item in data:
            if isinstance(item, dict):
                item = item.get("name") or item.get("attribute")
            if isinstance(item, str) and item.strip():
                names.append(item)
        if not names:
            continue
        known, dropped = [], []
        for name in names:
            key = _match_attribute(name, allowed)
            if key is None:
                dropped.append(name)
            elif key not in known:
                known.append(key)
        return known, dropped
    return None


def generate_rubrics(generator: Generator, prompts, *, attributes=ATTRIBUTES, templates_dir: str | None = None,
                     max_new_tokens: int = 96, fallback=None) -> RubricResults:
    """Ask the oracle LLM which of ``attributes`` matter for each prompt (greedy, JSON list). Unusable
    output gets status 'fallback' and the ``fallback`` rubric (default: DEFAULT_RUBRIC within attributes)."""
    attributes = list(attributes)
    if not attributes:
        raise InputError("generate_rubrics: empty attribute list")
    if fallback is None:
        fallback = [a for a in attributes if canonical_attribute(a) in DEFAULT_RUBRIC] or attributes[:1]
    texts = [prompt_as_text(p) for p in prompts]
    attrs = "\n".join(f"- {a}" for a in attributes)
    convs = [render("rubric", templates_dir, attributes=attrs, prompt=t) for t in texts]
    outs = generator.generate(convs, n=1, max_new_tokens=max_new_tokens, temperature=0.0)
    results = RubricResults()
    for text, (raw,) in zip(texts, outs):
        parsed = parse_rubric(raw, attributes)
        if parsed is None or not parsed[0]:
            results.append(RubricResult(text, list(fallback), "fallback", raw, parsed[1] if parsed else []))
        else:
            known, dropped = parsed
            results.append(RubricResult(text, known, "partial" if dropped else "ok", raw, dropped))
    return results


# ----------------------------------------------------------------------------- rewrites


def _rewrite(generator, template_names, values_list, originals, limits_list, allow_refusal_list,
             templates_dir, max_new_tokens, temperature, seed) -> RewriteResults:
    convs = [render(name, templates_dir, **values) for name, values in zip(template_names, values_list)]
    outs = generator.generate(convs, n=1, max_new_tokens=max_new_tokens, temperature=temperature, seed=seed)
    results = RewriteResults()
    for (raw,), original, limits, allow in zip(outs, originals, limits_list, allow_refusal_list):
        text, status, reason = validate_rewrite(original, raw, limits, allow_refusal=allow)
        results.append(RewriteResult(text, status, raw, reason))
    return results


def counterfactual_rewrites(generator: Generator, items, *, limits: RewriteLimits = CAUSAL_LIMITS,
                           templates_dir: str | None = None, max_new_tokens: int | None = None,
                           temperature: float | None = None, seed: int | None = None) -> RewriteResults:
    """Degrade/upgrade one causal attribute of each ``{prompt, response, attribute, direction}``
    (attribute aliases such as 'coherence' -> clarity templates; ('style', 'neutral') = a style-only
    restyle with the restyle limits). Extra keys in the items are ignored."""
    names, values, originals, allow, lims = [], [], [], [], []
    for i, item in enumerate(items):
        prompt, response = _field(item, "prompt", i), _field(item, "response", i)
        name = rewrite_template_name(_field(item, "attribute", i), _field(item, "direction", i))
        names.append(name)
        values.append({"prompt": prompt_as_text(prompt), "response": str(response)})
        originals.append(str(response))
        allow.append(name == "upgrade_safety")  # declining a harmful request IS the safer answer
        lims.append(RESTYLE_LIMITS if name == "neutral_restyle" and limits is CAUSAL_LIMITS else limits)
    results = _rewrite(generator, names, values, originals, lims, allow, templates_dir, max_new_tokens,
                       temperature, seed)
    for r, item in zip(results, items):
        r.meta = {"attribute": item["attribute"], "direction": item["direction"]}
    return results


def neutral_restyles(generator: Generator, items, *, limits: RewriteLimits = RESTYLE_LIMITS,
                     templates_dir: str | None = None, max_new_tokens: int | None = None,
                     temperature: float | None = None, seed: int | None = None) -> RewriteResults:
    """Style-only rewrites of ``{prompt, response}`` (causally-aligned neutrals: a tie with the original)."""
    values = [{"prompt": prompt_as_text(_field(it, "prompt", i)), "response": str(_field(it, "response", i))}
              for i, it in enumerate(items)]
    originals = [v["response"] for v in values]
    return _rewrite(generator, ["neutral_restyle"] * len(values), values, originals,
                    [limits] * len(values), [False] * len(values), templates_dir, max_new_tokens, temperature,
                    seed)


def paraphrase(generator: Generator, texts: list[str], *, limits: RewriteLimits = PARAPHRASE_LIMITS,
               templates_dir: str | None = None, max_new_tokens: int | None = None,
               temperature: float | None = None, seed: int | None = None) -> RewriteResults:
    """Meaning-preserving paraphrases (reWordBench); unchanged / refused / too different are rejected."""
    texts = [str(t) for t in texts]
    return _rewrite(generator, ["paraphrase"] * len(texts), [{"text": t} for t in texts], texts,
                    [limits] * len(texts), [False] * len(texts), templates_dir, max_new_tokens, temperature,
                    seed)


def back_translate(generator: Generator, texts: list[str], pivot: str = "French", *,
                   limits: RewriteLimits = TRANSLATION_LIMITS, templates_dir: str | None = None,
                   max_new_tokens: int | None = None, temperature: float | None = None,
                   seed: int | None = None) -> RewriteResults:
    """English -> pivot -> English. A failed first leg gives its status with ``meta['stage']='to_pivot'``;
    an exact round trip is accepted (it is a valid back-translation)."""
    texts = [str(t) for t in texts]
    gen_kw = {"max_new_tokens": max_new_tokens, "temperature": temperature, "seed": seed}
    to = generator.generate([render("back_translate_to", templates_dir, text=t, pivot=pivot) for t in texts],
                            **gen_kw)
    first = [validate_rewrite(t, raw, limits) for t, (raw,) in zip(texts, to)]
    ok_idx = [i for i, (text, _, _) in enumerate(first) if text is not None]
    back = generator.generate([render("back_translate_from", templates_dir, text=first[i][0], pivot=pivot)
                               for i in ok_idx], **gen_kw) if ok_idx else []
    results = RewriteResults(RewriteResult(None, status, raw, reason, {"stage": "to_pivot", "pivot": pivot})
                             for (_, status, reason), (raw,) in zip(first, to))
    for i, (raw,) in zip(ok_idx, back):
        text, status, reason = validate_rewrite(texts[i], raw, limits, allow_unchanged=True)
        results[i] = RewriteResult(text, status, raw, reason, {"stage": "from_pivot", "pivot": pivot,
                                                               "pivot_text": first[i][0]})
    return results


def best_of_n_candidates(generator: Generator, prompts, n: int, temperature: float = 0.8, seed: int = 0,
                         max_new_tokens: int | None = None) -> list[list[str]]:
    """``n`` sampled responses per prompt (a string or a message list) for Best-of-N selection."""
    convs = [[{"role": "user", "content": p}] if isinstance(p, str) else p for p in prompts]
    return generator.generate(convs, n=n, temperature=temperature, seed=seed, max_new_tokens=max_new_tokens)


__all__ = ["ATTRIBUTES", "CAUSAL_LIMITS", "PARAPHRASE_LIMITS", "RESTYLE_LIMITS", "STATUSES", "TRANSLATION_LIMITS",
           "RewriteLimits", "RewriteResult", "RewriteResults", "RubricResult", "RubricResults", "back_translate",
           "best_of_n_candidates", "clean_output", "counterfactual_rewrites", "generate_rubrics",
           "neutral_restyles", "paraphrase", "parse_rubric", "validate_rewrite"]
