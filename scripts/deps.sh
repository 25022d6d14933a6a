#!/usr/bin/env bash
# Installs what mist needs to build and test on Debian 12 (run as root, or with sudo present).
set -euo pipefail
pkgs=(build-essential cmake pkg-config libopenblas-dev libgsl-dev libmsgpack-dev check
      python3-numpy python3-torch python3-sklearn gnuplot-nox libopenmpi-dev openmpi-bin)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi
