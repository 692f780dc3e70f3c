"""Shared helpers for the trainer tests (tests/test_train_*.py): tiny separable data and recipe writers."""

from __future__ import annotations

import json
import random
from pathlib import Path

import yaml

TOPICS = ["cats", "rivers", "music", "bread", "trains", "planets", "chess", "gardens", "coffee", "rain", "maps",
          "boats"]


def separable_pairs(path: Path, n: int = 160, seed: int = 0) -> str:
    """A task any RM can separate: chosen is a fluent answer, rejected is gibberish on the same topic."""
    rng = random.Random(seed)
    with open(path, "w") as f:
        for i in range(n):
            t = rng.choice(TOPICS)
            f.write(json.dumps({"id": str(i), "prompt": f"Question {i}: tell me something about {t}.",
                                "chosen": f"Sure, here is a clear and helpful answer about {t}. It is short. "
                                          f"It stays on {t}.",
                                "rejected": f"zzz qqq {t} xxx."}) + "\n")
    return str(path)


def write_recipe(path: Path, **sections) -> str:
    base = {"method": "bt", "data": {}, "model": {"base_model": "tiny-random:bert", "max_length": 64},
            "train": {"learning_rate": 3e-3, "batch_size": 16, "max_steps": 8, "progress": False,
                      "logging_steps": 1}}
    for k, v in sections.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            base[k] = {**base[k], **v}
        else:
            base[k] = v
    Path(path).write_text(yaml.safe_dump(base))
    return str(path)


def read_log(out: Path) -> list[dict]:
    return [json.loads(x) for x in (Path(out) / "training_log.jsonl").read_text().splitlines() if x.strip()]


def losses(out: Path) -> dict[int, float]:
    return {r["step"]: r["loss"] for r in read_log(out) if "loss" in r}
