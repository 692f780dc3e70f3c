"""crome-audit from Python: audit a reward model, run a benchmark, compare runs in one report.

    python examples/library_api.py                         # the model-free 'length' RM, bundled sample (CPU, ~10 s)
    python examples/library_api.py ./my-rm reports/mine    # any --rm spec: folder, hub id, vllm:URL, judge:URL, dpo:...

Every function returns the plain-data results.json the CLI writes (docs/results.md), so what you see here is
what `crome-audit run` / `bench` / `report` produce.
"""

import sys
from pathlib import Path

from crome_audit import audit, load_rm, render_report, run_benchmark

spec = sys.argv[1] if len(sys.argv) > 1 else "length"
out = Path(sys.argv[2] if len(sys.argv) > 2 else "reports/library-example")

# 1. the probe audit (== crome-audit run --rm SPEC --suite quick --out OUT/audit)
results = audit(spec, suite="quick", limit=100, out=out / "audit")
s = results["summary"]
print(f"{results['rm']['name']}: spurious_index {s['spurious_index']}, causal_index {s['causal_index']}, "
      f"pairwise accuracy {results['clean']['pairwise_accuracy']}")
for probe in results["probes"]:
    print(f"  {probe['kind']:<8} {probe['name']:<22} n={probe['n']:<4} effect={probe['effect_size']}")

# 2. a loaded model can be reused: options are checked like --rm-arg (a typo gets a did-you-mean)
rm = load_rm(spec)
print("reward of one answer:", rm.score(["What is 2 + 2?"], ["2 + 2 = 4."])[0])

# 3. a benchmark (== crome-audit bench rewardbench), on RewardBench data when it is here
data = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "rewardbench" / "filtered.jsonl"
runs = [results]
if data.is_file():
    rb = run_benchmark("rewardbench", rm, data=str(data), options={"subsets": "xstest-should-refuse,hep-python"},
                       out=out / "rewardbench")
    print("RewardBench (2 subsets):", rb["benchmarks"]["rewardbench"]["score"])
    runs.append(rb)

# 4. one HTML report over every run (== crome-audit report DIR ... -o FILE)
print("report:", render_report(runs, out / "report.html"))
