// Runtime dispatch of the fast floor's SIMD kernels.
//
// Every kernel of core/fast/*_hwy.cpp is one source that Google Highway compiles
// once per instruction set (core/fast/simd_targets.h lists them); the first call
// picks the best one this CPU runs. The environment variable DL_SIMD caps that
// choice, for tests and benchmarks:
//
//   DL_SIMD=scalar   the portable fallback (one float at a time)
//   DL_SIMD=avx2     at most AVX2 + FMA (x86-64)
//   DL_SIMD=avx512   at most AVX-512 (x86-64)
//   DL_SIMD=neon     at most NEON (aarch64)
//   unset or empty   the best the CPU has
//
// A cap above what the CPU has changes nothing (avx512 on an AVX2 machine runs avx2).
#pragma once
#include <string>
#include <vector>

namespace dl::fast {

// The instruction set the kernels run now: "avx512", "avx2", "neon" or "scalar".
// The first call (of this or of any kernel) reads DL_SIMD; a value that names no
// instruction set of this architecture throws std::invalid_argument.
std::string simd_target();

// The instruction sets this build has and this CPU runs, best first, whatever the cap.
std::vector<std::string> simd_targets();

// Caps the instruction set at `name` (as DL_SIMD would), or lifts the cap for "".
// Not thread-safe: call it between kernel calls, not during them (tests do).
void set_simd_cap(const std::string& name);

// Reads DL_SIMD once; every kernel entry point calls it.
void simd_init();

}  // namespace dl::fast
