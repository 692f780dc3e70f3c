"""Report rendering without a browser: structure, best-value marks, shared-only comparison, escaping,
determinism, atomic writes, and that the report never imports torch."""

import copy
import json
import random
import re
import subprocess
import sys

import pytest

from crome_audit.errors import InputError
from crome_audit.report import render_report
from crome_audit.report.compare import align
from crome_audit.report.examples import build_examples, rebuild, to_utf16, word_diff
from crome_audit.report.tables import probe_table, verdict_table
from crome_audit.results import read_results
from tests.report_fixtures import PROBES, make_results, three_runs, write_run

PLOTLY_BANNER = re.compile(r"plotly\.js v\d+\.\d+\.\d+")


def _render(tmp_path, results, name="report.html", **kw):
    return render_report(results, tmp_path / name, **kw).read_text(encoding="utf-8")


def _page(html):
    """The report without the inlined plotly.js / report.js (our own markup and data only)."""
    return re.sub(r'<script(?: type="text/plain" id="plotly-js")?>.*?</script>', "", html, flags=re.S)


def test_three_runs_have_every_section_and_plotly_once(tmp_path):
    html = _render(tmp_path, three_runs(tmp_path))
    for section in ("verdict", "tradeoff", "sensitivity", "rewardbench", "rewordbench", "wildguard", "rmbench",
                    "examples", "methodology"):
        assert f'id="{section}"' in html, section
    for chart in ("fig-scatter", "fig-spurious", "fig-causal", "fig-rewardbench", "fig-rewordbench",
                  "fig-wildguard", "fig-rmbench"):
        assert re.search(f'<div class="chart" id="{chart}" style="height: \\d+px"></div>', html), chart
    assert len(PLOTLY_BANNER.findall(html)) == 1  # plotly.js inlined exactly once
    tags = re.findall(r"<(?:script|link|img|iframe)\b[^>]*>", html)
    assert tags and all(t == "<script>" or t.startswith(('<script type="application/json"',
                                                         '<script type="text/plain" id="plotly-js"')) for t in tags), tags
    assert not re.search(r"<script[^>]+src=", html)  # no CDN: nothing is fetched
    # the Crome-trained twin marks which probes it saw in training
    assert "Probes seen in training (3): corrupt_numbers, corrupt_entities, drop_second_half" in html


def test_single_run_report_is_complete(tmp_path):
    res = read_results(write_run(tmp_path / "one", make_results("only-rm", benchmarks=("rewardbench",))))
    html = _render(tmp_path, [res])
    assert "crome-audit report: only-rm" in html
    assert 'id="fig-rewardbench"' in html and 'id="fig-wildguard"' not in html
    assert "num best" not in html  # nothing to be best against
    assert "Compared on what the runs share" not in html


def test_best_value_per_column(tmp_path):
    runs = three_runs(tmp_path)
    table = verdict_table(align(runs))
    labels = [c["label"] for c in table["columns"]]
    best = {labels[i]: [row["run"].label for row in table["rows"] if row["cells"][i]["best"]]
            for i in range(len(labels))}
    assert best["Spurious index"] == ["crome-rm"]       # lowest wins
    assert best["Causal index"] == ["crome-rm"]         # highest wins
    assert best["Overall"] == ["crome-rm"]
    assert best["Mean drop"] == ["crome-rm"]            # lowest drop wins
    assert "length" not in best["Causal index"]
    # probe table: spurious best = smallest |effect|, causal best = most negative effect
    pt = probe_table(align(runs))
    for row in pt["rows"]:
        winners = [r.label for r, c in zip(pt["runs"], row["effects"]) if c["best"]]
        vals = [r.probes[row["name"]]["effect_size"] for r in pt["runs"]]
        want = min(range(3), key=lambda i: abs(vals[i])) if row["kind"] == "spurious" else vals.index(min(vals))
        assert winners == [pt["runs"][want].label], row["name"]


def test_ties_are_all_marked_best(tmp_path):
    a = make_results("a", seed=1, benchmarks=("rmbench",))
    b = copy.deepcopy(a)
    b["rm"]["name"] = "b"
    table = verdict_table(align([a, b]))
    i = [c["label"] for c in table["columns"]].index("Hard")
    assert all(row["cells"][i]["best"] for row in table["rows"])


