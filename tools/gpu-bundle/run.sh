#!/usr/bin/env bash
# Run the wrn-webgpu checks and benchmarks on this machine's GPU, offline, from the unpacked bundle
# (tools/pack-gpu.sh). Needs only Linux x86-64 and a GPU driver with Vulkan (NVIDIA: its ICD,
# nvidia_icd.json, and libGLX_nvidia.so.0); node, Dawn and the Vulkan loader come with the bundle.
#
#   ./run.sh [--quick] [--out DIR] [--skip-tune] [--skip-check] [--skip-step] [--only KERNELS] [--batch N] [--versions]
#
# Runs, in this order (budget on a datacenter GPU, most of it Dawn's shader compiles: 8 minutes in all):
#   `wrn tune` for WRN-16-1 at batch 32 and WRN-16-4 at batch 64 (~1 min each): every conv
#     implementation checked against the CPU reference and timed; the choices go to DIR/tuning.json,
#     which every later part uses (WRN_TUNING_CACHE);
#   `wrn check` (~1 min); `wrn bench kernels` (~1 min);
#   `wrn bench step --depth 16 --width 1 --batch 32` (BN's cost, ~1 min) and
#   `wrn bench step --depth 16 --width 4 --batch 64` (~2 min)
# (--quick: the small versions); --versions also times every kernel version side by side
# (`wrn bench kernels --versions all`: the data for tuning the 'gpu' profile).
#
# Writes DIR (default ./results next to this script): run.log, the kernel and step results
# (JSON + PNG). Exit status: 0 when every part succeeded, else 1 (each part still runs).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT="$HERE/results"
QUICK=()
SKIP_CHECK=0
SKIP_TUNE=0
SKIP_STEP=0
KERNEL_ARGS=()
STEP_ARGS=()
VERSIONS=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=(--quick); shift ;;
    --out) OUT=$(realpath -m "$2"); shift 2 ;;
    --skip-check) SKIP_CHECK=1; shift ;;
    --skip-tune) SKIP_TUNE=1; shift ;;
    --skip-step) SKIP_STEP=1; shift ;;
    --only) KERNEL_ARGS+=(--only "$2"); shift 2 ;;
    --batch) KERNEL_ARGS+=(--batch "$2"); STEP_ARGS+=(--batch "$2"); shift 2 ;;
    --versions) VERSIONS=1; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument '$1' (see ./run.sh --help)" >&2; exit 2 ;;
  esac
done
mkdir -p "$OUT" || { echo "run.sh: cannot create $OUT" >&2; exit 1; }
exec > >(tee -a "$OUT/run.log") 2>&1
say() { echo "[run.sh] $*"; }
say "$(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname), bundle: $(cat "$HERE/PACKED" 2>/dev/null | tr '\n' ' ')"

# Scratch space: next to the bundle, or in $TMPDIR when the bundle's directory is read-only.
WORK="$HERE/.runtime"
mkdir -p "$WORK" 2>/dev/null && [ -w "$WORK" ] || WORK=$(mktemp -d "${TMPDIR:-/tmp}/wrn-bundle.XXXXXX")

# 1. The Vulkan loader from the bundled libvulkan1 .deb, unpacked locally (nothing installed system-wide).
DEB=$(ls "$HERE"/debs/libvulkan1_*_amd64.deb 2>/dev/null | head -1)
VKROOT="$WORK/vulkan-root"
if [ ! -e "$VKROOT/usr/lib/x86_64-linux-gnu/libvulkan.so.1" ]; then
  rm -rf "$VKROOT" && mkdir -p "$VKROOT"
  if [ -z "$DEB" ]; then
    say "WARNING: no libvulkan1 .deb in the bundle; relying on the system's libvulkan.so.1"
  elif command -v dpkg-deb >/dev/null; then
    dpkg-deb -x "$DEB" "$VKROOT"
  elif command -v dpkg >/dev/null; then
    dpkg -x "$DEB" "$VKROOT"
  elif command -v ar >/dev/null; then
    ( cd "$WORK" && ar x "$DEB" data.tar.xz && tar -xJf data.tar.xz -C "$VKROOT" && rm -f data.tar.xz )
  else
    say "WARNING: neither dpkg nor ar is available to unpack $DEB; relying on the system's libvulkan.so.1"
  fi
fi
if [ -e "$VKROOT/usr/lib/x86_64-linux-gnu/libvulkan.so.1" ]; then
  export LD_LIBRARY_PATH="$VKROOT/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  say "Vulkan loader: $(basename "$DEB") unpacked in $VKROOT"
fi

