"""The shortcut audit of preference data (crome_audit/data_audit.py, `crome-audit data`): on real UltraFeedback
rows, coin-flip labels read as no shortcut and a planted cue reads as one; the CLI writes data_audit.json and
refuses bad input in one line.

    python -m pytest -q tests/test_data_audit.py
"""

import json
import random

import pytest
from click.testing import CliRunner

from crome_audit import audit_data
from crome_audit.cli import main
from crome_audit.data import load_pairs
from crome_audit.data_audit import audit_pairs, format_table

UF = "ultrafeedback/train_1000.jsonl"


@pytest.fixture(scope="module")
def uf(shared_data):
    pairs, _ = load_pairs(str(shared_data / UF), skip_invalid=True)
    return pairs


def _coin_flip(pairs, seed):
    rng = random.Random(seed)
    return [p if rng.random() < 0.5 else {**p, "chosen": p["rejected"], "rejected": p["chosen"]} for p in pairs]


def _bulleted(text):
    """The planted cue: the answer's sentences as a bulleted list (a layout shortcut a model learns fast)."""
    parts = [s.strip() for s in text.replace("\n", " ").split(". ") if s.strip()]
    return "\n".join(f"- {s}" for s in parts)


@pytest.mark.parametrize("seed", [0, 1])
def test_coin_flip_labels_read_as_no_shortcut(uf, seed):
    result = audit_pairs(_coin_flip(uf, seed), seed=seed)
    print(format_table(result))
    lo, hi = result["shallow"]["auc_ci"]
    # no shortcut: below the trainer's warning threshold (0.55), and the CI reaches chance (a 95% CI excludes the
    # truth 1 run in 20 by design, so "reaches" allows 0.02: seed 0 reads 0.532 [0.501, 0.560] on 998 pairs)
    assert result["shallow"]["auc"] <= 0.55 and lo <= 0.52, result["shallow"]
    for name, f in result["features"].items():  # none flagged: every CI reaches down to 0.55 or below
        assert f["auc_ci"][0] <= 0.55, (name, f)
    # the real data's length lean (0.551, CI above 0.5) is gone once the labels are coin flips
    assert result["features"]["length"]["auc_ci"][0] == 0.5


def test_planted_cue_reads_as_a_shortcut(uf):
    rng = random.Random(0)
    planted = [{**p, "chosen": _bulleted(p["chosen"])} if rng.random() < 0.8 else p for p in uf]
    result = audit_pairs(planted)
    print(format_table(result))
    bullets = result["features"]["md_bullets"]
    assert bullets["chosen_more"] > 0.7 and bullets["auc_ci"][0] > 0.75
    assert bullets["pairwise_auc"] > 0.5  # the direction: the chosen side carries the cue
    assert result["shallow"]["auc_ci"][0] > 0.75
    assert result["shallow"]["top_features"][0]["feature"] == "md_bullets"
    assert result["shallow"]["top_features"][0]["direction"] == "chosen has more"


def test_synthetic_records_get_the_edit_span_feature_and_families(uf):
    """Records carrying edit_tokens (the trainer's synthetic set): edited side always rejected -> AUC 1."""
    recs = [{**p, "family": "train.x.y", "edit_tokens": {"chosen": 0, "rejected": 7}} for p in uf[:200]]
    recs += [{**p, "label": "tie"} for p in uf[200:210]]
    result = audit_pairs(recs, n_boot=200)
    assert result["n_ties_skipped"] == 10 and result["n_pairs"] == 200
    assert result["features"]["edit_span"]["auc"] == 1.0 and result["features"]["edit_span"]["chosen_less"] == 1.0
    assert result["families"]["train.x.y"]["shallow"]["auc"] > 0.95


def test_cli_writes_data_audit_json(shared_data, tmp_path):
    out = tmp_path / "audit"
    res = CliRunner().invoke(main, ["data", str(shared_data / UF), "--out", str(out), "--skip-invalid",
                                    "--limit", "300", "--n-boot", "200"])
    assert res.exit_code == 0, res.output
    assert "shallow classifier: AUC" in res.output and "md_numbered" in res.output
    doc = json.loads((out / "data_audit.json").read_text())
    assert set(doc["shallow"]) >= {"auc", "auc_ci", "top_features"}
    for f in doc["features"].values():
        assert set(f) >= {"auc", "auc_ci", "chosen_more", "chosen_less"}
    assert doc == audit_data(str(shared_data / UF), skip_invalid=True, limit=300, n_boot=200)
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "Shallow classifier" in page and "md_numbered" in page


@pytest.mark.parametrize("content, message", [
    ('{"prompt": "q", "response": "a"}\n{"prompt": "r", "response": "b"}\n', "missing field 'chosen'"),
    ('{"prompt": "q", "chosen": "a", "rejected": "b"}\n', "1 preference pair(s)"),
    ('{"prompt": "q", "chosen": "a"\n', "invalid JSON line"),
])
def test_cli_bad_input_is_one_line_exit_2_nothing_written(tmp_path, content, message):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(content)
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["data", str(bad), "--out", str(out)])
    assert res.exit_code == 2, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("crome-audit: error:") and message in lines[0], res.output
    assert not out.exists()


def test_html_page_marks_the_planted_shortcut_and_escapes_names(uf, tmp_path):
    """The page `crome-audit data` writes (OUT/report.html): the planted bullet layout is marked as a shortcut
    (its CI lies above 0.55) and the coin-flip features are not; family names are escaped."""
    from crome_audit.report.data_audit_page import render_data_audit

    rng = random.Random(0)
    planted = [{**p, "chosen": _bulleted(p["chosen"]), "family": "<b>x</b>"} if rng.random() < 0.8 else p
               for p in uf]
    page = render_data_audit({"data": {"path": "uf"}, **audit_pairs(planted, n_boot=200)})
    row = next(r for r in page.split("<tr>") if r.startswith("<td>md_bullets"))
    assert 'class="flag">shortcut' in row
    assert "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page
    flip = render_data_audit({"data": {"path": "uf"}, **audit_pairs(_coin_flip(uf, 1), seed=1, n_boot=200)})
    assert 'class="flag">shortcut' not in flip
