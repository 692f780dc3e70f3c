"""The reWordBench benchmark: entry shape, numbers recomputed from samples.jsonl, LLM transformations through
a real local OpenAI-compatible server, errors, and the bench CLI.

Run: python -m pytest -q tests/test_rewordbench_bench.py
"""

import json
import re
import threading
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from crome_audit.benchmarks import run_benchmark
from crome_audit.benchmarks.rewardbench import load_rewardbench
from crome_audit.benchmarks.scoring import overall, section_scores
from crome_audit.engine import ScoringEngine
from crome_audit.errors import InputError
from crome_audit.models import load_reward_model


@pytest.fixture(scope="module")
def rb_file(shared_data):
    return str(shared_data / "rewardbench" / "filtered.jsonl")


def engine(spec="length"):
    return ScoringEngine(load_reward_model(spec), progress=False)


def recompute(samples, name):
    """Original and transformed accuracies on the 4-section basis from samples.jsonl alone: every pair's
    original outcome (transformation null), replaced by its transformed one where the transformation
    changed the pair."""
    base = {(s["subset"], s["id"]): s for s in samples if s["transformation"] is None}
    changed = {(s["subset"], s["id"]): s for s in samples if s["transformation"] == name}
    by_subset = defaultdict(lambda: {"o": [], "t": []})
    for key, s in base.items():
        assert s["correct"] == (s["reward_chosen"] > s["reward_rejected"])
        t = changed.get(key)
        if t is not None:
            assert t["correct"] == (t["reward_chosen"] > t["reward_rejected"])
            assert t["correct_original"] == s["correct"]
            assert (t["reward_chosen_original"], t["reward_rejected_original"]) == (s["reward_chosen"],
                                                                                  s["reward_rejected"])
        by_subset[key[0]]["o"].append(s["correct"])
        by_subset[key[0]]["t"].append(t["correct"] if t is not None else s["correct"])
    o = section_scores({k: sum(v["o"]) / len(v["o"]) for k, v in by_subset.items()})
    t = section_scores({k: sum(v["t"]) / len(v["t"]) for k, v in by_subset.items()})
    rows = list(changed.values())
    flips = sum(s["flipped"] for s in rows) / len(rows)
    return o, t, overall(o), overall(t), flips, len(base), len(rows)


def test_entry_recomputes_exactly_from_samples(rb_file):
    entry, samples = run_benchmark("rewordbench", engine(), data=rb_file, limit_per_subset=6, seed=1)
    assert entry["n"] == 23 * 6
    assert {r["name"] for r in entry["not_run"]} == {"paraphrase", "back_translation"}
    assert all("generator" in r["reason"] for r in entry["not_run"])
    results = entry["transformations"]
    assert len(results) == 22
    for name, res in results.items():
        o, t, oo, tt, flips, n, n_changed = recompute(samples, name)
        assert oo == pytest.approx(entry["original_score"], abs=1e-12)  # the same basis for every transformation
        overall_ = {k: v for k, v in res["overall"].items() if k != "drop_ci"}
        assert overall_ == pytest.approx({"original": oo, "transformed": tt, "drop": oo - tt, "flip_rate": flips,
                                          "n": n, "n_transformed": n_changed}, abs=1e-12)
        assert set(res["sections"]) == {"Chat", "Chat Hard", "Safety", "Reasoning"}  # all four, always
        for section, cell in res["sections"].items():
            assert cell["original"] == pytest.approx(o[section]) and cell["transformed"] == pytest.approx(t[section])
            assert cell["drop"] == pytest.approx(o[section] - t[section])
        m = entry["metrics"][f"drop.{name}"]
        assert m["value"] == pytest.approx(res["overall"]["drop"], abs=1e-12) and m["higher_is_better"] is False
        assert m["ci"][0] <= m["value"] + 1e-12 and m["value"] - 1e-12 <= m["ci"][1]
    # scope: code transformations only on hep-*, math swap on math-prm, jailbreaks on Safety
    code_only = results["code_minify"]["sections"]
    assert {s for s, c in code_only.items() if c["n_transformed"]} == {"Reasoning"}
    assert all(c["drop"] == 0 for s, c in code_only.items() if s != "Reasoning")
    assert set(results["code_minify"]["subsets"]) == {f"hep-{x}" for x in ("python", "go", "cpp", "js", "rust",
                                                                         "java")}
    assert set(results["math_swap_format"]["subsets"]) == {"math-prm"}
    assert {s for s, c in results["jailbreak_roleplay"]["sections"].items() if c["n_transformed"]} == {"Safety"}
    assert {s for s, c in results["rot13"]["sections"].items() if c["n_transformed"]} == {
        "Chat", "Chat Hard", "Safety", "Reasoning"}
    # text noise never touches the code subsets (their responses are programs)
    for name in ("typo_swap", "word_deletion", "homoglyph", "add_quotes", "twitter_url", "punct_spaces"):
        assert not any(s.startswith("hep-") for s in results[name]["subsets"]), name
    drops = [r["overall"]["drop"] for r in results.values()]
    assert entry["mean_drop"] == pytest.approx(sum(drops) / 22, abs=1e-12)
    assert entry["original_score"] - entry["score"] == pytest.approx(entry["mean_drop"], abs=1e-12)
    assert entry["metrics"]["score"]["value"] == entry["score"]
    assert entry["metrics"]["original"]["value"] == entry["original_score"]
    assert entry["metrics"]["mean_drop"]["value"] == entry["mean_drop"]
    assert results["rot13"]["meta"]["paper_name"] == "Rot-13"
    assert results["rot13"]["example"]["prompt"].startswith("The following request is encoded with ROT-13")


