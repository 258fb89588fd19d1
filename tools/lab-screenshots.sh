#!/usr/bin/env bash
# Screenshots of every lab view at 1280 and 400 px (docs/lab/VIEW-WIDTH.png), each view run once
# in headless Chromium at the size the README's table names, and the time each took
# (docs/lab/times.md). Usage: tools/lab-screenshots.sh (after npm run build).
set -euo pipefail
cd "$(dirname "$0")/.."
out=docs/lab
mkdir -p "$out"
# view | query (the view's form defaults where empty)
views=(
  "adapter|"
  "check|"
  "kernels|"
  "step|"
  "tune|"
  "train|maxSteps=100"
)
{
  echo "Made by \`tools/lab-screenshots.sh\` on $(date -u +%Y-%m-%d) (headless Chromium, WebGPU on SwiftShader; load average before: $(cut -d' ' -f1-3 /proc/loadavg))."
  echo
  echo "| view | settings (query) | time in the page |"
  echo "| --- | --- | --- |"
} > "$out/times.md.tmp"
for entry in "${views[@]}"; do
  view=${entry%%|*}
  query=${entry#*|}
  json=$(node bin/wrn.js browser --task "$view" ${query:+--query "$query"} --timeout 900 --json --screenshot "$out/$view.png" --widths 1280,400 | sed -n '/^{/,/^}/p')
  ms=$(printf '%s' "$json" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s);if(r.error){console.error(r.error);process.exit(1)}console.log(r.ms)})')
  echo "| $view | ${query:-form defaults} | $(awk -v ms="$ms" 'BEGIN{printf "%.1f s", ms/1000}') |" >> "$out/times.md.tmp"
  echo "$view: $ms ms"
done
mv "$out/times.md.tmp" "$out/times.md"
cat "$out/times.md"
