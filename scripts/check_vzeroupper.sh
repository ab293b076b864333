#!/usr/bin/env bash
# Checks that the fast floor's AVX2 and AVX-512 code leaves no dirty upper vector state
# behind: every return from a function of the N_AVX2/N_AVX3 namespaces (Highway's
# per-target copies) must follow a vzeroupper if the function touched a ymm/zmm register
# before it. Legacy (non-VEX) SSE code, which the baseline x86-64 build emits for
# ordinary code, runs slowly after AVX code that skipped it (measured here: about 90 ns
# per switch; docs/performance.md). GCC inserts vzeroupper itself; this reads the
# disassembly (a linear scan: a ymm/zmm use dirties, vzeroupper cleans, ret must be clean).
#   scripts/check_vzeroupper.sh [objects...]    (default: build/obj/core/fast/*.o)
set -euo pipefail
objs=("$@")
[ ${#objs[@]} -eq 0 ] && objs=(build/obj/core/fast/*.o)
status=0
for o in "${objs[@]}"; do
    objdump -d --no-show-raw-insn -C "$o" | awk -v obj="$o" '
        /^[0-9a-f]+ <.*>:$/ { name = $0; avx = (name ~ /N_AVX[23]::/); dirty = 0; next }
        !avx { next }
        /vzeroupper/ { dirty = 0; next }
        /%[yz]mm[0-9]/ { dirty = 1 }
        /\tret/ && dirty { print obj ": a return with dirty upper state in " name; bad = 1 }
        END { exit bad }' || status=1
done
[ $status -eq 0 ] && echo "check_vzeroupper: every AVX2/AVX-512 function returns with a clean upper state (${#objs[@]} objects)"
exit $status
