#!/usr/bin/env bash
# Runs the doctest suite and ends with the plain line "N passed, N failed"
# (test cases, from doctest's own summary). Exits non-zero on any failure.
#
# Most test cases run on one core (many start build/train with one thread), so on a
# machine with two or more cores the suite runs as two processes side by side, split by
# test file: the files in SLOW below (about half of the suite's time) in one, every other
# file in the other; a new test file lands in the second by itself, so none is left out.
# Their outputs are printed one after the other and their summaries added up.
# DL_TEST_SHARDS=1 runs everything in one process.
set -uo pipefail
SLOW="*test_train.cpp,*test_spec.cpp,*test_mpi.cpp"

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

# summary LOG: "passed failed" from a doctest summary, or nothing.
summary() {
    grep -E '^\[doctest\] test cases:' "$1" | tail -n 1 |
        sed -E 's/.*\| *([0-9]+) passed *\| *([0-9]+) failed.*/\1 \2/'
}

shards=${DL_TEST_SHARDS:-$(nproc 2>/dev/null || echo 1)}
if [ "$shards" -ge 2 ]; then
    # Two processes on two cores: OpenMP threads wait without spinning, so that a
    # waiting team does not take the core the other process is computing on.
    export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
    echo "run_tests: two test processes side by side (${SLOW//\*/} in one; DL_TEST_SHARDS=1 for one)"
    "$@" --source-file="$SLOW" > "$logs/1" 2>&1 &
    pid1=$!
    "$@" --source-file-exclude="$SLOW" > "$logs/2" 2>&1
    status2=$?
    wait "$pid1"
    status1=$?
    parts=("$logs/1" "$logs/2")
    cat "${parts[@]}"
    status=$((status1 != 0 ? status1 : status2))
else
    "$@" 2>&1 | tee "$logs/1"
    status=${PIPESTATUS[0]}
    parts=("$logs/1")
fi

passed=0
failed=0
for log in "${parts[@]}"; do
    read -r p f <<<"$(summary "$log")"
    if [ -z "${p:-}" ]; then  # a process that crashed or never started counts as one failure
        echo "run_tests: a test process printed no doctest summary (exit status $status)" >&2
        p=0 f=1
    fi
    passed=$((passed + p))
    failed=$((failed + f))
done
echo "$passed passed, $failed failed"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
