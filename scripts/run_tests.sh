#!/usr/bin/env bash
# Runs the doctest suite and ends with the plain line "N passed, N failed"
# (test cases, from doctest's own summary). Exits non-zero on any failure.
set -uo pipefail
log=$(mktemp)
trap 'rm -f "$log"' EXIT
"$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
summary=$(grep -E '^\[doctest\] test cases:' "$log" | tail -n 1)
if [ -z "$summary" ]; then
    echo "0 passed, 1 failed"
    echo "run_tests: the test program printed no doctest summary (exit status $status)" >&2
    exit 1
fi
passed=$(sed -E 's/.*\| *([0-9]+) passed.*/\1/' <<<"$summary")
failed=$(sed -E 's/.*\| *([0-9]+) failed.*/\1/' <<<"$summary")
echo "$passed passed, $failed failed"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