def test_different_data_and_suites_compare_only_shared(tmp_path):
    a = make_results("a", seed=1)
    b = make_results("b", seed=2, probes=PROBES[:5] + PROBES[12:], data_sha="f" * 64)
    cmp = align([a, b])
    assert [n for n in cmp.shared_probes] == [p[0] for p in PROBES[:5] + PROBES[12:]]
    notes = " ".join(cmp.notes)
    assert "different data" in notes and "Probes only in a (not compared)" in notes
    assert "recomputed on the 10 probes" in notes
    # recomputed index = mean |effect| over the shared spurious probes
    spur = [abs(p["effect_size"]) for p in a["probes"] if p["name"] in cmp.shared_probes and p["kind"] == "spurious"]
    assert cmp.runs[0].indices["spurious"] == pytest.approx(sum(spur) / len(spur))
    assert cmp.runs[0].indices["spurious"] != pytest.approx(a["summary"]["spurious_index"])
    html = _render(tmp_path, [a, b])
    names = _chart_names(html)
    assert "Compared on what the runs share" in html and "whitespace_noise" not in names
    assert {"length_restate", "swap_answer", "length", "relevance"} <= names  # probes under attributes


def _chart_names(html):
    m = re.search(r'<script type="application/json" id="figures-data">(.*?)</script>', html, re.S)
    figs = json.loads(m.group(1))
    def flat(xs):
        for x in xs or []:
            yield from (flat(x) if isinstance(x, list) else [x])

    return {x for f in figs.values() for t in f["data"] for x in flat(t.get("x")) if isinstance(x, str)}


def test_bench_only_run_and_null_probe_values(tmp_path):
    probe_run = make_results("audited", seed=3)
    probe_run["probes"][0].update(n=0, effect_size=None, ci_low=None, ci_high=None, p_value=None, flip_rate=None,
                                  mean_delta=None)
    bench_run = make_results("bench-only", seed=4, probes=[], benchmarks=("rewardbench",))
    bench_run["summary"] = {"spurious_index": None, "causal_index": None}
    bench_run["examples"] = {}
    html = _render(tmp_path, [probe_run, bench_run])
    assert "No probe audit in: bench-only" in html
    assert "Benchmark wildguard not run for: bench-only" in html
    assert "—" in html  # null effect shown as a dash, not 'None' or 'nan'
    page = _page(html)
    assert ">None<" not in page and not re.search(r"\b(nan|NaN)\b", page)


def test_minimal_results_render(tmp_path):
    minimal = {"schema_version": "1.0", "rm": {"name": "bare"}, "data": {}, "config": {}, "versions": {},
               "probes": [], "summary": None}
    html = _render(tmp_path, [minimal])
    assert "No run has probe or benchmark results to compare." in html
    assert not PLOTLY_BANNER.search(html)  # no charts, no 4.8 MB of plotly.js


def test_length_reference_from_run(tmp_path):
    res = make_results("hf-rm", seed=5)
    ref = make_results("length", seed=6, spurious_scale=0.9)
    res["reference"] = {"length": {"probes": ref["probes"], "summary": ref["summary"],
                                   "clean": {"pairwise_accuracy": 0.41}}}
    res["clean"] = {"pairwise_accuracy": 0.66}
    cmp = align([res])
    assert cmp.reference is not None and cmp.reference.indices["spurious"] == pytest.approx(
        ref["summary"]["spurious_index"])
    table = verdict_table(cmp)
    assert [r["reference"] for r in table["rows"]] == [False, True]
    assert not any(c["best"] for r in table["rows"] for c in r["cells"])
    html = _render(tmp_path, [res])
    assert "length baseline" in html and "(reference, same data)" in html


def test_word_diff_rebuilds_exactly():
    rng = random.Random(0)
    vocab = ["the", "cat", "sat", ",", ".", "\n", "  ", "on", "mat", "42", "é", "<b>", "😊", "don't"]
    for _ in range(300):
        a = " ".join(rng.choice(vocab) for _ in range(rng.randrange(0, 30)))
        b = " ".join(rng.choice(vocab) for _ in range(rng.randrange(0, 30)))
        segs, changed = word_diff(a, b)
        assert rebuild(a, segs) == b
        for s, e in changed:
            assert 0 <= s < e <= len(a)
    segs, changed = word_diff("It has 2 million people.", "It has 5 million people.")
    assert segs == [[0, 7], "5", [8, 24]] and changed == [[7, 8]]


def _js_slice(text, a, b):
    return text.encode("utf-16-le")[2 * a:2 * b].decode("utf-16-le")


