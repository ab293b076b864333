// Winograd's minimal filtering on the fast floor, for convolutions of stride 1 with 5x5 kernels
// and padding 2 (the `cnn`'s and fmnist_2c2d's second layers): F(2x2, 5x5), 2.78x fewer
// multiplies than the direct kernels of core/fast/conv_hwy.h; and with 3x3 kernels and
// padding 1 (`cnn-bn`'s layers): F(4x4, 3x3), 4x fewer. Dispatched like them.
//
// The output is cut into tiles of MxM (M = 2 for 5x5 kernels, 4 for 3x3); each reads a 6x6
// tile d of the padded input. With the fixed matrices B (6x6), G (6xK) and A (6xM) of
// winograd_hwy.cpp (B the same for both), per input channel c and output channel o:
//   U[c][o] = G g[o][c] G^T        (6x6, the kernel; once per step)
//   V[c]    = B^T d[c] B           (6x6, per tile)
//   M[o]    = sum_c U[c][o] (.) V[c]   elementwise, for each of the 36 positions p:
//             M[p] (tiles, O) = V[p] (tiles, C) . U[p] (C, O)   a small matrix product
//   y[o]    = A^T M[o] A           (MxM, per tile)
// Exact in real arithmetic; in float the transforms round at a few 1e-6 of the largest values
// of the layer's output (measured for F(2x2, 5x5): up to 7.5e-6 for the forward and the input
// gradient, up to 1e-5 for the weight gradient of a 14x14 plane and 2.6e-5 of a 45x38 one,
// whose sums run over every tile; the direct kernels: about 1e-7). tests/test_fast_conv.cpp
// checks both against naive loops. A NaN or an infinity in a 6x6 input tile reaches all the
// outputs of its tile (the direct kernels: only the outputs whose KxK window holds it).
//
// Used by conv_forward and conv_input_grad (the input gradient of this shape is the same
// convolution of dy with the kernel flipped and transposed) when conv_winograd(g) holds, and
// by the fast convolution's backward for the weight gradient (the transpose of the same
// product, below). Reference: A. Lavin and S. Gray, "Fast Algorithms for Convolutional Neural
// Networks", CVPR 2016.
#pragma once
#include "core/geometry.h"

namespace dl::fast {

// Whether conv_forward and conv_input_grad take the Winograd path for g: stride 1, 5x5 with
// padding 2 or 3x3 with padding 1, at least 8 channels in and out (fewer: the transforms cost
// more than they save), an output of at least 8x8, and the method switched on. On smaller
// planes the tiles' spare rows and columns, and the direct kernels' skipping of the taps that
// read only padding, ate the saving (measured, batch 64, 2 threads on the AVX2 EPYC: 3x3
// 64->64 on 7x7 10.8 against 10.1 ms direct, 5x5 32->64 on 5x5 9.8 against 7.3; on 10x10
// and 12x12, 3x3: 18.4 against 21.0 ms, 19.7 against 28.8; medians of 3 runs).
bool conv_winograd(const ConvGeom& g);

// On unless the environment variable DL_WINOGRAD is 0 when the first convolution runs (for
// whoever needs the direct kernels' rounding, and for comparing the two; another value than 0
// or 1 throws std::invalid_argument, naming it); tests switch it.
// Switch it only between steps: a forward and its backward must see the same setting.
bool winograd_enabled();
void set_winograd_enabled(bool on);

// Where a convolution reads its input: channels-first planes, channel c's row r at
// src + c * plane + r * row_stride. The padded input pixel (i, j) of the tile grid is row
// r0 + i, column c0 + j; only rows [r_lo, r_hi) and columns [c_lo, c_hi) hold data, the
// rest reads as 0.
struct WinogradInput {
    const float* src;
    long plane;
    int row_stride, r0, c0, r_lo, r_hi, c_lo, c_hi;
    int C;  // input channels
};

// Floats of the transformed kernel for C inputs and O outputs: 36 * C * Op, Op = O rounded up to 16.
long winograd_weights_size(int C, int O);
// u (36, C, Op) = G g G^T for the KxK kernel (K = 3 or 5) g[o][c] = w[(o * C + c) * K * K ...]
// (flip = false), or for the flipped, transposed kernel of the input gradient, g[o][c] = w[c][o]
// rotated by 180 degrees (flip = true; w then has shape (C, O, K, K)). Columns o >= O are 0.
void winograd_prepare_weights(float* u, const float* w, int C, int O, int K, bool flip);

// Floats of the scratch winograd_conv needs for C inputs, O outputs, an OH x OW output and KxK kernels.
long winograd_scratch_size(int C, int O, int OH, int OW, int K);

// yt (OH*OW, ldy) = bias + the convolution of `in` with the KxK kernel u (columns 0..Op-1
// written; bias (Op) or nullptr). One example.
void winograd_conv(float* yt, int ldy, const WinogradInput& in, const float* u, const float* bias, int O, int OH,
                   int OW, int K, float* scratch);

// ---- weight gradient: dL/dU = sum over tiles of (A dy A^T) (.) V, then dW = G^T dU G ----------
// du (36, C, Op) += the transformed weight gradient of one example (= when `assign`): `in` as
// for winograd_conv (the input), dyt (OH*OW, ldy) the output gradient, channels last. Scratch
// as winograd_conv's.
void winograd_weight_grad(float* du, const WinogradInput& in, const float* dyt, int ldy, int O, int OH, int OW, int K,
                          float* scratch, bool assign);
// dwt (C*K*K, ldw) = G^T du G, the weight gradient transposed: row (c, kh, kw), columns 0..Op-1.
void winograd_weight_grad_out(float* dwt, int ldw, const float* du, int C, int O, int K);

}  // namespace dl::fast
