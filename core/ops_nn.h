// Neural-network ops: convolution, pooling, dropout, batch, group and layer normalisation.
// Like the ops of core/ops.h, each takes the tape first, records one node and
// returns its output. conv2d and batch_norm take their Parameters directly (as
// linear does) and fill per-example statistics when the tape asks for them.
// The reference ops are in core/ops/ (one file each); the fast floor (core/fast/)
// takes over where it applies.
//
// At the end, naive direct-loop kernels (llm.c style: outputs first, gradients
// prefixed d, sizes last): a second reference that the tests compare with.
#pragma once
#include <cstdint>

#include "core/parameter.h"
#include "core/tape.h"

namespace dl {

// Convolution (core/ops/conv.cpp): x (N,C,H,W), weight (OC,C,KH,KW), bias (OC) or
// nullptr -> (N,OC,OH,OW) with OH = (H + 2 padding - KH) / stride + 1.
// The reference is im2col + one GEMM per example; the fast floor runs direct
// AVX-512 kernels (or im2col + GEMM) per example, in parallel over the batch.
Var conv2d(Tape& t, Var x, Parameter& weight, Parameter* bias, int stride = 1, int padding = 0);

// Pooling (core/ops/pool.cpp): x (N,C,H,W) -> (N,C,OH,OW), OH = (H - kernel) / stride + 1.
// Windows may overlap (stride < kernel). No padding.
Var max_pool2d(Tape& t, Var x, int kernel, int stride);
Var avg_pool2d(Tape& t, Var x, int kernel, int stride);
// max_pool2d(relu(x)) as one op: max commutes with the increasing ReLU, so this is
// max(0, max_pool2d(x)), one pass over x instead of three (relu, its copy, the pool),
// and backward skips relu's pass as well. The ReluMaxPool layer (layers/fused.h).
Var relu_max_pool2d(Tape& t, Var x, int kernel, int stride);
// relu_max_pool2d(conv2d(x)) as one op (core/ops/conv.cpp), with the same numbers:
// on the fast floor each example is convolved and pooled while in cache, and the
// convolution's output is never stored. The ConvReluMaxPool layer (layers/fused.h).
// Where the fast floor has no fused kernel, it records the two ops instead.
Var conv2d_relu_max_pool2d(Tape& t, Var x, Parameter& weight, Parameter* bias, int stride, int padding,
                           int pool_kernel, int pool_stride);

// Inverted dropout (core/ops/dropout.cpp): in training, zeroes each element with
// probability p and scales the rest by 1/(1-p); in eval (or p == 0) returns x.
// The mask comes from a counter-based generator: `rng_state` is read and
// advanced, so the same state gives the same mask.
Var dropout(Tape& t, Var x, float p, bool training, std::uint64_t& rng_state);

// Batch normalisation (core/ops/batch_norm.cpp) over x (N,F) or (N,C,H,W), per feature/channel c:
//   y = gamma_c (x - mean_c) / sqrt(var_c + eps) + beta_c
// Training: batch mean and (biased) variance; running_mean/var (C) are updated
// with `momentum` like PyTorch (unbiased variance for running_var). The node
// mixes examples, so per-example statistics are refused. Eval: running stats.
Var batch_norm(Tape& t, Var x, Parameter& gamma, Parameter& beta, Tensor& running_mean,
               Tensor& running_var, bool training, float momentum = 0.1f, float eps = 1e-5f);

// Group normalisation (core/ops/group_norm.cpp) over x (N,C) or (N,C,H,W): the C
// channels fall into `groups` groups of C/groups consecutive channels, and each group
// of each example is normalised by its own mean and (biased) variance:
//   y = gamma_c (x - mean_{b,group}) / sqrt(var_{b,group} + eps) + beta_c,   gamma, beta (C)
// groups = 1 normalises each example as a whole, groups = C each channel (instance norm).
// Examples are not mixed, so per-example statistics of gamma and beta are exact.
Var group_norm(Tape& t, Var x, Parameter& gamma, Parameter& beta, int groups, float eps = 1e-5f);

// Layer normalisation (core/ops/group_norm.cpp) of each example over all its values:
// x (N, d1, ...) with gamma and beta shaped (d1, ...), one per value:
//   y_i = gamma_i (x_i - mean_b) / sqrt(var_b + eps) + beta_i
// Like PyTorch's LayerNorm with normalized_shape = the shape of one example.
Var layer_norm(Tape& t, Var x, Parameter& gamma, Parameter& beta, float eps = 1e-5f);

// ---- reference kernels (direct loops, for tests) ----------------------------------------

// out (N,OC,OH,OW), inp (N,C,H,W), weight (OC,C,KH,KW), bias (OC) or nullptr
void conv2d_forward_naive(float* out, const float* inp, const float* weight, const float* bias,
                          int N, int C, int H, int W, int OC, int KH, int KW, int stride, int padding);
// Accumulates (+=): dinp (N,C,H,W), dweight (OC,C,KH,KW), dbias (OC) or nullptr;
// dout (N,OC,OH,OW), inp (N,C,H,W), weight (OC,C,KH,KW)
void conv2d_backward_naive(float* dinp, float* dweight, float* dbias, const float* dout,
                           const float* inp, const float* weight, int N, int C, int H, int W,
                           int OC, int KH, int KW, int stride, int padding);

// out (planes,OH,OW), argmax (planes,OH,OW) index of the maximum in its plane (first
// on ties); inp (planes,H,W). The reference for max_pool2d's forward.
void max_pool2d_forward_naive(float* out, int* argmax, const float* inp, int planes, int H, int W, int kernel,
                              int stride);

}  // namespace dl
