#!/usr/bin/env bash
# Rebuild the gallery: four real runs on the bundled sample pairs (+ RewardBench / reWordBench from
# ../shared/data/rewardbench), one comparison report, and its screenshots in headless Chromium.
#   bash reports/gallery/make_gallery.sh [WORK_DIR]        (run from the repository root; ~10 min on 2 CPU cores)
set -euo pipefail
WORK=${1:-/tmp/crome-gallery}
RB=${RB:-../shared/data/rewardbench/filtered.jsonl}
export PYTHONPATH=$PWD
mkdir -p "$WORK"
BENCH=(--benchmarks rewardbench,rewordbench --bench-data "rewardbench=$RB" --bench-data "rewordbench=$RB")
crome-audit run --rm length "${BENCH[@]}" --out "$WORK/length" --quiet
crome-audit run --rm py:tests.style_blind_rm:score "${BENCH[@]}" --out "$WORK/py" --quiet
python -c "from tests.tiny_models import build_tiny_encoder_rm as b; b('$WORK/tiny-encoder-rm')"
crome-audit run --rm "$WORK/tiny-encoder-rm" --benchmarks rewardbench --bench-data "rewardbench=$RB" \
    --out "$WORK/tiny" --quiet
crome-audit train --config train/tiny-crome.yaml --out "$WORK/tiny-crome"
crome-audit run --rm "$WORK/tiny-crome" --benchmarks rewardbench --bench-data "rewardbench=$RB" \
    --out "$WORK/tiny-crome-run" --quiet
crome-audit report "$WORK/length" "$WORK/py" "$WORK/tiny" "$WORK/tiny-crome-run" -o "$WORK/gallery.html" \
    --title "crome-audit gallery: length vs style-blind py: RM vs tiny BERT RMs (random init, Crome-trained)"
python reports/gallery/screenshot.py "$WORK/gallery.html" reports/gallery
