// Fast pooling: planes split over the threads, each plane pooled by the Highway kernels of
// core/fast/pool_hwy.h (a vector kernel for 2x2 windows with stride 2, the models'
// pooling, at the best instruction set of the CPU). The argmax convention is the
// reference's (core/ops/pool.cpp): the index of each window's maximum inside its input
// plane, the first maximum (or the first NaN) scanning row by row, -1 where the ReLU of
// relu_max_pool2d gave 0.
#pragma once
#include "core/geometry.h"

namespace dl::fast {

// y (planes,OH,OW) = max over each window of x (planes,H,W), and with `relu` max(0, y)
// (NaN stays NaN). Returns false (and does nothing) where the fast floor does not apply.
bool max_pool2d_forward(float* y, int* argmax, const float* x, const PoolGeom& g, bool relu);
// dx (planes,H,W) += dy (planes,OH,OW) routed to each window's argmax (none for -1),
// or = when `assign`. Returns false where the fast floor does not apply.
bool max_pool2d_backward(float* dx, bool assign, const float* dy, const int* argmax, const PoolGeom& g);

}  // namespace dl::fast
