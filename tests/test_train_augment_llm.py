"""The LLM path of the augment stage against a real local OpenAI-compatible HTTP server (as vLLM would be):
accepted counterfactual rewrites become causal pairs, and every rejected rewrite is counted by status in the
augment manifest. The offline style ties run beside the generator's rewrites.

    python -m pytest -q tests/test_train_augment_llm.py
"""

import json
import re

from click.testing import CliRunner

from crome_audit.cli import main
from tests.generate_servers import ScriptedChatServer, user_text
from tests.train_helpers import separable_pairs, write_recipe


def _reply(body, n_call):
    """Decide by the pair's number (not the call order, which concurrency shuffles): i % 3 == 0 a good rewrite,
    1 the answer unchanged, 2 a one-word answer (changed too much)."""
    text = user_text(body)
    i = int(re.search(r"Question (\d+):", text).group(1))
    answer = text.split("ANSWER:\n", 1)[1].rsplit("\n\nOutput only", 1)[0].strip()
    if i % 3 == 0:
        return 200, answer.replace("clear and helpful", "vague and unhelpful"), {}, 0
    if i % 3 == 1:
        return 200, answer, {}, 0
    return 200, "No.", {}, 0


def test_generator_rewrites_counted_by_status(tmp_path):
    data = separable_pairs(tmp_path / "pairs.jsonl", n=24)
    with ScriptedChatServer(_reply) as server:
        recipe = write_recipe(tmp_path / "r.yaml", method="crome", data={"path": data, "heldout_fraction": 0.25},
                              augment={"rewrites": "generator", "upgrades": False, "attributes": ["relevance"],
                                       "max_causal_per_pair": 1, "neutral_ratio": 0.0},
                              generator={"backend": "openai", "base_url": server.base_url, "model": "scripted",
                                         "progress": False, "cache": False, "backoff": 0.01})
        res = CliRunner().invoke(main, ["train", "--config", recipe, "--out", str(tmp_path / "o"),
                                        "--until", "augment"])
    assert res.exit_code == 0, res.output
    counts = json.loads((tmp_path / "o/.cache/pipeline/stages/augment.json").read_text())["counts"]
    split = json.loads((tmp_path / "o/.cache/pipeline/split.json").read_text())
    train_ids = [str(i) for i in range(24) if str(i) not in set(split["heldout_ids"])]
    want = {k: sum(int(i) % 3 == k for i in train_ids) for k in range(3)}
    assert counts["by_family"]["generator.relevance.degrade"] == want[0]
    assert counts["generator_rejected"] == want[1] + want[2]
    by_status = {k: v for k, v in counts["generator_rejected_by_status"].items() if v}
    assert by_status == {"changed_too_much": want[2], "unchanged": want[1]}
    assert any(k.startswith("train.style.") for k in counts["by_family"])  # offline style ties on by default
