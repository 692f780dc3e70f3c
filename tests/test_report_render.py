"""Report rendering without a browser: structure, best-value marks, shared-only comparison, escaping,
determinism, atomic writes, and that the report never imports torch."""

import ast
import copy
import inspect
import json
import random
import re
import subprocess
import sys

import pytest

from crome_audit.errors import InputError
from crome_audit.report import render_report
from crome_audit.report.compare import PALETTE, PATTERNS, align, color_slots
from crome_audit.report.examples import build_examples, rebuild, to_utf16, word_diff
from crome_audit.report.tables import benchmark_tables, probe_table, verdict_table
from crome_audit.report.verdict import diff_ci, separated, starred, verdict_sentences
from crome_audit.results import read_results
from tests.report_fixtures import PROBES, make_results, three_runs, write_run

PLOTLY_BANNER = re.compile(r"plotly\.js v\d+\.\d+\.\d+")


def _render(tmp_path, results, name="report.html", **kw):
    return render_report(results, tmp_path / name, **kw).read_text(encoding="utf-8")


def _page(html):
    """The report without the inlined plotly.js / report.js (our own markup and data only)."""
    return re.sub(r'<script(?: type="text/plain" id="plotly-js")?>.*?</script>', "", html, flags=re.S)


def _figs(html):
    m = re.search(r'<script type="application/json" id="figures-data">(.*?)</script>', html, re.S)
    return json.loads(m.group(1))


def test_three_runs_have_every_section_and_plotly_once(tmp_path):
    html = _render(tmp_path, three_runs(tmp_path))
    for section in ("verdict", "tradeoff", "sensitivity", "bench-0", "bench-1", "bench-2", "bench-3", "examples",
                    "methodology"):
        assert f'id="{section}"' in html, section
    for chart in ("fig-scatter", "fig-bias", "fig-instability", "fig-detection", "fig-bench-0", "fig-bench-1",
                  "fig-bench-2", "fig-bench-3"):
        assert re.search(f'<div class="chart" id="{chart}" style="height: \\d+px"></div>', html), chart
    assert len(PLOTLY_BANNER.findall(html)) == 1  # plotly.js inlined exactly once
    tags = re.findall(r"<(?:script|link|img|iframe)\b[^>]*>", html)
    assert tags and all(t == "<script>" or t.startswith('<script type="application/json"') for t in tags), tags
    assert not re.search(r"<script[^>]+src=", html)  # no CDN: nothing is fetched
    # the Crome-trained twin marks which probes it saw in training
    assert ("Probes seen in training (5): factual_numbers, factual_dates, factual_entities, incomplete_truncate, "
            "incomplete_steps") in html


def test_first_screen_indices_with_cis_beside_the_references(tmp_path):
    runs = three_runs(tmp_path)
    cmp = align(runs)
    table = verdict_table(cmp, "probes")
    assert [c["label"] for c in table["columns"]][:3] == ["Spurious index", "Causal index", "Clean accuracy"]
    labels = [row["run"].label for row in table["rows"]]
    assert labels == ["bt-rm", "crome-rm", "constant-rm", "length reference", "noise reference"]
    for row, res in zip(table["rows"], runs):
        lo, hi = res["summary"]["spurious_index_ci"]
        assert row["cells"][0]["ci"] == f"[{lo:.3f}, {hi:.3f}]"  # the run's own joint-bootstrap CI
    noise = table["rows"][-1]
    assert noise["cells"][0]["value"] == runs[0]["reference"]["noise"]["summary"]["spurious_index"]
    html = _render(tmp_path, runs)
    first = html[html.index('id="verdict"'):html.index('id="tradeoff"')]
    assert "length reference" in first and "noise reference" in first
    assert "crome-rm moves 78% less than bt-rm under style edits overall" in first
    assert "crome-rm tells intact from broken content more often than bt-rm" in first


