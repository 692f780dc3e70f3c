"""reWordBench LLM-made transformations: paraphrase and back-translation of the prompt.

They need a generator model, so :func:`~crome_audit.benchmarks.transforms.transform_pair` never runs them;
the reWordBench benchmark sends the prompts through ``crome_audit.generate`` when a generator is configured
and otherwise lists them under ``not_run`` (never faked). Only the prompt is rewritten, so both responses
still answer the same request and the ranking of the pair is kept.
"""

from __future__ import annotations

from . import Transform, register

register(Transform("paraphrase", "Paraphrase", "naturalistic", "meaning", ("prompt",), None,
                   "paraphrase the prompt with the generator LLM", llm=True))
register(Transform("back_translation", "Back-translation", "naturalistic", "meaning", ("prompt",), None,
                   "translate the prompt into a pivot language and back with the generator LLM", llm=True))
