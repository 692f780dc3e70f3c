#!/usr/bin/env bash
# What a newcomer does: fresh clone, new virtual environment, the README's two commands exactly as written.
#   bash benchmarks/newcomer.sh [REPO_URL_OR_PATH]      # default: this checkout (its committed HEAD)
# The two commands are read from the README's "Set-up" section (the first two ```bash blocks), so this
# script follows the README instead of repeating it. Output goes to stdout; record the last run's output
# in benchmarks/RESULTS.md. Needs the package registries (PyPI) and, for the tests, ../shared/data next to
# the clone (linked in when present).
set -euo pipefail
SRC="${1:-$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)}"
WORK="$(mktemp -d /tmp/newcomer.XXXXXX)"
echo "newcomer: cloning $SRC into $WORK/crome-audit ($(date -u +%FT%TZ))"
git clone --quiet "$SRC" "$WORK/crome-audit"
if [ -d "$SRC/../shared" ] && [ ! -e "$WORK/shared" ]; then ln -s "$(cd "$SRC/../shared" && pwd)" "$WORK/shared"; fi
cd "$WORK/crome-audit"
python3 -m venv "$WORK/venv"
# shellcheck disable=SC1091
source "$WORK/venv/bin/activate"
mapfile -t CMDS < <(awk '/^## Set-up/{s=1} s&&/^```bash/{b=1;next} s&&b&&/^```/{b=0;n++; if(n==2) exit} s&&b{print}' README.md)
[ "${#CMDS[@]}" -ge 2 ] || { echo "newcomer: could not find two commands in the README's Set-up section"; exit 1; }
for c in "${CMDS[@]}"; do
  echo "newcomer: \$ $c"
  start=$(date +%s)
  bash -c "$c"
  echo "newcomer: exit 0 after $(( $(date +%s) - start )) s"
done
echo "newcomer: done; clone and venv in $WORK"
