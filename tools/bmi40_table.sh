#!/usr/bin/env bash
# The classical estimators on the bmi40 suite: one Markdown row per task, true MI beside
# ksg1, ksg2, gaussian, histogram, kde. usage: tools/bmi40_table.sh MIST N SEED OUTDIR
set -euo pipefail
MIST=${1:-build/mist}; N=${2:-5000}; SEED=${3:-0}; OUT=${4:-out/bmi40-$N}
methods=(ksg1 ksg2 gaussian histogram kde)
"$MIST" gen --suite bmi40 --n "$N" --seeds "$SEED-$SEED" --threads 2 -o "$OUT" --quiet
printf '| # | task | dims | true MI |'; printf ' %s |' "${methods[@]}"; printf '\n'
printf '|---|---|---|---|'; printf -- '---|%.0s' "${methods[@]}"; printf '\n'
tail -n +2 "$OUT/manifest.csv" | while IFS=, read -r id task dx dy n seed mi file params; do
  printf '| %s | %s %s | %sx%s | %.3f |' "${id##*-}" "$task" "$params" "$dx" "$dy" "$mi"
  for m in "${methods[@]}"; do
    v=$("$MIST" estimate "$OUT/$file" --method "$m" --json 2>/dev/null |
        sed -n 's/.*"estimate": \([^,]*\),.*/\1/p') || v=""
    [ -n "$v" ] && printf ' %.3f |' "$v" || printf ' error |'
  done
  printf '\n'
done
