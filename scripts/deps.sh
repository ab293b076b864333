#!/usr/bin/env bash
# Installs the Debian packages the project needs, when they are missing.
# As root it runs apt-get; otherwise it uses sudo, or prints the command to run.
set -euo pipefail

packages=(g++ make libopenblas-openmp-dev libhwy-dev libstb-dev doctest-dev zlib1g-dev libcli11-dev
          dataset-fashion-mnist gnuplot-nox openmpi-bin libopenmpi-dev python3-onnx python3-opencv)
# qemu-x86_64 runs the portability test (tests/test_fast_portable.cpp) as older x86-64 CPUs.
[ "$(uname -m)" = x86_64 ] && packages+=(qemu-user)
[ "${WITH_TORCH:-0}" = 1 ] && packages+=(python3-torch)

missing=()
for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
cmd=(env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}")
if [ "$(id -u)" -eq 0 ]; then
    apt-get update -q >&2
    "${cmd[@]}" >&2
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo apt-get update -q >&2
    sudo "${cmd[@]}" >&2
else
    echo "deps: missing packages: ${missing[*]}" >&2
    echo "deps: run as root:  apt-get update && apt-get install -y ${missing[*]}" >&2
    exit 1
fi
