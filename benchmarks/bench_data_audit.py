"""The data audit (crome-audit data) of the real preference files and of the offline Crome recipe's synthetic
set built from them: shallow AUC and top features overall and per causal family (issue 18, parts 1-2).

    python benchmarks/bench_data_audit.py                       # HH-RLHF harmless + UltraFeedback, minilm-crome
    python benchmarks/bench_data_audit.py --json out.json       # also keep every number
    python benchmarks/bench_data_audit.py --neutral-edits on    # with augment.neutral_edits (issue 18, part 2)

Data: ../shared/data (CROME_AUDIT_DATA overrides). The synthetic set is the augment stage of the recipe's
augment section on all pairs of each file (the pipeline augments its 90 % training split). CPU, ~1 min.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from crome_audit.data import load_pairs
from crome_audit.data_audit import audit_pairs, format_table
from crome_audit.train.augment import augment_pairs
from crome_audit.train.config import load_config
from crome_audit.train.rubrics import build_rubrics

DATA = Path(os.environ.get("CROME_AUDIT_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
FILES = {"hh-rlhf harmless": "hh-rlhf/harmless-base-test.jsonl.gz", "ultrafeedback": "ultrafeedback/train_1000.jsonl"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--recipe", default="minilm-crome")
    ap.add_argument("--json", default=None)
    ap.add_argument("--neutral-edits", choices=("recipe", "on", "off"), default="recipe",
                    help="augment.neutral_edits: as the recipe says, or forced on / off")
    args = ap.parse_args()
    os.environ.setdefault("CROME_AUDIT_DATA", str(DATA))
    cfg = load_config(args.recipe).augment
    if args.neutral_edits != "recipe":
        cfg.neutral_edits = args.neutral_edits == "on"
    everything = {}
    for name, rel in FILES.items():
        t0 = time.perf_counter()
        pairs, _ = load_pairs(str(DATA / rel), skip_invalid=True)
        rubrics, _ = build_rubrics(pairs, cfg)
        synthetic, counts = augment_pairs("crome", pairs, rubrics, cfg)
        data_result = audit_pairs(pairs)
        synth_result = audit_pairs(synthetic)
        print(format_table(data_result, f"{name}: the data"))
        print(format_table(synth_result, f"{name}: offline synthetic set ({args.recipe})"))
        print(f"({time.perf_counter() - t0:.1f} s)\n")
        everything[name] = {"data": data_result, "synthetic": synth_result, "augment_counts": counts}
    if args.json:
        Path(args.json).write_text(json.dumps(everything, indent=1))


if __name__ == "__main__":
    main()
