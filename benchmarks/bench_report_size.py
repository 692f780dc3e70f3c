"""Report size and load time for a large comparison: 3 RMs x the full RewardBench audit (~3,000 pairs x 20
probes, up to 50 flipped examples per probe and RM, all four benchmarks), schema-true synthetic results built
on the real RewardBench texts when ../shared/data/rewardbench is present.

    python benchmarks/bench_report_size.py [--pairs 2985] [--probes 20] [--examples 50] [--loads 3]

Prints: render time, file size (target < 10 MB) and, in headless Chromium, the first contentful paint, the
open time (first-screen charts drawn; target < 3 s) and the time until all charts are drawn, cold (fresh
browser profile) and warm (reload), next to a peer measured in the same run: a bare plotly page (one chart,
``fig.write_html(include_plotlyjs=True)``). Not a test: numbers go to RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crome_audit.report import render_report  # noqa: E402
from tests.report_browser import browser_missing, chromium_session, open_report  # noqa: E402
from tests.report_fixtures import make_results  # noqa: E402

RB = ROOT.parent / "shared" / "data" / "rewardbench" / "filtered.jsonl"
KINDS = ["spurious"] * 11 + ["causal"] * 9


def load_pairs(n: int) -> list[dict]:
    if RB.is_file():
        rows = [json.loads(line) for line in RB.read_text(encoding="utf-8").splitlines() if line.strip()]
        return rows[:n]
    rng = random.Random(0)
    words = "the model answer is correct because it follows from the given facts and steps".split()
    return [{"id": i, "prompt": " ".join(rng.choices(words, k=30)), "chosen": " ".join(rng.choices(words, k=110)),
             "rejected": " ".join(rng.choices(words, k=100))} for i in range(n)]


def perturb(rng: random.Random, text: str, kind: str, j: int) -> str:
    if kind == "spurious":
        return ["Great question! ", "## Answer\n\n", ""][j % 3] + text + [
            "\n\nIn summary, the points above capture the key ideas.", " 😊", "\n\nI hope this helps."][j % 3]
    words = text.split(" ")
    for _ in range(3):
        i = rng.randrange(len(words))
        words[i] = str(rng.randrange(100))
    return " ".join(words[: max(1, int(len(words) * 0.8))])


def big_results(name: str, seed: int, pairs: list[dict], n_probes: int, n_examples: int) -> dict:
    probes = [(f"probe_{i:02d}", f"attr_{i % 12}", KINDS[i % len(KINDS)], f"family_{i}") for i in range(n_probes)]
    res = make_results(name, seed=seed, spurious_scale=0.2 + 0.3 * seed, n=len(pairs), probes=probes,
                       examples_per_probe=0, rb_subset_n=len(pairs) // 23)
    rng = random.Random(seed)
    for p in res["probes"]:
        rows = []
        for j, pair in enumerate(rng.sample(pairs, n_examples)):
            side = "rejected" if p["kind"] == "spurious" else "chosen"
            original = pair[side]
            rows.append({"id": f"rb-{pair['id']}", "prompt": pair["prompt"], "side": side, "original": original,
                         "perturbed": perturb(rng, original, p["kind"], j), "reward_original": rng.gauss(0, 1),
                         "reward_perturbed": rng.gauss(0, 1), "other_reward": rng.gauss(0, 1), "flipped": True})
        res["examples"][p["name"]] = rows
    res["_path"] = f"/runs/{name}/results.json"
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pairs", type=int, default=2985)
    ap.add_argument("--probes", type=int, default=20)
    ap.add_argument("--examples", type=int, default=50)
    ap.add_argument("--loads", type=int, default=3)
    args = ap.parse_args()

    pairs = load_pairs(args.pairs)
    runs = [big_results(n, i, pairs, args.probes, args.examples) for i, n in
            enumerate(["baseline-rm", "crome-rm", "length"])]
    n_ex = sum(len(v) for r in runs for v in r["examples"].values())
    raw = sum(len(json.dumps(r["examples"])) for r in runs)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "big.html"
        t0 = time.perf_counter()
        render_report(runs, out)
        render_s = time.perf_counter() - t0
        size = out.stat().st_size
        print(f"data: {len(pairs)} pairs ({'RewardBench texts' if RB.is_file() else 'synthetic texts'}), "
              f"3 RMs x {args.probes} probes, {n_ex} examples ({raw / 1e6:.1f} MB as raw JSON)")
        print(f"render: {render_s:.2f} s   size: {size / 1e6:.2f} MB (target < 10 MB)")
        why = browser_missing()
        if why:
            print(f"browser: skipped ({why})")
            return
        import plotly.graph_objects as go

        peer = Path(tmp) / "peer.html"
        go.Figure(go.Bar(x=["a", "b", "c"], y=[1, 3, 2])).write_html(peer, include_plotlyjs=True, full_html=True,
                                                                    post_script="window.__cromeCharts="
                                                                    "{expected:1,rendered:1};")
        # cold: the first page in a fresh browser profile; warm: the same page loaded again
        rows = {"ours": [], "peer": []}
        charts = 0
        for _ in range(args.loads):
            for key, page in (("ours", out), ("peer", peer)):
                with chromium_session(tmp) as driver:
                    cold = open_report(driver, page)
                    warm = open_report(driver, page)
                for info in (cold, warm):
                    assert not info["console_errors"], info["console_errors"]
                    assert info["charts_rendered"] == info["charts_expected"]
                charts = max(charts, cold["charts_expected"]) if key == "ours" else charts
                rows[key].append((cold["first_paint"] or 0.0, cold["seconds"], cold["all_seconds"],
                                  warm["first_paint"] or 0.0, warm["seconds"], warm["all_seconds"]))
        med = {k: [statistics.median(col) for col in zip(*v)] for k, v in rows.items()}
        print(f"headless Chromium, median of {args.loads} (target: open < 3 s). 'paint' = first contentful paint "
              "(text and tables readable); 'open' = document complete and the charts on the first screen drawn "
              f"(the rest draw on scroll); 'all' = all {charts} charts drawn:")
        for label, key in (("ours", "ours"), ("peer: bare plotly page, 1 chart", "peer")):
            p, c, ca, wp, w, wa = med[key]
            print(f"  {label:<32} cold: paint {p:.2f} s, open {c:.2f} s, all {ca:.2f} s | "
                  f"warm: paint {wp:.2f} s, open {w:.2f} s, all {wa:.2f} s")
        print(f"  ratio ours/peer (open): cold {med['ours'][1] / med['peer'][1]:.2f}x, "
              f"warm {med['ours'][4] / med['peer'][4]:.2f}x")

if __name__ == "__main__":
    main()
