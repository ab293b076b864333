// Direct convolution kernels for AVX-512 (no im2col, no GEMM), used by the fast
// convolution where they apply and faster than im2col + GEMM (core/fast/conv.cpp
// decides). Built without AVX-512, direct_conv and direct_weight_grad return false
// and the fast convolution keeps to im2col + GEMM. tests/test_fast_kernels.cpp
// checks them against the reference floor.
#pragma once
#ifdef __AVX512F__
#include <immintrin.h>
#endif

#include "core/geometry.h"

namespace dl::fast {

// Forward (and, through flipped weights, the input gradient): stride 1, OC a multiple of 8.
bool direct_conv(const ConvGeom& g);
// y (OC,OH,OW) = bias + conv(xpad), or y += conv(xpad) when `add`.
// xpad (C,Hp,Wp) padded input; wt (K,OC) the weights transposed (K = C*KH*KW); bias (OC) or nullptr.
void conv_direct_example(float* y, const float* xpad, const float* wt, const float* bias, bool add, const ConvGeom& g);

// Weight gradient: stride 1 and one of the shapes listed in conv_direct.cpp (OC 32 with 5x5
// or 3x3 kernels, OC 16 with 5x5, OC 64 with 3x3).
bool direct_weight_grad(const ConvGeom& g);
// dwt (K,OC) += the weight gradient of one example; xpad (C,Hp,Wp), dyt (OHW,OC).
void weight_grad_direct(float* dwt, const float* xpad, const float* dyt, const ConvGeom& g);

#ifdef __AVX512F__
// The first n lanes of a 16-float vector (n <= 16).
inline __mmask16 tail_mask(int n) { return static_cast<__mmask16>((1u << n) - 1); }
#endif

}  // namespace dl::fast
