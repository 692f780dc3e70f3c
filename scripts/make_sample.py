"""Rebuild crome_audit/assets/sample_pairs.jsonl from ../shared/data (run from the repo root).

    python scripts/make_sample.py

A small, license-compatible (MIT / CC-BY-4.0) sample of real preference pairs covering chat,
safety refusals, math and code, so every probe family applies. See crome_audit/assets/SOURCE.md.
"""

import gzip
import json
import random
from pathlib import Path

SHARED = Path("../shared/data")
OUT = Path("crome_audit/assets/sample_pairs.jsonl")
TAKE = {"llmbar-natural": 40, "xstest-should-refuse": 25, "xstest-should-respond": 25, "math-prm": 30,
        "hep-python": 30}
HH_TAKE = 50
MAX_CHARS = 2500


def main():
    rng = random.Random(0)
    rows = [json.loads(line) for line in open(SHARED / "rewardbench/filtered.jsonl", encoding="utf-8")]
    out = []
    for subset, k in TAKE.items():
        pool = [r for r in rows if r["subset"] == subset and len(r["chosen"]) + len(r["rejected"]) < MAX_CHARS]
        for r in sorted(rng.sample(pool, k), key=lambda r: r["id"]):
            out.append({"id": f"rb-{subset}-{r['id']}", "source": f"rewardbench/{subset}", "prompt": r["prompt"],
                        "chosen": r["chosen"], "rejected": r["rejected"]})
    hh = [json.loads(line) for line in gzip.open(SHARED / "hh-rlhf/harmless-base-test.jsonl.gz", "rt")]
    single = [(i, r) for i, r in enumerate(hh) if r["chosen"].count("\n\nHuman:") == 1
              and len(r["chosen"]) + len(r["rejected"]) < MAX_CHARS]
    for i, r in sorted(rng.sample(single, HH_TAKE)):
        cut_c, cut_r = r["chosen"].rfind("\n\nAssistant:"), r["rejected"].rfind("\n\nAssistant:")
        prompt = r["chosen"][:cut_c].replace("\n\nHuman:", "", 1).strip()
        chosen, rejected = r["chosen"][cut_c + 12:].strip(), r["rejected"][cut_r + 12:].strip()
        if chosen and rejected and chosen != rejected:
            out.append({"id": f"hh-harmless-test-{i}", "source": "hh-rlhf/harmless-base-test", "prompt": prompt,
                        "chosen": chosen, "rejected": rejected})
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as f:
        for r in out:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"wrote {len(out)} pairs to {OUT}")


if __name__ == "__main__":
    main()
