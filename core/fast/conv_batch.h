// The fast convolution over a batch: the per-example kernels of core/fast/conv_hwy.h and
// core/fast/pool_hwy.h in an OpenMP loop over the examples, with per-thread scratch and
// per-thread partial sums. Tape-free: raw pointers, shapes, and one scratch buffer that the
// caller sizes with the *_scratch_size functions (and keeps, so that a training step in
// steady state allocates nothing).
//
// Forward hands out examples as threads come free (each example's output is its own);
// backward gives each thread a fixed range of examples and adds the threads' partial sums
// in thread order, so the same thread count gives the same numbers on every run.
//
// With a PoolShape, the op is conv2d -> ReLU -> max pool fused: each example's convolution
// output stays in a per-thread scratch and is pooled there; backward unpools into the
// backward kernels' inputs. The convolution's full output is never stored.
#pragma once
#include <cstdint>

#include "core/fast/conv_hwy.h"
#include "core/fast/pool_hwy.h"

namespace dl::fast {

// The gradients a backward writes. Every one is added to (+=), except dx when dx_assign
// (its first write: assigned, no zeroing needed).
struct ConvGrads {
    float* dx = nullptr;  // (N,C,H,W), or nullptr when the input needs no gradient
    bool dx_assign = false;
    float* dw = nullptr;  // (OC,C,KH,KW)
    float* db = nullptr;  // (OC), or nullptr without bias
    // Per-example statistics, when dw_sq is not nullptr: with g_b the gradient that example
    // b's dy contributes, dw_sq (and db_sq) += sq_scale * sum_b g_b^2 and
    // sqnorm[b] += norm_scale * ||g_b||^2 (weights and bias together).
    float* dw_sq = nullptr;
    float* db_sq = nullptr;
    float* sqnorm = nullptr;
    float sq_scale = 0.0f, norm_scale = 0.0f;
};

// Floats of scratch the forward needs with `threads` threads (pool: nullptr for plain conv2d).
long conv_forward_scratch_size(const ConvShape& g, const PoolShape* pool, int threads);

// Plain: y (N,OC,OH,OW) = conv(x) + bias.
// Fused (pool != nullptr): y (N,OC,PH,PW) = max pool of relu(conv(x) + bias), and
// argmax (N, PH*PW, OCp) the position in the convolution's output of each maximum (-1: clamped).
// x (N,C,H,W), w (OC,C,KH,KW), b (OC) or nullptr.
void conv_forward_batch(float* y, int32_t* argmax, const float* x, const float* w, const float* b, float* scratch,
                        int N, const ConvShape& g, const PoolShape* pool);

// Floats of scratch the backward needs.
long conv_backward_scratch_size(const ConvShape& g, int threads, bool stats, bool need_dx);

// Gradients of conv_forward_batch: dy is y's gradient ((N,OC,OH,OW), or (N,OC,PH,PW) when
// fused, with the forward's argmax); x and w as in the forward.
void conv_backward_batch(const ConvGrads& out, const float* dy, const int32_t* argmax, const float* x,
                         const float* w, float* scratch, int N, const ConvShape& g, const PoolShape* pool);

}  // namespace dl::fast
