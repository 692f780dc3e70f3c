"""The LLM path of the pipeline with a real (tiny, random-init) local transformers generator: it answers
garbage, so the rubric and rewrite stages must reject every output and stop with a clear message (exit 2)."""

import pytest
from click.testing import CliRunner

from crome_audit.cli import main
from tests.tiny_models import CHAT_TEMPLATE, build_tiny_causal_lm
from tests.train_helpers import separable_pairs, write_recipe


@pytest.fixture(scope="module")
def garbage_lm(tmp_path_factory):
    return build_tiny_causal_lm(tmp_path_factory.mktemp("garbage-lm"), chat_template=CHAT_TEMPLATE)


@pytest.mark.parametrize("stage,augment,message", [
    ("rubrics", {"rubric_source": "generator"}, "generator returned no usable rubric for any of"),
    ("augment", {"rewrites": "generator", "upgrades": False}, "generator produced no valid rewrite for any of"),
])
def test_generator_returning_garbage_stops_with_exit_2(tmp_path, garbage_lm, stage, augment, message):
    data = separable_pairs(tmp_path / "pairs.jsonl", n=12)
    recipe = write_recipe(tmp_path / "r.yaml", method="crome", data={"path": data, "heldout_fraction": 0.25},
                          augment={**augment, "attributes": ["relevance", "completeness"]},
                          generator={"backend": "local", "model": garbage_lm, "max_new_tokens": 8,
                                     "progress": False, "cache_dir": str(tmp_path / "gen-cache")})
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["train", "--config", recipe, "--out", str(out)])
    assert res.exit_code == 2, res.output
    assert message in res.output and "Traceback" not in res.output
    assert not (out / ".cache/pipeline/stages" / f"{stage}.json").exists()  # the failed stage left no manifest
    if stage == "augment":
        assert (out / ".cache/pipeline/stages/rubrics.json").exists()  # earlier stages completed and are kept