def test_degenerate_rm_is_flagged_with_reasons_and_never_starred(tmp_path):
    runs = three_runs(tmp_path)
    cmp = align(runs)
    const = next(r for r in cmp.runs if r.label == "constant-rm")
    assert const.degenerate == runs[2]["summary"]["degenerate"]["reasons"]
    # its spurious index (0.028) is the lowest of all, yet it is not starred
    tables = [verdict_table(cmp, "probes"), verdict_table(cmp, "benchmarks")]
    for t in tables:
        for row in t["rows"]:
            if row["run"].label == "constant-rm" or row["reference"]:
                assert not any(c["best"] for c in row["cells"]), row["run"].label
    spur = {row["run"].label: row["cells"][0] for row in tables[0]["rows"]}
    assert spur["constant-rm"]["value"] < spur["crome-rm"]["value"] and spur["crome-rm"]["best"]
    for row in probe_table(cmp)["rows"]:
        i = [r.label for r in probe_table(cmp)["runs"]].index("constant-rm")
        assert not any(c["best"] for c in row["cells"][i].values() if isinstance(c, dict))
    sentences = verdict_sentences(cmp)
    assert sentences[0]["kind"] == "flag" and "constant-rm is flagged degenerate" in sentences[0]["text"]
    assert "constant RM: clean margin SD 1e-06" in sentences[0]["detail"]
    # left out of the comparisons (its own verdict sentence is still shown, as the terminal prints it)
    assert not any("constant-rm" in s["text"] for s in sentences[1:] if s["kind"] != "verdict")
    html = _render(tmp_path, runs)
    assert 'class="flag"' in html and "clean accuracy 50.0% [43.1%, 56.9%] is within chance" in html


def test_difference_ci_is_the_conservative_combination():
    d, ci = diff_ci(0.5, (0.4, 0.65), 0.2, (0.1, 0.3))
    assert d == pytest.approx(0.3)
    assert ci[0] == pytest.approx(0.3 - (0.1 ** 2 + 0.1 ** 2) ** 0.5)
    assert ci[1] == pytest.approx(0.3 + (0.15 ** 2 + 0.1 ** 2) ** 0.5)
    assert diff_ci(0.5, None, 0.2, (0.1, 0.3)) == (pytest.approx(0.3), None)
    assert separated(ci) == 1 and separated((-0.1, 0.2)) == 0 and separated((-0.3, -0.1)) == -1
    # stars: only the entry that separates from every other one
    assert starred([("a", 0.1, (0.05, 0.15)), ("b", 0.5, (0.4, 0.6)), ("c", 0.6, (0.5, 0.7))], "low") == {"a"}
    assert starred([("a", 0.1, (0.05, 0.3)), ("b", 0.25, (0.2, 0.3))], "low") == set()  # CIs overlap
    assert starred([("a", 0.1, None), ("b", 0.5, (0.4, 0.6))], "low") == set()  # no CI, no star
    # relative wording stays sane when the first RM is near 0 (a style-blind RM): no "27056% more"
    from crome_audit.report.verdict import _relative

    assert [_relative(a, b, a - b) for a, b in ((0.39, 1), (1.4, 1), (3.2, 1), (0.145, 0.001), (0.1, 0))] == [
        "61% less than", "40% more than", "3.2× as much as", "far more than", "more than"]


def test_noise_level_differences_get_no_star_and_a_no_difference_sentence(tmp_path):
    a = make_results("bt", seed=1)
    b = copy.deepcopy(a)
    b["rm"]["name"] = "crome"
    for p in b["probes"]:  # the same RM measured again: every metric moves a little, well inside its CI
        p["instability"] += 0.004
        p["detection_rate"] = p.get("detection_rate") and p["detection_rate"] - 0.004
    cmp = align([a, b])
    assert not any(c["best"] for row in verdict_table(cmp, "probes")["rows"] for c in row["cells"])
    assert not any(c["best"] for row in verdict_table(cmp, "benchmarks")["rows"] for c in row["cells"])
    texts = [s["text"] for s in verdict_sentences(cmp) if s["kind"] != "verdict"]
    assert texts[0] == "No difference in how much style moves crome and bt overall"
    assert texts[1] == "No difference between crome and bt in noticing broken content"
    assert any(t.startswith("No difference between crome and bt on style attributes length, formatting")
               for t in texts)
    assert not any(s["kind"] == "diff" for s in verdict_sentences(cmp))


