// Max pooling of single planes, for ops that pool inside their own loops
// (conv2d_relu_max_pool2d pools each example's convolution while it is in cache).
// The same kernels as max_pool2d and relu_max_pool2d (core/ops_pool.cpp).
#pragma once

namespace dl {

// y (OH,OW) = max(0, max pool of x (H,W)); argmax (OH,OW) as relu_max_pool2d's:
// the index in x of each window's maximum, or -1 where the result is the clamp's 0.
// OH = (H - kernel) / stride + 1, likewise OW.
void relu_max_pool_plane(float* y, int* argmax, const float* x, int H, int W, int kernel, int stride);

// dx (H,W) = dy (OH,OW) routed to the argmax of each window (dx is assigned, not added to).
void max_unpool_plane(float* dx, const float* dy, const int* argmax, int H, int W, int kernel, int stride);

}  // namespace dl
