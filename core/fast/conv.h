// The fast convolution: the per-example kernels of core/fast/conv_hwy.h (Highway, the
// best instruction set of the CPU picked at run time) in an OpenMP loop over the batch,
// with per-thread scratch and per-thread partial sums; and the fused convolution + ReLU
// + max pooling, whose convolution output is never stored.
//
// conv2d and conv2d_relu_max_pool2d (core/ops/conv.cpp) hand over to these functions;
// tests/test_fast_conv.cpp and tests/test_conv.cpp compare them with the reference floor.
#pragma once
#include <cstdint>
#include <vector>

#include "core/geometry.h"

namespace dl::fast {

// What the fast convolution keeps from forward to backward and from step to step.
// A node owns one (in its saved state); the buffers grow on first use only, so a
// training step in steady state allocates nothing.
struct ConvWork {
    std::vector<float> xpad;       // (N, padded example): the padded inputs, kept for backward
    std::vector<float> weights;    // forward: the weights transposed; backward: flipped for dx
    std::vector<float> scratch;    // per thread: one example's output and gradients, partial sums
    std::vector<int32_t> argmax;   // fused: (N, PH*PW, OCp) each window's maximum, channels last
    std::vector<float> reduced;    // backward, Winograd: the summed weight gradient taken back, (K, OCp)
    int threads_used = 1;          // backward: how many threads wrote partials
};

// The gradients a backward pass accumulates into (raw pointers, not owned).
struct ConvGrads {
    float* dx = nullptr;       // (N,C,H,W), or nullptr when x needs no gradient
    bool dx_assign = false;    // dx holds garbage: assign (=) instead of adding (+=)
    float* dw = nullptr;       // (OC,C,KH,KW) +=
    float* db = nullptr;       // (OC) +=, or nullptr without bias
    // Per-example statistics (nullptr: off). With c_b example b's contribution to
    // (dw, db): dw_sq += sq_scale * sum_b c_b^2 (likewise db_sq) and
    // sqnorm[b] += norm_scale * ||c_b||^2 (sqnorm has N floats).
    float* dw_sq = nullptr;
    float* db_sq = nullptr;
    float* sqnorm = nullptr;
    float sq_scale = 0.0f, norm_scale = 0.0f;
};

// Whether the fast floor takes this convolution; if not, why not (for build/bench).
bool conv2d_applies(const ConvGeom& g);
const char* conv2d_fallback_reason(const ConvGeom& g);

// y (N,OC,OH,OW) = conv(x (N,C,H,W), w (OC,C,KH,KW)) + b (OC) or nullptr.
// Returns false (and does nothing) where the fast floor does not take the shape.
bool conv2d_forward(float* y, const float* x, const float* w, const float* b, const ConvGeom& g, ConvWork& work);

// The gradients of conv2d from dy (N,OC,OH,OW), after conv2d_forward returned true
// with the same `work`. w (OC,C,KH,KW).
void conv2d_backward(const ConvGrads& d, const float* dy, const float* w, const ConvGeom& g, ConvWork& work);

// Whether the fast floor has the fused convolution + ReLU + max pooling (kernel pk,
// stride ps) for this shape (the op records the separate ops where it has not).
bool conv2d_relu_max_pool2d_applies(const ConvGeom& g, int pk, int ps);

// Fused: y (N,OC,PH,PW) = max(0, max pool (kernel pk, stride ps) of conv(x) + b), where the
// convolution's output is never stored (NaN stays NaN). Each window's maximum is kept in
// work.argmax for the backward. Only where conv2d_relu_max_pool2d_applies.
void conv2d_relu_max_pool2d_forward(float* y, const float* x, const float* w, const float* b, const ConvGeom& g,
                                    int pk, int ps, ConvWork& work);

// Its gradients from dy (N,OC,PH,PW), after the forward with the same `work`.
void conv2d_relu_max_pool2d_backward(const ConvGrads& d, const float* dy, const float* w, const ConvGeom& g, int pk,
                                     int ps, ConvWork& work);

}  // namespace dl::fast
