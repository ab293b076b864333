#!/usr/bin/env bash
# The fast floor on aarch64: cross-compiles the Highway kernels of core/fast/ with their
# tests (Debian g++-aarch64-linux-gnu, libhwy-dev:arm64) and runs a subset of the tests
# under qemu-aarch64 (Debian qemu-user) at every target it has (NEON and scalar).
#   scripts/check_aarch64.sh [doctest filter]
# Only the kernels and their tests: the rest of the library needs OpenBLAS for arm64,
# and emulating the whole test suite takes hours. The run is limited to 120 s.
# One thread: under this qemu-aarch64 (7.2, Debian 12) a program that starts a second
# thread hangs (a bare std::thread or `#pragma omp parallel` does too), so the threading
# of core/fast/conv.cpp is tested natively only; it is the same on every architecture.
set -euo pipefail
cd "$(dirname "$0")/.."
filter=${1:-"dispatch: the best*,fast conv: the models*,fast conv: Winograd*,fast conv: user*,fast conv: a sweep*,fast conv: wide*,fast conv batch*,fast pool*"}
CXX=aarch64-linux-gnu-g++
sysroot=/usr/aarch64-linux-gnu
libdir=/usr/lib/aarch64-linux-gnu
for need in "$CXX" qemu-aarch64; do
    command -v "$need" >/dev/null || { echo "check_aarch64: $need not found (apt-get install g++-aarch64-linux-gnu qemu-user)" >&2; exit 1; }
done
[ -e "$libdir/libhwy.so" ] || { echo "check_aarch64: $libdir/libhwy.so not found (dpkg --add-architecture arm64; apt-get update; apt-get install libhwy-dev:arm64)" >&2; exit 1; }

out=build/aarch64
mkdir -p "$out/include"
# The cross compiler does not search /usr/include: only the two header-only parts it needs.
ln -sfn /usr/include/hwy "$out/include/hwy"
ln -sfn /usr/include/doctest "$out/include/doctest"
sources=(tests/main.cpp tests/test_fast_conv.cpp tests/test_fast_pool.cpp tests/test_fast_portable.cpp
         core/fast/conv_hwy.cpp core/fast/winograd_hwy.cpp core/fast/pool_hwy.cpp core/fast/dispatch.cpp core/fast/conv.cpp core/fast/fast.cpp)
objs=()
for s in "${sources[@]}"; do
    o="$out/obj/${s%.cpp}.o"
    mkdir -p "$(dirname "$o")"
    if [ ! -e "$o" ] || [ "$s" -nt "$o" ] || [ -n "$(find core/fast tests/simd_targets.h core/geometry.h -newer "$o" -name '*.h' 2>/dev/null)" ]; then
        echo "check_aarch64: $CXX -c $s" >&2
        "$CXX" -std=c++17 -O2 -fopenmp -Wall -Wextra -I. -I"$out/include" -c "$s" -o "$o"
    fi
    objs+=("$o")
done
"$CXX" -fopenmp "${objs[@]}" -o "$out/tests" -L"$libdir" -Wl,-rpath-link,"$libdir" -lhwy
file "$out/tests" | grep -q "ARM aarch64" || { echo "check_aarch64: $out/tests is not an aarch64 program" >&2; exit 1; }
echo "check_aarch64: running '$filter' under qemu-aarch64" >&2
QEMU_LD_PREFIX=$sysroot timeout 120 qemu-aarch64 -U DL_SIMD -E LD_LIBRARY_PATH="$libdir" -E DL_EXPECT_SIMD=neon -E OMP_NUM_THREADS=1 \
    "$out/tests" -tc="$filter"
