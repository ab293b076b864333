// The fast convolution: per example, in an OpenMP loop over the batch, with the
// direct AVX-512 kernels of core/fast/conv_direct.h where they apply and im2col +
// GEMM elsewhere; and the fused convolution + ReLU + max pooling.
//
// conv2d (core/ops/conv.cpp) and conv2d_relu_max_pool2d (core/ops/conv_relu_pool.cpp)
// hand over to these functions; tests/test_fast_*.cpp and tests/test_conv.cpp
// compare them with the reference floor.
#pragma once
#include <vector>

#include "core/geometry.h"

namespace dl::fast {

// What the fast convolution keeps from forward to backward and from step to step.
// A node owns one (in its saved state); the buffers grow on first use only.
struct ConvWork {
    std::vector<float> xpad;      // (N,C,Hp,Wp) the padded input, kept for backward
    std::vector<float> wt;        // forward: the weights transposed (K,OC)
    std::vector<float> cols;      // per thread: im2col columns (K,OHW) or dy transposed (OHW,OC)
    std::vector<float> partials;  // per thread: dW^T (K,OC) | db (OC), and with statistics sq | g
    std::vector<float> dx_work;   // per thread: dcols | dxpad, or flipped weights then a padded dy
    std::vector<float> scratch;   // fused op: per thread one example's convolution (OC,OH,OW)
    int threads_used = 1;         // backward: how many threads wrote partials
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
// convolution's output is never stored. argmax (N,OC,PH,PW): the index of each
// window's maximum in its (OH,OW) plane, or -1 where the result is the ReLU's 0.
// Only where conv2d_relu_max_pool2d_applies.
void conv2d_relu_max_pool2d_forward(float* y, int* argmax, const float* x, const float* w, const float* b,
                                    const ConvGeom& g, int pk, int ps, ConvWork& work);

// Its gradients from dy (N,OC,PH,PW), after the forward returned true with the same `work`.
void conv2d_relu_max_pool2d_backward(const ConvGrads& d, const float* dy, const int* argmax, const float* w,
                                     const ConvGeom& g, int pk, int ps, ConvWork& work);

}  // namespace dl::fast
