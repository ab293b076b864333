// Fast pooling: planes split over the threads, and AVX-512 row kernels for 2x2
// windows with stride 2 (the models' pooling). The argmax convention is the
// reference's (core/ops/pool.cpp): the index of each window's maximum inside its
// input plane, the first maximum (or the first NaN) scanning row by row, -1 where
// the ReLU of relu_max_pool2d gave 0.
#pragma once
#include "core/geometry.h"

namespace dl::fast {

// y (planes,OH,OW) = max over each window of x (planes,H,W), and with `relu` max(0, y)
// (NaN stays NaN). Returns false (and does nothing) where the fast floor does not apply.
bool max_pool2d_forward(float* y, int* argmax, const float* x, const PoolGeom& g, bool relu);
// dx (planes,H,W) += dy (planes,OH,OW) routed to each window's argmax (none for -1),
// or = when `assign`. Returns false where the fast floor does not apply.
bool max_pool2d_backward(float* dx, bool assign, const float* dy, const int* argmax, const PoolGeom& g);

// One plane each, for kernels that pool inside their own loops (the fused convolution):
// y (OH,OW) = max(0, max pool of x (H,W)), argmax as above.
void relu_max_pool_plane(float* y, int* argmax, const float* x, const PoolGeom& plane);
// dx (H,W) = dy (OH,OW) routed to the argmax of each window (assigned, not added).
void max_unpool_plane(float* dx, const float* dy, const int* argmax, const PoolGeom& plane);

}  // namespace dl::fast
