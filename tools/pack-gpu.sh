#!/usr/bin/env bash
# Pack a self-contained bundle for a Linux x86-64 machine with a GPU and no network: the built CLI,
# the webgpu package (linux-x64 Dawn only), this node binary, Debian's Vulkan loader (libvulkan1)
# and run.sh, which runs `wrn check`, `wrn bench kernels` and `wrn bench step` there.
#
#   npm run pack:gpu [-- --out bundle/wrn-gpu-bundle.tar.xz --no-build]
#
# On the GPU machine:  tar xJf wrn-gpu-bundle.tar.xz && wrn-gpu-bundle/run.sh [--quick] [--out DIR]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT="$ROOT/bundle/wrn-gpu-bundle.tar.xz"
BUILD=1
MAX_BYTES=$((64 * 1024 * 1024))

while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT=$(realpath -m "$2"); shift 2 ;;
    --no-build) BUILD=0; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "pack-gpu: unknown argument '$1' (known: --out FILE, --no-build)" >&2; exit 2 ;;
  esac
done

die() { echo "pack-gpu: $*" >&2; exit 1; }
[ "$(uname -m)" = x86_64 ] || die "packs the linux-x64 node binary and Dawn; this machine is $(uname -m)"
cd "$ROOT"

NODE=$(node -p 'process.execPath')
[ -x "$NODE" ] || die "cannot find the node binary in use ($NODE)"
if [ "$BUILD" = 1 ]; then
  echo "pack-gpu: building dist/ ..."
  node tools/build.mjs
fi
[ -f dist/cli.js ] || die "dist/cli.js is missing: run npm run build (or drop --no-build)"
DAWN=node_modules/webgpu/dist/linux-x64/dawn.node
[ -f "$DAWN" ] || die "$DAWN is missing: run npm install"
[ -d node_modules/pngjs ] || die "node_modules/pngjs is missing: run npm install"

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
STAGE="$WORK/wrn-gpu-bundle"
APP="$STAGE/app"
mkdir -p "$STAGE/bin" "$STAGE/debs" "$STAGE/lib-fallback" "$APP/dist" "$APP/node_modules/webgpu/dist/linux-x64" "$APP/node_modules/pngjs"

# The app: the bundled CLI (source maps left out to save space) and its two runtime packages.
cp dist/cli.js "$APP/dist/"
if ! node dist/cli.js bench --help >/dev/null 2>&1; then
  # This tree's CLI has no `bench` command yet: ship the bench command on its own.
  echo "pack-gpu: dist/cli.js has no 'bench' command; bundling tools/gpu-bundle/bench-entry.ts as dist/bench.js"
  npx --no-install esbuild tools/gpu-bundle/bench-entry.ts --bundle --platform=node --format=esm --target=es2022 \
    --loader:.wgsl=text --external:webgpu --external:pngjs --external:playwright-core --log-level=warning \
    "--banner:js=import { createRequire as __cr } from 'module'; const require = __cr(import.meta.url);" \
    --outfile="$APP/dist/bench.js"
fi
printf '{ "name": "wrn-webgpu-bundle", "private": true, "type": "module" }\n' > "$APP/package.json"
cp node_modules/webgpu/package.json node_modules/webgpu/index.js "$APP/node_modules/webgpu/"
cp node_modules/webgpu/LICENSE.md "$APP/node_modules/webgpu/" 2>/dev/null || true
cp "$DAWN" "$APP/node_modules/webgpu/dist/linux-x64/"
cp -r node_modules/pngjs/package.json node_modules/pngjs/lib "$APP/node_modules/pngjs/"
cp node_modules/pngjs/LICENSE "$APP/node_modules/pngjs/" 2>/dev/null || true

# Node itself, and the C++ runtime it links against (used there only if the system's is too old).
cp "$NODE" "$STAGE/bin/node"
for lib in libstdc++.so.6 libgcc_s.so.1; do
  path=$(ldd "$NODE" | awk -v l="$lib" '$1 == l { print $3 }')
  [ -n "$path" ] && cp -L "$path" "$STAGE/lib-fallback/$lib"
done

# Debian's Vulkan loader (amd64); from the apt cache when there is no network.
( cd "$STAGE/debs" && apt-get download libvulkan1:amd64 >/dev/null 2>&1 ) || true
if ! ls "$STAGE"/debs/libvulkan1_*_amd64.deb >/dev/null 2>&1; then
  cached=$(ls /var/cache/apt/archives/libvulkan1_*_amd64.deb 2>/dev/null | tail -1 || true)
  [ -n "$cached" ] || die "could not get libvulkan1 (apt-get download libvulkan1:amd64 failed and the apt cache has none)"
  cp "$cached" "$STAGE/debs/"
fi

cp tools/gpu-bundle/run.sh "$STAGE/run.sh"
chmod +x "$STAGE/run.sh" "$STAGE/bin/node"
commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
if [ "$commit" != unknown ] && [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then commit="$commit-dirty"; fi
echo "$commit" > "$STAGE/COMMIT"
{
  echo "packed $(date -u +%Y-%m-%dT%H:%M:%SZ) from commit $commit"
  echo "node $("$NODE" --version), webgpu $(node -p "require('./node_modules/webgpu/package.json').version"), $(basename "$STAGE"/debs/*.deb)"
} > "$STAGE/PACKED"

mkdir -p "$(dirname "$OUT")"
echo "pack-gpu: compressing (xz) ..."
tar -C "$WORK" --owner=0 --group=0 -cf - wrn-gpu-bundle | xz -T0 -9 > "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
bytes=$(stat -c %s "$OUT")
echo "pack-gpu: $OUT: $((bytes / 1024 / 1024)) MiB ($bytes bytes; unpacked $(du -sh "$STAGE" | cut -f1))"
[ "$bytes" -lt "$MAX_BYTES" ] || die "$OUT is $bytes bytes, over the 64 MiB limit"
echo "pack-gpu: on the GPU machine: tar xJf $(basename "$OUT") && wrn-gpu-bundle/run.sh [--quick] [--out DIR]"
