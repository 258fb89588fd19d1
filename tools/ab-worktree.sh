#!/usr/bin/env bash
# Interleaved A/B of one wrn command: BASE (any commit, built in its own git worktree) against this
# checkout's build, A,B,A,B over ROUNDS rounds, so that the host's drift (SwiftShader's speed wanders
# ~2x between sessions) falls on both sides alike. Each run's output goes to OUT/<base|head>/round-N.log
# and one line per run to OUT/runs.tsv: round, side, commit, wall seconds, 1-minute load average
# before and after. In the command, {out} becomes OUT/<base|head>/round-N (a run's own directory).
# Where BASE's command line differs (a flag it does not have yet), give its own after `---`.
#
#   tools/ab-worktree.sh 82c32f8 4 bench/results/conv-ab/step -- bench step --depth 16 --width 1 --out {out}
#   tools/ab-worktree.sh 82c32f8 4 OUT -- bench step --rounds 1 --steps 6 --out {out} --- bench step --steps 6 --out {out}
#
# The worktree lives beside the checkout (../wrn-ab-<sha>, or $WRN_AB_WORKTREES/<sha>) and is reused;
# it shares this checkout's node_modules when the lock files match, else installs its own.
set -euo pipefail

usage() { echo "usage: tools/ab-worktree.sh BASE ROUNDS OUT -- WRN_ARGS... [--- BASE_WRN_ARGS...] ({out} in the args: the run's own directory)" >&2; exit 2; }
[ $# -ge 5 ] || usage
base=$1 rounds=$2 out=$3
[ "$4" = "--" ] || usage
shift 4
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "ab-worktree: ROUNDS must be a positive integer, got '$rounds'" >&2; exit 2; }

root=$(git rev-parse --show-toplevel)
cd "$root"
sha=$(git rev-parse --verify --quiet "$base^{commit}") || { echo "ab-worktree: BASE '$base' is not a commit of this repository" >&2; exit 2; }
head_sha=$(git rev-parse --short=12 HEAD)
[ -z "$(git status --porcelain --untracked-files=no)" ] || head_sha="$head_sha+modified"
[ -f dist/cli.js ] || { echo "ab-worktree: dist/cli.js is missing here: run npm run build first" >&2; exit 2; }

wt=${WRN_AB_WORKTREES:-$root/..}/wrn-ab-${sha:0:12}
if [ ! -f "$wt/dist/cli.js" ]; then
  [ -d "$wt" ] || git worktree add --detach "$wt" "$sha" >/dev/null
  if cmp -s package-lock.json "$wt/package-lock.json"; then
    [ -e "$wt/node_modules" ] || ln -s "$root/node_modules" "$wt/node_modules"
  else
    (cd "$wt" && npm ci --no-audit --no-fund >/dev/null)
  fi
  (cd "$wt" && node tools/build.mjs >/dev/null)
fi

mkdir -p "$out/base" "$out/head"
runs="$out/runs.tsv"
[ -f "$runs" ] || printf 'round\tside\tcommit\tseconds\tload_before\tload_after\tcommand\n' > "$runs"
load() { cut -d' ' -f1 /proc/loadavg; }

run_side() { # side round
  local side=$1 r=$2 dir cli commit args=() a given
  if [ "$side" = base ]; then cli="$wt/dist/cli.js" commit=${sha:0:12} given=("${BASE_ARGS[@]}"); else cli="$root/dist/cli.js" commit=$head_sha given=("${ARGS[@]}"); fi
  # Both run from this checkout's root (relative paths mean the same); WRN_COMMIT names the code that ran.
  dir="$out/$side/round-$r"
  for a in "${given[@]}"; do args+=("${a//\{out\}/$dir}"); done
  local l0 t0 t1
  l0=$(load); t0=$(date +%s.%N)
  WRN_COMMIT=$commit node "$cli" "${args[@]}" > "$dir.log" 2>&1 || { echo "ab-worktree: $side round $r failed (exit $?): see $dir.log" >&2; exit 1; }
  t1=$(date +%s.%N)
  printf '%s\t%s\t%s\t%.1f\t%s\t%s\twrn %s\n' "$r" "$side" "$commit" "$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')" "$l0" "$(load)" "${given[*]}" >> "$runs"
  echo "round $r $side ($commit): $(tail -n 1 "$runs" | cut -f4) s"
}

ARGS=() BASE_ARGS=()
while [ $# -gt 0 ] && [ "$1" != "---" ]; do ARGS+=("$1"); shift; done
if [ $# -gt 0 ]; then shift; BASE_ARGS=("$@"); else BASE_ARGS=("${ARGS[@]}"); fi
[ ${#ARGS[@]} -gt 0 ] && [ ${#BASE_ARGS[@]} -gt 0 ] || usage
for r in $(seq 1 "$rounds"); do
  run_side base "$r"
  run_side head "$r"
done