def test_attribute_sentence_names_the_attribute_and_the_relative_change(tmp_path):
    bt = make_results("bt", seed=1, spurious_scale=0.3)
    crome = copy.deepcopy(bt)
    crome["rm"]["name"] = "crome"
    attr = crome["summary"]["spurious_attributes"]["formatting"]
    base_v = attr["value"]
    attr.update(value=round(base_v * 0.39, 4), ci=[round(base_v * 0.35, 4), round(base_v * 0.43, 4)])
    cmp = align([bt, crome])
    texts = [s["text"] for s in verdict_sentences(cmp)]
    assert "crome moves 61% less than bt under formatting edits" in texts
    assert any(t.startswith("No difference between crome and bt on style attributes") and "sycophancy" in t
               for t in texts)


def test_references_are_drawn_on_every_chart(tmp_path):
    runs = three_runs(tmp_path)
    figs = _figs(_render(tmp_path, runs))
    n_spur = sum(1 for p in runs[0]["probes"] if p["kind"] == "spurious")
    n_caus = len(runs[0]["probes"]) - n_spur
    for fid, n in (("fig-bias", n_spur), ("fig-instability", n_spur), ("fig-detection", n_caus)):
        names = [t.get("name") for t in figs[fid]["data"]]
        assert "length reference" in names and "noise reference" in names, fid
        segments = [s for s in figs[fid]["layout"]["shapes"] if s.get("yref") == "y"]
        assert len(segments) == 2 * n, fid  # one line per probe and reference
        bars = [t for t in figs[fid]["data"] if t["type"] == "bar"]
        assert [t["name"] for t in bars] == ["bt-rm", "crome-rm", "constant-rm (degenerate)"]
        assert all(re.search(r"<br>n=\d+", y) for y in bars[0]["y"])  # each bar row shows n
    chance = [s for s in figs["fig-detection"]["layout"]["shapes"] if s.get("yref") == "y domain"]
    assert len(chance) == 1 and chance[0]["x0"] == chance[0]["x1"] == 0.5
    det = next(t for t in figs["fig-detection"]["data"] if t["type"] == "bar")
    assert det["base"] == 0.5  # detection bars grow from chance
    scatter = [t["name"] for t in figs["fig-scatter"]["data"]]
    assert "length reference" in scatter and "noise reference" in scatter


def test_excluded_probes_are_greyed_and_n_shown(tmp_path):
    res = make_results("rm", seed=2, insufficient=("emoji",))
    figs = _figs(_render(tmp_path, [res]))
    bars = next(t for t in figs["fig-instability"]["data"] if t["type"] == "bar")
    i = next(k for k, y in enumerate(bars["y"]) if y.startswith("emoji"))
    assert bars["y"][i] == "emoji ⚠<br>n=12" and bars["marker"]["opacity"][i] < 0.5
    j = next(k for k, y in enumerate(bars["y"]) if y.startswith("format_markdown"))
    assert bars["marker"]["opacity"][j] == 1.0
    det = next(t for t in figs["fig-detection"]["data"] if t["type"] == "bar")
    k = next(k for k, y in enumerate(det["y"]) if y.startswith("incomplete_truncate"))
    assert "⚠" in det["y"][k] and det["marker"]["opacity"][k] < 0.5  # length-confounded
    pt = probe_table(align([res]))
    row = next(r for r in pt["rows"] if r["name"] == "emoji")
    assert row["cells"][0]["flags"] and "insufficient n" in row["cells"][0]["flags"][0]


