#!/usr/bin/env bash
# Rebuild the gallery: two tiny RMs (tiny Bradley-Terry vs tiny Crome, both trained here from the shipped
# recipes), audited on the bundled sample pairs (+ RewardBench from ../shared/data/rewardbench), one
# comparison report, and its screenshots at 1,400 px and 420 px in headless Chromium. Then a second report of
# two control RMs with known answers on 400 real RewardBench rows (crome_audit/controls.py: a style-blind
# quality proxy vs the same proxy plus a markdown bonus), so the gallery also shows verdict sentences.
#   bash reports/gallery/make_gallery.sh [WORK_DIR]        (run from the repository root; a few minutes on 2 CPU cores)
set -euo pipefail
WORK=${1:-/tmp/crome-gallery}
RB=${RB:-../shared/data/rewardbench/filtered.jsonl}
export PYTHONPATH=$PWD HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
export CROME_AUDIT_CACHE=${CROME_AUDIT_CACHE:-$WORK/scores.sqlite}
mkdir -p "$WORK"
CA=(python -m crome_audit)
for method in bt crome; do
  [ -f "$WORK/tiny-$method/crome_training.json" ] || "${CA[@]}" train --config "train/tiny-$method.yaml" --out "$WORK/tiny-$method"
  "${CA[@]}" run --rm "$WORK/tiny-$method" --benchmarks rewardbench --bench-data "rewardbench=$RB" \
      --out "$WORK/$method" --quiet --no-report
done
"${CA[@]}" report "$WORK/bt" "$WORK/crome" -o "$WORK/gallery.html" \
    --title "crome-audit gallery: tiny Bradley-Terry RM vs tiny Crome RM (the demo recipes)"
python reports/gallery/screenshot.py "$WORK/gallery.html" reports/gallery gallery

export CROME_AUDIT_CONTROL_REFERENCE=$RB
for control in style_blind markdown_bonus; do
  "${CA[@]}" run --rm "py:crome_audit.controls:$control" --data "$RB" --limit 400 --out "$WORK/$control" \
      --quiet --no-report
done
"${CA[@]}" report "$WORK/style_blind" "$WORK/markdown_bonus" -o "$WORK/controls.html" \
    --title "crome-audit gallery: control RMs on 400 RewardBench rows (style-blind vs + markdown bonus)"
python reports/gallery/screenshot.py "$WORK/controls.html" reports/gallery controls

# The README's first command: MiniLM-L6 BT vs Crome from `crome-audit demo` (about 7 minutes on 2 CPU cores;
# reused when DEMO already holds a finished run).
DEMO=${DEMO:-reports/demo}
[ -f "$DEMO/report.html" ] || "${CA[@]}" demo --out "$DEMO" --quiet
python reports/gallery/screenshot.py "$DEMO/report.html" reports/gallery demo
