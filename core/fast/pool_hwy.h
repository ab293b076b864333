// Max pooling kernels of the fast floor (Highway, dispatched like core/fast/conv_hwy.h).
//
// Two families:
// - channels last, for the fused conv + ReLU + max pool: the convolution's output of one
//   example, yt (OH*OW, ld), is pooled while it is in cache, with channels in SIMD lanes
//   (any window and stride); backward scatters the pooled gradient straight into the two
//   arrays the convolution's backward kernels read (dyt and the padded dy), so the
//   convolution's output gradient is never formed densely in between.
// - planes (C, H, W), for max_pool2d and relu_max_pool2d: 2x2 windows with stride 2 take a
//   vector kernel (16 outputs at a time with AVX-512); other windows a plain loop.
//
// Ties and NaN as the reference (core/ops/pool.cpp): the window is scanned row by row and
// a later element takes over if it is strictly greater, or if it is the first NaN, so the
// first maximum wins and a window holding a NaN pools to NaN. With `relu`, a result <= 0
// becomes 0 with argmax -1 (no gradient; max commutes with ReLU), and NaN stays NaN.
#pragma once
#include <cstdint>

#include "core/fast/conv_hwy.h"
#include "core/geometry.h"

namespace dl::fast {

// Every function takes one plane (or one example's channels) of the pooling p
// (core/geometry.h): a (H,W) input, K x K windows with stride S, an (OH,OW) output;
// p.planes is not used.

// ---- channels last ---------------------------------------------------------------------
// yp (OH*OW, ld) = max pool of yt (H*W, ld) for channels [0, C); argmax (OH*OW, ld) the
// position (h*W + w) in yt of each maximum, or -1 (relu). Channels C..ld-1 hold junk.
void max_pool_channels_last(float* yp, int32_t* argmax, const float* yt, int C, int ld, const PoolGeom& p,
                            bool relu);

// The backward of conv2d_relu_max_pool2d for one example, as inputs of the convolution's
// backward kernels: dyt (g.OH*g.OW, OCp) and dypad (grad_pad_layout(g)) are set to dpool
// (OC, p.OH*p.OW) routed to each window's argmax (argmax (p.OH*p.OW, OCp) from the forward), zero
// elsewhere. dypad may be nullptr (the input needs no gradient).
void max_unpool_to_conv_grads(float* dyt, float* dypad, const float* dpool, const int32_t* argmax,
                              const ConvGeom& g, const PoolGeom& p);

// ---- planes ------------------------------------------------------------------------------
// y (OH, OW) = max pool of x (H, W); argmax (OH, OW) the index in x of each maximum (or -1).
void max_pool_plane(float* y, int32_t* argmax, const float* x, const PoolGeom& p, bool relu);

// dx (H, W) += dy (OH, OW) routed to each window's argmax (= when `assign`: zero elsewhere).
void max_unpool_plane(float* dx, const float* dy, const int32_t* argmax, const PoolGeom& p, bool assign);

}  // namespace dl::fast
