// Runs a test body once per instruction set of this build that this machine runs
// (core/fast/dispatch.h: AVX-512, AVX2 and the scalar fallback on x86-64; NEON and
// scalar on aarch64), capping the runtime dispatch as DL_SIMD would.
#pragma once
#include <doctest/doctest.h>

#include <string>

#include "core/fast/dispatch.h"

namespace dl::testing {

// Calls f() at every target, checks that the dispatch really picked it, and restores
// the cap it found (the environment's DL_SIMD, or none).
template <class F>
void at_every_target(F f) {
    const std::string before = fast::simd_target();
    for (const std::string& t : fast::simd_targets()) {
        fast::set_simd_cap(t);
        REQUIRE(fast::simd_target() == t);
        f();
    }
    fast::set_simd_cap(before);
}

}  // namespace dl::testing