def test_length_rm_mean_drop_is_original_minus_score_on_the_full_file(rb_file):
    """The issue's measurement: the length RM had mean drop -0.0008 but original - score = 0.029 because
    the score averaged overall accuracies over different section scopes. On one basis they agree."""
    entry, samples = run_benchmark("rewordbench", engine(), data=rb_file)
    assert entry["n"] == 2985 and entry["original_score"] == pytest.approx(0.42405, abs=1e-5)
    assert entry["original_score"] - entry["score"] == pytest.approx(entry["mean_drop"], abs=1e-12)
    assert abs(entry["mean_drop"]) < 0.001
    m = entry["metrics"]
    assert m["mean_drop"]["ci"][0] <= m["mean_drop"]["value"] <= m["mean_drop"]["ci"][1]
    assert m["original"]["ci"][0] < m["original"]["value"] < m["original"]["ci"][1]
    assert {k for k, v in m.items() if v["n"] != 2985} == set()
    for name, res in entry["transformations"].items():
        assert res["overall"]["original"] == entry["original_score"], name
    assert sum(s["transformation"] is None for s in samples) == 2985


def boxed_rm(prompts, responses):
    """Positive control: a format-hacking RM (a boxed final answer is worth more than anything else)."""
    return [len(r) / 1e4 + 10.0 * ("\\boxed{" in r) for r in responses]


def test_a_format_hacking_rm_shows_a_drop_and_a_noise_rm_does_not(rb_file):
    entry, _ = run_benchmark("rewordbench", engine(f"py:{__file__}:boxed_rm"), data=rb_file, limit_per_subset=40,
                             transformations="math_swap_format,rot13")
    m = entry["metrics"]
    assert entry["transformations"]["math_swap_format"]["subsets"]["math-prm"]["original"] == 1.0
    # math-prm goes from all right to all wrong: Reasoning = 1/2 math-prm + 1/2 hep, overall = 1/4 Reasoning
    assert m["drop.math_swap_format"]["value"] == pytest.approx(0.125, abs=0.01)
    assert m["drop.math_swap_format"]["ci"][0] > 0.1
    assert m["drop.rot13"]["value"] == 0.0 and m["drop.rot13"]["ci"] == [0.0, 0.0]  # it never reads the prompt
    assert m["mean_drop"]["value"] == pytest.approx(m["drop.math_swap_format"]["value"] / 2)
    # calibration: a hash-noise RM ranks at chance before and after; its drops are chance and their CIs say so
    entry, _ = run_benchmark("rewordbench", engine("noise"), data=rb_file, limit_per_subset=40)
    m = entry["metrics"]
    drops = [k for k in m if k.startswith("drop.")]
    assert len(drops) == 22
    covering = [k for k in drops if m[k]["ci"][0] <= 0 <= m[k]["ci"][1]]
    assert len(covering) >= 20, sorted(set(drops) - set(covering))
    assert m["mean_drop"]["ci"][0] <= 0 <= m["mean_drop"]["ci"][1]
    flips = [r["overall"]["flip_rate"] for r in entry["transformations"].values()]
    assert 0.4 < sum(flips) / len(flips) < 0.6


def test_length_baseline_sees_appended_text_symmetrically(rb_file):
    """Appending the same string to both responses cannot change a length ranking."""
    entry, _ = run_benchmark("rewordbench", engine(), data=rb_file, limit_per_subset=5,
                             transformations="twitter_url,stress_test,jailbreak_prefix_injection,code_append")
    for name in ("twitter_url", "stress_test", "jailbreak_prefix_injection", "code_append"):
        assert entry["transformations"][name]["overall"]["flip_rate"] == 0.0
        assert entry["transformations"][name]["overall"]["drop"] == 0.0
        assert entry["metrics"][f"drop.{name}"]["ci"] == [0.0, 0.0]


def test_tiny_hf_rm_is_deterministic(rb_file, tiny_encoder_rm):
    kwargs = dict(data=rb_file, limit_per_subset=1, transformations="rot2,typo_swap,code_minify,math_swap_format",
                  seed=5)
    e1, s1 = run_benchmark("rewordbench", engine(tiny_encoder_rm), **kwargs)
    e2, s2 = run_benchmark("rewordbench", engine(tiny_encoder_rm), **kwargs)
    assert e1 == e2 and s1 == s2
    assert {s["transformation"] for s in s1} == {None, "rot2", "typo_swap", "code_minify", "math_swap_format"}
    assert len([s for s in s1 if s["transformation"] == "code_minify"]) == 6
    assert len([s for s in s1 if s["transformation"] is None]) == 23


