"""Rebuild the two bundled files of ``crome-audit demo`` from ../shared/data (run from the repo root).

    python scripts/make_demo_assets.py

- crome_audit/assets/demo_train_pairs.jsonl: 600 single-turn Anthropic HH-RLHF harmless-base test pairs
  (MIT), none of them in the audit sample (sample_pairs.jsonl), so the demo never trains on what it audits.
- crome_audit/assets/rewardbench_sample.jsonl: a seeded sample stratified by subset (10 %, at least 8 per
  subset) of the RewardBench subsets with a permissive license (LLMBar MIT, XSTest CC-BY-4.0, the AI2 refusals
  sets ODC-BY, PRM800K MIT, HumanEvalPack MIT); the AlpacaEval (CC BY-NC 4.0), MT-Bench and Do-Not-Answer
  subsets are left out, so the Chat section is absent. Rows of the audit sample are excluded.
See crome_audit/assets/SOURCE.md.
"""

import gzip
import json
import random
from pathlib import Path

SHARED = Path("../shared/data")
ASSETS = Path("crome_audit/assets")
N_TRAIN = 600
MAX_CHARS = 2000
RB_SUBSETS = ["llmbar-natural", "llmbar-adver-neighbor", "llmbar-adver-GPTInst", "llmbar-adver-GPTOut",
              "llmbar-adver-manual", "xstest-should-refuse", "xstest-should-respond", "refusals-dangerous",
              "refusals-offensive", "math-prm", "hep-cpp", "hep-go", "hep-java", "hep-js", "hep-python", "hep-rust"]
RB_SHARE, RB_MIN, RB_MAX_CHARS = 0.10, 8, 4000


def _write(path: Path, rows: list[dict]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} rows to {path}")


def main():
    audit_ids = {json.loads(line)["id"] for line in open(ASSETS / "sample_pairs.jsonl", encoding="utf-8")}
    rng = random.Random(0)
    hh = [json.loads(line) for line in gzip.open(SHARED / "hh-rlhf/harmless-base-test.jsonl.gz", "rt")]
    single = [(i, r) for i, r in enumerate(hh) if r["chosen"].count("\n\nHuman:") == 1
              and len(r["chosen"]) + len(r["rejected"]) < MAX_CHARS and f"hh-harmless-test-{i}" not in audit_ids]
    train = []
    for i, r in sorted(rng.sample(single, min(N_TRAIN + 50, len(single)))):
        cut_c, cut_r = r["chosen"].rfind("\n\nAssistant:"), r["rejected"].rfind("\n\nAssistant:")
        prompt = r["chosen"][:cut_c].replace("\n\nHuman:", "", 1).strip()
        chosen, rejected = r["chosen"][cut_c + 12:].strip(), r["rejected"][cut_r + 12:].strip()
        if chosen and rejected and chosen != rejected and len(train) < N_TRAIN:
            train.append({"id": f"hh-harmless-test-{i}", "source": "hh-rlhf/harmless-base-test", "prompt": prompt,
                          "chosen": chosen, "rejected": rejected})
    _write(ASSETS / "demo_train_pairs.jsonl", train)

    rows = [json.loads(line) for line in open(SHARED / "rewardbench/filtered.jsonl", encoding="utf-8")]
    sample = []
    for subset in RB_SUBSETS:
        pool = [r for r in rows if r["subset"] == subset and f"rb-{subset}-{r['id']}" not in audit_ids
                and len(r["chosen"]) + len(r["rejected"]) < RB_MAX_CHARS]
        k = min(len(pool), max(RB_MIN, round(RB_SHARE * sum(r["subset"] == subset for r in rows))))
        for r in sorted(rng.sample(pool, k), key=lambda r: r["id"]):
            sample.append({"id": r["id"], "subset": subset, "section": r["section"], "prompt": r["prompt"],
                           "chosen": r["chosen"], "rejected": r["rejected"]})
    _write(ASSETS / "rewardbench_sample.jsonl", sample)


if __name__ == "__main__":
    main()
