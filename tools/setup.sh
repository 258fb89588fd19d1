#!/usr/bin/env bash
# Set-up for a fresh Debian machine: the software WebGPU adapter when no Vulkan driver is present,
# then the npm dependencies. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

have_vulkan_driver() {
  ls /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json 2>/dev/null | grep -vq lvp
}

if [ ! -f /usr/lib/chromium/vk_swiftshader_icd.json ] && ! have_vulkan_driver; then
  echo "[setup] no Vulkan driver found: installing SwiftShader (libvulkan1 + chromium-common)"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libvulkan1 chromium-common
elif ! ldconfig -p 2>/dev/null | grep -q libvulkan.so.1; then
  echo "[setup] installing the Vulkan loader (libvulkan1)"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libvulkan1
fi

# Headless Chromium runs the browser page (wrn browser, the browser benchmark and its test).
if [ -z "${CHROMIUM_PATH:-}" ] && ! command -v chromium >/dev/null 2>&1; then
  echo "[setup] installing Debian's chromium (for the browser runner and its test)"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium
fi

# Fashion-MNIST, the default training data (Debian's package: four gzip IDX files under
# /usr/share/datasets/fashion-mnist/). Without apt, wrn train falls back to the embedded set.
if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  if command -v apt-get >/dev/null 2>&1; then
    echo "[setup] installing Fashion-MNIST (dataset-fashion-mnist)"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dataset-fashion-mnist
  else
    echo "[setup] no apt-get: Fashion-MNIST not installed; wrn train will use the embedded synthetic set"
  fi
fi

# Slurm and GNU parallel, for sweeps over many processes (wrn sweep slurm / --shard) and the test
# that runs a real single-node Slurm cluster (tools/slurm/start.sh). Optional: without apt the
# test fails saying what to install (WRN_TESTS_NO_SLURM=1 skips it, loudly).
if ! command -v sbatch >/dev/null 2>&1 || [ ! -x /usr/sbin/slurmctld ] || ! command -v parallel >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    echo "[setup] installing Slurm (slurmctld slurmd slurm-client munge) and GNU parallel"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge parallel
  else
    echo "[setup] no apt-get: Slurm and GNU parallel not installed; the Slurm test needs them (or WRN_TESTS_NO_SLURM=1 npm test)"
  fi
fi

if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
npm run build
echo "[setup] done"
