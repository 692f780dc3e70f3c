"""Held-out evaluation shared by the trainer (periodic eval) and the ``eval`` stage (saved model, engine).

    texts = EvalSet.build(heldout_pairs, heldout_ties, max_pairs=256)
    rewards = score(texts.prompts, texts.responses)          # any scorer
    texts.metrics(rewards)
    # {"n_pairs", "accuracy", "n_ties", "tie_mean_abs_delta", "length_effect", "formatting_effect", "reward_std"}

- accuracy: share of held-out pairs with r(chosen) > r(rejected) (ties count as wrong);
- tie_mean_abs_delta: mean |r(a) - r(b)| over held-out irrelevant-query neutrals (0 = perfectly tie-consistent);
- mini spurious audit: ``length_effect`` = mean[r(chosen + filler) - r(chosen)] / std(r of held-out
  responses); ``formatting_effect`` the same with a markdown rewrite (header + bullets). 0 = invariant.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

FILLER = ("\n\nTo summarize, the points above cover the main aspects of the question. It is worth keeping "
          "them in mind, and I hope this overview is useful to you.")
SENT_RE = re.compile(r"(?<=[.!?])\s+")


def add_filler(text: str) -> str:
    return text.rstrip() + FILLER


def add_markdown(text: str) -> str:
    sents = [s for s in SENT_RE.split(text.strip()) if s]
    return "## Answer\n\n" + "\n".join(f"- **{s}**" if i == 0 else f"- {s}" for i, s in enumerate(sents))


@dataclass
class EvalSet:
    prompts: list = field(default_factory=list)
    responses: list = field(default_factory=list)
    n_pairs: int = 0
    n_ties: int = 0

    @classmethod
    def build(cls, pairs: list[dict], ties: list[dict], max_pairs: int | None = None) -> EvalSet:
        pairs = pairs[:max_pairs] if max_pairs else pairs
        ties = ties[:max_pairs] if max_pairs else ties
        s = cls(n_pairs=len(pairs), n_ties=len(ties))
        for p in pairs:  # per pair: chosen, rejected, chosen+filler, chosen+markdown
            s.prompts += [p["prompt"]] * 4
            s.responses += [p["chosen"], p["rejected"], add_filler(p["chosen"]), add_markdown(p["chosen"])]
        for t in ties:
            s.prompts += [t["prompt"]] * 2
            s.responses += [t["a"], t["b"]]
        return s

    def metrics(self, rewards: list[float]) -> dict:
        n = self.n_pairs
        r = rewards
        chosen = [r[4 * i] for i in range(n)]
        rejected = [r[4 * i + 1] for i in range(n)]
        filler = [r[4 * i + 2] for i in range(n)]
        md = [r[4 * i + 3] for i in range(n)]
        base = chosen + rejected
        mean = sum(base) / len(base) if base else 0.0
        std = math.sqrt(sum((x - mean) ** 2 for x in base) / max(1, len(base) - 1)) if len(base) > 1 else 0.0
        off = 4 * n
        ties = [abs(r[off + 2 * j] - r[off + 2 * j + 1]) for j in range(self.n_ties)]

        def effect(new):
            if not n or std == 0:
                return None
            return sum(a - b for a, b in zip(new, chosen)) / n / std

        return {"n_pairs": n, "accuracy": sum(c > j for c, j in zip(chosen, rejected)) / n if n else None,
                "n_ties": self.n_ties, "tie_mean_abs_delta": sum(ties) / len(ties) if ties else None,
                "length_effect": effect(filler), "formatting_effect": effect(md), "reward_std": std}