# 2. The NVIDIA Vulkan driver (ICD), unless the caller chose one with VK_DRIVER_FILES / VK_ICD_FILENAMES.
if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ]; then
  ICD=""
  for f in /usr/share/vulkan/icd.d/nvidia_icd.json /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json /usr/local/share/vulkan/icd.d/nvidia_icd.json; do
    if [ -f "$f" ]; then ICD="$f"; break; fi
  done
  if [ -z "$ICD" ]; then
    # Containers often mount the driver's libraries without the ICD file: write one.
    GLX=$(ldconfig -p 2>/dev/null | awk '/libGLX_nvidia\.so\.0/ { print $NF; exit }')
    for d in /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/local/nvidia/lib64 /usr/lib; do
      [ -z "$GLX" ] && [ -e "$d/libGLX_nvidia.so.0" ] && GLX="$d/libGLX_nvidia.so.0"
    done
    if [ -n "$GLX" ]; then
      ICD="$WORK/nvidia_icd.json"
      printf '{ "file_format_version": "1.0.0", "ICD": { "library_path": "%s", "api_version": "1.3.0" } }\n' "$GLX" > "$ICD"
      say "no nvidia_icd.json installed; wrote $ICD for $GLX"
    fi
  fi
  if [ -n "$ICD" ]; then
    export VK_DRIVER_FILES="$ICD" VK_ICD_FILENAMES="$ICD"
    say "Vulkan driver: $ICD"
  else
    say "no NVIDIA Vulkan driver found (no nvidia_icd.json, no libGLX_nvidia.so.0): the system's Vulkan drivers (or SwiftShader) will be used"
  fi
else
  say "Vulkan driver chosen by the caller: ${VK_DRIVER_FILES:-$VK_ICD_FILENAMES}"
fi
command -v nvidia-smi >/dev/null && nvidia-smi -L 2>/dev/null | sed 's/^/[run.sh] /'

# 3. Node: the bundled binary, with the bundled C++ runtime only if the system's does not satisfy it.
NODE="$HERE/bin/node"
if ! "$NODE" --version >/dev/null 2>&1; then
  export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$HERE/lib-fallback"
  "$NODE" --version >/dev/null 2>&1 || { say "the bundled node does not run here:"; "$NODE" --version; exit 1; }
  say "using the bundled libstdc++/libgcc_s"
fi
say "node $("$NODE" --version)"
export WRN_COMMIT
WRN_COMMIT=$(cat "$HERE/COMMIT" 2>/dev/null || echo unknown)

cd "$HERE/app"
if [ -f dist/bench.js ]; then BENCH=("$NODE" dist/bench.js); else BENCH=("$NODE" dist/cli.js bench); fi
status=0
run() {
  say "\$ $*"
  local t0=$SECONDS
  "$@"
  local rc=$?
  say "exit $rc after $((SECONDS - t0)) s"
  [ $rc -eq 0 ] || status=1
}
export WRN_TUNING_CACHE="$OUT/tuning.json"
if [ "$SKIP_TUNE" = 0 ]; then
  if [ ${#QUICK[@]} -eq 0 ]; then
    run "$NODE" dist/cli.js tune --depth 16 --width 1 --batch 32
    run "$NODE" dist/cli.js tune --depth 16 --width 4 --batch 64
  else
    run "$NODE" dist/cli.js tune --depth 10 --width 1 --batch 2 --rounds 1
  fi
fi
[ "$SKIP_CHECK" = 1 ] || run "$NODE" dist/cli.js check
# (${a[@]+"${a[@]}"}: an empty array under set -u on bash < 4.4)
run "${BENCH[@]}" kernels ${QUICK[@]+"${QUICK[@]}"} ${KERNEL_ARGS[@]+"${KERNEL_ARGS[@]}"} --out "$OUT"
[ "$VERSIONS" = 1 ] && run "${BENCH[@]}" kernels ${QUICK[@]+"${QUICK[@]}"} ${KERNEL_ARGS[@]+"${KERNEL_ARGS[@]}"} --versions all --out "$OUT"
if [ "$SKIP_STEP" = 0 ]; then
  # WRN-16-4 at batch 64 unless --quick or --batch say otherwise (later flags win).
  # BN's cost at the size the README reports it for this adapter, then the WRN-16-4 step.
  [ ${#QUICK[@]} -eq 0 ] && run "${BENCH[@]}" step --depth 16 --width 1 --batch 32 --out "$OUT"
  [ ${#QUICK[@]} -eq 0 ] && STEP_ARGS=(--depth 16 --width 4 --batch 64 ${STEP_ARGS[@]+"${STEP_ARGS[@]}"})
  run "${BENCH[@]}" step ${QUICK[@]+"${QUICK[@]}"} ${STEP_ARGS[@]+"${STEP_ARGS[@]}"} --out "$OUT"
fi
say "results in $OUT:"
ls -1 "$OUT" | sed 's/^/[run.sh]   /'
exit $status