def test_colours_okabe_ito_by_name_with_patterns(tmp_path):
    okabe_ito = {"#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000"}
    assert set(PALETTE) <= okabe_ito and len(set(PATTERNS)) == len(PATTERNS) == len(PALETTE)
    names = [f"rm-{i}" for i in range(40)]
    # a name alone takes its hash slot, so it keeps its colour in every report where it does not collide
    solo = {n: color_slots([n])[n] for n in names}
    a, b = next((x, y) for x in names for y in names if solo[x] != solo[y])
    c = next(z for z in names if solo[z] not in (solo[a], solo[b]))
    for group in ([a, b], [b, a], [c, b, a]):
        cmp = align([make_results(n, seed=1, benchmarks=()) for n in group])
        got = {r.label: r.color for r in cmp.runs}
        assert got[a] == PALETTE[solo[a]] and got[b] == PALETTE[solo[b]]
    # collisions: resolved the same way whatever the argument order, and all distinct
    slots = color_slots(names[:6])
    assert slots == color_slots(list(reversed(names[:6]))) and len(set(slots.values())) == 6
    cmp = align([make_results(n, seed=1, benchmarks=()) for n in names[:3]])
    assert len({(r.color, r.pattern, r.symbol) for r in cmp.runs}) == 3


def test_benchmarks_render_from_metrics_through_one_code_path(tmp_path):
    res = make_results("rm", seed=3, benchmarks=("rewardbench",))
    res["benchmarks"]["my-new-bench"] = {"score": 0.42, "metrics": {
        "score": {"value": 0.42, "ci": [0.40, 0.44], "n": 900, "higher_is_better": True, "label": "pass@1"},
        "latency <ms>": {"value": 12.5, "ci": [11.0, 14.0], "n": 900, "higher_is_better": False}}}
    res["benchmarks"]["legacy"] = {"score": 0.9}  # no metrics: unreadable, named in a note
    cmp = align([res])
    tables = benchmark_tables(cmp)
    assert [t["name"] for t in tables] == ["rewardbench", "my-new-bench"]
    mine = tables[1]
    assert [r["name"] for r in mine["rows"]] == ["score", "latency <ms>"]
    assert mine["rows"][0]["cells"][0]["text"] == "42.0%" and mine["rows"][1]["better"] == "↓"
    assert mine["rows"][1]["cells"][0]["text"] == "12.500" and mine["rows"][1]["cells"][0]["ci"] == "[11.000, 14.000]"
    assert any("Benchmark legacy is unreadable" in n for n in cmp.notes)
    html = _render(tmp_path, [res])
    assert "latency &lt;ms&gt;" in html and 'id="fig-bench-1"' in html
    figs = _figs(html)
    assert figs["fig-bench-1"]["data"][0]["y"][1].startswith("latency &lt;ms&gt; ↓")
    headline = verdict_table(cmp, "benchmarks")
    assert [c["group"] for c in headline["columns"]] == ["rewardbench", "my-new-bench"]