def test_options_and_errors(rb_file):
    with pytest.raises(InputError, match="did you mean 'homoglyph'"):
        run_benchmark("rewordbench", engine(), data=rb_file, transformations="homoglyf")
    with pytest.raises(InputError, match="unknown option"):
        run_benchmark("rewordbench", engine(), data=rb_file, transformation="rot13")
    with pytest.raises(InputError, match="limit_per_subset"):
        run_benchmark("rewordbench", engine(), data=rb_file, limit_per_subset=0)
    entry, _ = run_benchmark("rewordbench", engine(), data=rb_file, subsets="mt-bench-easy",
                             transformations="code_minify,rot13")
    assert entry["not_run"] == [{"name": "code_minify", "reason": "changes no pair of this data (applies to "
                                                                  "['hep-*'])"}]
    entry, samples = run_benchmark("rewordbench", engine(), data=rb_file, limit_per_subset=1,
                                   transformations="paraphrase")
    assert entry["score"] is None and entry["mean_drop"] is None
    assert [s["transformation"] for s in samples] == [None] * 23
    assert entry["original_score"] is not None and entry["metrics"]["original"]["value"] == entry["original_score"]
    assert entry["metrics"]["score"]["value"] is None and entry["metrics"]["score"]["ci"] is None


def test_bad_benchmark_file_is_an_input_error(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": 1, "subset": "mt-bench-esay", "prompt": "p", "chosen": "a",
                               "rejected": "b"}) + "\n")
    with pytest.raises(InputError, match="mt-bench-easy"):
        run_benchmark("rewordbench", engine(), data=str(bad))


# ----------------------------------------------------------------------------- LLM transformations


class FakeLLM:
    """A real OpenAI-compatible HTTP server on 127.0.0.1 that 'paraphrases' and 'translates' by rule."""

    def __init__(self):
        self.calls = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                owner.calls += 1
                user = [m["content"] for m in body["messages"] if m["role"] == "user"][-1]
                text = re.search(r"TEXT:\n(.*)\n\nOutput only", user, re.S).group(1)
                if "Paraphrase" in user:
                    out = "Please answer this: " + text
                elif "into English" in user:
                    out = "Kindly: " + text.removeprefix("[fr] ")
                else:
                    out = "[fr] " + text
                data = json.dumps({"choices": [{"message": {"role": "assistant", "content": out}}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.spec = f"openai:http://127.0.0.1:{self.server.server_address[1]}/v1#fake-llm?max_retries=0"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_llm():
    srv = FakeLLM()
    yield srv
    srv.close()


def test_paraphrase_and_back_translation_run_through_the_generator(rb_file, fake_llm):
    kwargs = dict(data=rb_file, limit_per_subset=1, transformations="paraphrase,back_translation",
                  generator=fake_llm.spec, pivot="French")
    entry, samples = run_benchmark("rewordbench", engine(), **kwargs)
    assert entry["not_run"] == []
    para, back = entry["transformations"]["paraphrase"], entry["transformations"]["back_translation"]
    assert para["overall"]["n_transformed"] == back["overall"]["n_transformed"] == 23
    assert back["pivot"] == "French" and para["generator"]["backend"] == "openai"
    rows, _ = load_rewardbench(rb_file)
    firsts = {}
    for r in rows:
        firsts.setdefault(r["subset"], r["prompt"])
    unique = len(set(firsts.values()))
    assert para["rewrite_counts"]["ok"] == para["rewrite_counts"]["total"] == unique
    # prompt-only rewrite + length RM: outcomes cannot change
    assert para["overall"]["flip_rate"] == 0.0
    calls = fake_llm.calls
    assert calls == unique * 3  # one paraphrase + two translation legs per unique prompt
    run_benchmark("rewordbench", engine(), **kwargs)
    assert fake_llm.calls == calls  # the generation cache answers the re-run


# ----------------------------------------------------------------------------- CLI


def test_bench_cli_writes_results_and_maps_errors(rb_file, tmp_path):
    from click.testing import CliRunner

    from crome_audit.cli import main
    from crome_audit.results import read_results

    out = tmp_path / "run"
    args = ["bench", "rewordbench", "--rm", "length", "--data", rb_file, "--out", str(out), "--quiet",
            "--option", "transformations=rot13,code_comment", "--option", "limit_per_subset=3"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    results = read_results(out)
    entry = results["benchmarks"]["rewordbench"]
    assert set(entry["transformations"]) == {"rot13", "code_comment"}
    lines = (out / "samples.jsonl").read_text().splitlines()
    assert len(lines) == 69 + 69 + 18  # originals, rot13 on every pair, code_comment on the 6 hep subsets
    bad = CliRunner().invoke(main, args[:-4] + ["--option", "transformations=rot31"])
    assert bad.exit_code == 2 and "did you mean" in bad.output
