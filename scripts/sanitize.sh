#!/usr/bin/env bash
# Builds the library, the programs and the tests with AddressSanitizer and
# UndefinedBehaviorSanitizer in a scratch copy of this tree (build/ is left
# alone), then runs every test. Any out-of-bounds access, use after free or
# undefined behaviour stops the test program with a report. It takes about
# 4 minutes on two cores (a full rebuild), so it is not part of `make test`.
#   bash scripts/sanitize.sh        (or: make sanitize)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d /tmp/dl-sanitize.XXXXXX)
echo "sanitize: building in $dir"
tar -C "$src" --exclude=./build --exclude=./runs --exclude=./.git -cf - . | tar -C "$dir" -xf -
cd "$dir"
flags="-O1 -g -march=native -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
make --no-print-directory -j"$(nproc)" OPT="$flags" all
# Leak checking is off: OpenBLAS and OpenMP keep thread buffers until exit.
if ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 bash scripts/run_tests.sh ./build/tests; then
    rm -rf "$dir"
else
    echo "sanitize: failed; the build is kept in $dir" >&2
    exit 1
fi