def _string_constants(module) -> set:
    return {n.value for n in ast.walk(ast.parse(inspect.getsource(module)))
            if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def test_report_has_no_per_benchmark_branches():
    from importlib import resources

    import crome_audit.report as rep
    from crome_audit.report import charts, compare, render, tables, verdict

    names = {"rewardbench", "rewordbench", "wildguard", "rmbench", "RewardBench", "RM-Bench", "WildGuard"}
    for mod in (charts, compare, render, tables, verdict):
        assert not names & _string_constants(mod), mod.__name__
    for asset in ("report.html.j2", "report.js", "style.css"):
        text = (resources.files(rep) / "templates" / asset).read_text(encoding="utf-8")
        assert not [n for n in names if n.lower() in text.lower()], asset


def test_single_run_report_is_complete(tmp_path):
    res = read_results(write_run(tmp_path / "one", make_results("only-rm", benchmarks=("rewardbench",))))
    html = _render(tmp_path, [res])
    assert "crome-audit report: only-rm" in html
    assert 'id="fig-bench-0"' in html and 'id="fig-bench-1"' not in html
    assert "num best" not in html  # nothing to be best against
    assert "Compared on what the runs share" not in html
    sentences = verdict_sentences(align([res]))
    assert sentences[0]["kind"] == "verdict" and sentences[0]["text"].startswith("only-rm: robust to length")
    sentence = sentences[1]["text"]
    assert sentence.startswith("only-rm: spurious index") and "noise reference" in sentence


def test_different_data_and_suites_compare_only_shared(tmp_path):
    a = make_results("a", seed=1)
    b = make_results("b", seed=2, probes=PROBES[:5] + PROBES[13:], data_sha="f" * 64)
    cmp = align([a, b])
    assert cmp.shared_probes == [p[0] for p in PROBES[:5] + PROBES[13:]]
    notes = " ".join(cmp.notes)
    assert "different data" in notes and "Probes only in a (not compared)" in notes
    assert "recomputed on the 12 probes" in notes and "without CIs" in notes
    # recomputed spurious index = mean over attributes of the mean instability of the shared probes
    by_attr = {}
    for p in a["probes"]:
        if p["name"] in cmp.shared_probes and p["kind"] == "spurious":
            by_attr.setdefault(p["attribute"], []).append(p["instability"])
    want = sum(sum(v) / len(v) for v in by_attr.values()) / len(by_attr)
    assert cmp.runs[0].index("spurious") == (pytest.approx(want), None)
    assert not any(c["best"] for row in verdict_table(cmp, "probes")["rows"] for c in row["cells"])
    html = _render(tmp_path, [a, b])
    assert "Compared on what the runs share" in html
    ys = {y for f in _figs(html).values() for t in f["data"] for y in (t.get("y") or []) if isinstance(y, str)}
    assert not any(y.startswith("whitespace_noise") for y in ys) and any(y.startswith("format_strip") for y in ys)


def test_bench_only_run_and_null_probe_values(tmp_path):
    probe_run = make_results("audited", seed=3)
    probe_run["probes"][0].update(n=0, effect_size=None, ci_low=None, ci_high=None, p_value=None, flip_rate=None,
                                  mean_delta=None, instability=None, instability_ci=None, hack_rate=None)
    bench_run = make_results("bench-only", seed=4, probes=[], benchmarks=("rewardbench",), references=False)
    bench_run["examples"] = {}
    html = _render(tmp_path, [probe_run, bench_run])
    assert "No probe audit in: bench-only" in html
    assert "Benchmark wildguard not run for: bench-only" in html
    assert "—" in html  # null effect shown as a dash, not 'None' or 'nan'
    page = _page(html)
    assert ">None<" not in page and not re.search(r"\b(nan|NaN)\b", page)


def test_minimal_results_render(tmp_path):
    minimal = {"schema_version": "3.0", "rm": {"name": "bare"}, "data": {}, "config": {}, "versions": {},
               "probes": [], "summary": None}
    html = _render(tmp_path, [minimal])
    assert "No run has probe or benchmark results to compare." in html
    assert not PLOTLY_BANNER.search(html)  # no charts, no 4.8 MB of plotly.js


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
    res = make_results(XSS[1], seed=7, extra_examples={"length_filler": [
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
    (bad / "results.json").write_text('{"schema_version": "2.0",\n "rm": ', encoding="utf-8")
    r = CliRunner().invoke(main, ["report", str(good), str(bad), "-o", str(tmp_path / "r.html")])
    assert r.exit_code == 2 and "invalid JSON" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "r.html").exists()
    r = CliRunner().invoke(main, ["report", str(good), "-o", str(tmp_path)])
    assert r.exit_code == 2 and "is a folder" in r.output
    r = CliRunner().invoke(main, ["report", str(good), str(good), "-o", str(tmp_path / "ok.html"), "--title", "T"])
    assert r.exit_code == 0, r.output
    assert "degenerate" not in r.output
    flagged = write_run(tmp_path / "flat", make_results("flat", seed=2, degenerate=("constant RM: margin SD 0",)))
    r = CliRunner().invoke(main, ["report", str(good), str(flagged), "-o", str(tmp_path / "f.html")])
    assert r.exit_code == 0 and "warning: flat is flagged degenerate (constant RM: margin SD 0)" in r.output
    assert "<title>T</title>" in (tmp_path / "ok.html").read_text(encoding="utf-8")
    with pytest.raises(InputError):
        read_results(tmp_path / "missing")
    old = write_run(tmp_path / "old", {**make_results("o", seed=1), "schema_version": "1.0"})
    r = CliRunner().invoke(main, ["report", str(old), "-o", str(tmp_path / "old.html")])
    assert r.exit_code == 2 and "schema_version 1.0 is not supported (need 3.0" in r.output