def test_offsets_follow_javascript_utf16_indexing():
    original = "Great 😊 answer: 42 apples 👍 today."
    perturbed = "Great 😊 answer: 41 apples 👍 today! 🎉"
    segs, changed = to_utf16(original, *word_diff(original, perturbed))
    assert "".join(_js_slice(original, *s) if isinstance(s, list) else s for s in segs) == perturbed
    assert [_js_slice(original, a, b) for a, b in changed] == ["42", "."]


def test_examples_payload_dedupes_strings(tmp_path):
    runs = three_runs(tmp_path)
    payload = build_examples(align(runs))
    n_examples = sum(len(v) for r in runs for v in r["examples"].values())
    assert payload["total"] == n_examples
    assert len(payload["strings"]) < n_examples  # prompts/originals shared across probes and runs
    ex = payload["runs"][0]["probes"][0]["examples"][0]
    src = runs[0]["examples"][payload["runs"][0]["probes"][0]["name"]][0]
    o = payload["strings"][ex["o"]]
    assert "".join(_js_slice(o, *s) if isinstance(s, list) else s for s in ex["d"]) == src["perturbed"]


XSS = ["<script>window.__xss=1</script>", '<img src=x onerror="window.__xss=2">',
       "</textarea><script>window.__xss=3</script>", "</script><script>window.__xss=4</script>"]


def test_untrusted_text_is_escaped_in_source(tmp_path):
    res = make_results(XSS[1], seed=7, extra_examples={"length_restate": [
        {"id": XSS[0], "prompt": XSS[2], "side": "rejected", "original": "fine " + XSS[3],
         "perturbed": XSS[0] + " fine " + XSS[1], "reward_original": 0.1, "reward_perturbed": 0.9,
         "other_reward": 0.5, "flipped": True}]})
    res["config"]["note"] = XSS[3]
    res["probes"][0]["name"] = XSS[0]
    html = _render(tmp_path, [res], title=XSS[2])
    for bad in ("<script>window.__xss", "<img src=x", "</textarea>", "onerror=\"window"):
        assert bad not in html, bad
    assert "&lt;img src=x onerror=" in html  # RM name shown as text
    assert html.count("<script") == 4  # figures json, examples json, plotly.js, report.js — nothing else


def test_same_inputs_same_bytes_and_atomic_write(tmp_path):
    runs = three_runs(tmp_path)
    a = render_report(runs, tmp_path / "out" / "a.html").read_bytes()
    b = render_report(runs, tmp_path / "out" / "b.html").read_bytes()
    assert a == b
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.html", "b.html"]  # no temp files left
    with pytest.raises(ValueError):
        render_report([], tmp_path / "out" / "c.html")
    assert not (tmp_path / "out" / "c.html").exists()


def test_duplicate_rm_names_get_distinct_labels(tmp_path):
    a = read_results(write_run(tmp_path / "nightly", make_results("rm", seed=1)))
    b = read_results(write_run(tmp_path / "pr-123", make_results("rm", seed=2)))
    assert [r.label for r in align([a, b]).runs] == ["rm [nightly]", "rm [pr-123]"]
    assert [r.label for r in align([a, a]).runs] == ["rm [nightly] #1", "rm [nightly] #2"]


def test_report_never_imports_torch(tmp_path):
    run = write_run(tmp_path / "r", make_results("x", seed=1))
    code = ("import sys; from crome_audit.results import read_results; from crome_audit.report import render_report;"
            f"render_report([read_results({str(run)!r})], {str(tmp_path / 'x.html')!r});"
            "import crome_audit.gate;"
            "bad=[m for m in ('torch','transformers','crome_audit.engine','crome_audit.models') if m in sys.modules];"
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_read_results_errors_reach_the_cli(tmp_path):
    from click.testing import CliRunner

    from crome_audit.cli import main

    good = write_run(tmp_path / "good", make_results("g", seed=1))
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "results.json").write_text('{"schema_version": "1.0",\n "rm": ', encoding="utf-8")
    r = CliRunner().invoke(main, ["report", str(good), str(bad), "-o", str(tmp_path / "r.html")])
    assert r.exit_code == 2 and "invalid JSON" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "r.html").exists()
    r = CliRunner().invoke(main, ["report", str(good), "-o", str(tmp_path)])
    assert r.exit_code == 2 and "is a folder" in r.output
    r = CliRunner().invoke(main, ["report", str(good), str(good), "-o", str(tmp_path / "ok.html"), "--title", "T"])
    assert r.exit_code == 0, r.output
    assert "<title>T</title>" in (tmp_path / "ok.html").read_text(encoding="utf-8")
    with pytest.raises(InputError):
        read_results(tmp_path / "missing")
