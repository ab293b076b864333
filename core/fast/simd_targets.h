// Which instruction sets the fast floor is compiled for. Every Highway source of
// core/fast/ includes this first, before any Highway header, so that all of them
// agree on the list (the dispatch tables of HWY_EXPORT are indexed by it).
//
//   x86-64:  AVX-512 (Highway's AVX3), AVX2 (with FMA), and the scalar fallback
//   aarch64: NEON and the scalar fallback
//
// SSSE3/SSE4 are left out (every x86-64 CPU sold since 2013 has AVX2; the
// fallback covers the rest), and so is SVE: its vector types have no size at
// compile time, so they cannot sit in the arrays of accumulators the register
// tiles of conv_hwy.cpp keep (SVE CPUs also run NEON). The scalar fallback is
// compiled everywhere (HWY_COMPILE_ALL_ATTAINABLE), so that DL_SIMD=scalar and
// the tests can run it on any machine.
#pragma once

#ifdef HIGHWAY_HWY_DETECT_TARGETS_H_
#error "core/fast/simd_targets.h must be included before any Highway header"
#endif

#define HWY_COMPILE_ALL_ATTAINABLE
#define HWY_DISABLED_TARGETS (HWY_SSSE3 | HWY_SSE4 | HWY_AVX3_DL | HWY_SVE | HWY_SVE2 | HWY_SVE_256 | HWY_SVE2_128)
