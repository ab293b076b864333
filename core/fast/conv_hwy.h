// Direct convolution kernels of the fast floor, one example at a time, written once
// with Google Highway and compiled for every instruction set of core/fast/simd_targets.h
// (the best is picked at run time, see core/fast/dispatch.h). They know nothing of the
// tape: raw pointers, a ConvGeom, and the layouts below.
//
// Layouts. The kernels keep output channels in SIMD lanes: a register tile holds T
// output positions x V vectors of channels, and every step of the loop over the kernel
// taps (c,kh,kw) loads V vectors of weights and broadcasts T input values (no lane is
// wasted on a row of 14 or 7 pixels). So they read and write channels-last arrays:
//
//   xpad (C, rows, row_len)   the input, zero-padded; for stride S > 1 each padded row is
//                             stored as S phases (columns 0, S, 2S, ... then 1, S+1, ...),
//                             so that a stride-S row of taps is contiguous (see PadLayout)
//   wt   (K + 1, OCp)         weights transposed, K = C*KH*KW, rows (kh, c, kw); the last
//                             row is the bias
//   yt   (OH*OW, OCp)         the output, channels last; OCp = OC rounded up to 16
//   dyt  (OH*OW, OCp)         the output gradient, channels last
//   dwt  (K, OCp)             the weight gradient, transposed
//
// Channel counts are padded to a multiple of 16 (kChannelAlign) with zero weights, so the
// same layouts serve every instruction set (16 lanes of AVX-512, 8 of AVX2, 4 of NEON);
// a kernel only computes the vectors that hold real channels.
//
// Coverage: any channel counts, any kernel size (KW <= kMaxKernel), any stride and
// padding. Naive loops in tests/test_fast_conv.cpp check every kernel at every target.
// 5x5 kernels with padding 2 and 3x3 with padding 1, at stride 1 (with 8 channels or more and
// outputs of 8x8 or more) take Winograd's method instead for the forward and the input
// gradient (core/fast/winograd_hwy.h), behind the same functions.
//
// Every function works on one example of the convolution g (core/geometry.h); g.N is
// not used: x (C,H,W) -> y (OC,OH,OW).
#pragma once
#include <cstddef>

#include "core/geometry.h"

namespace dl::fast {

constexpr int kChannelAlign = 16;
constexpr int kMaxKernel = 16;  // widest kernel row the kernels take (the ops fall back beyond)
inline int padded_channels(int n) { return (n + kChannelAlign - 1) / kChannelAlign * kChannelAlign; }

// Whether the kernels below take this shape (and the reason when they do not).
bool conv_supported(const ConvGeom& g);
const char* conv_unsupported_reason(const ConvGeom& g);

// ---- the padded input ---------------------------------------------------------------
// Padded row r (0 <= r < Hp) of channel c starts at c*plane + r*row_len. Column w of the
// padded row (0 <= w < Wp) sits at phase (w % S), offset (w / S) within the phase, and
// each phase is phase_len = ceil(Wp / S) floats long: row_len = S * phase_len.
struct PadLayout {
    int phase_len, row_len;
    long plane, size;  // floats per channel, per example
};
PadLayout pad_layout(const ConvGeom& g);

// xpad (pad_layout(g).size) = x (C,H,W) padded (and split into phases for S > 1).
void conv_pad_input(float* xpad, const float* x, const ConvGeom& g);

// ---- forward ------------------------------------------------------------------------
// Floats of the prepared forward weights: (K + 1) * OCp, or for the shapes that take
// Winograd's method (conv_winograd(g), core/fast/winograd_hwy.h) 36 * C * OCp + OCp.
long conv_forward_weights_size(const ConvGeom& g);
// wt (K + 1, OCp): wt[(kh,c,kw)][o] = w[o][c][kh][kw], last row bias (or 0); zero for o >= OC.
// Kernel rows outermost: the taps of the rows an output row reads inside the padding are skipped,
// and the others are one stretch of wt. (Winograd: the transformed kernel (36, C, OCp), then
// the bias.)
// w (OC,C,KH,KW), bias (OC) or nullptr.
void conv_prepare_forward_weights(float* wt, const float* w, const float* bias, const ConvGeom& g);

// Floats of the scratch conv_forward needs (0 but for Winograd's shapes).
long conv_forward_scratch_size(const ConvGeom& g);

// yt (OH*OW, OCp) = bias + conv(xpad) for one example. Padded channels come out 0.
void conv_forward(float* yt, const float* xpad, const float* wt, float* scratch, const ConvGeom& g);

// ---- weight gradient ----------------------------------------------------------------
// dwt (K, OCp) += sum over positions of x's taps times dyt: the weight gradient of one
// example, transposed. xpad as conv_pad_input wrote it; dyt (OH*OW, OCp).
void conv_weight_grad(float* dwt, const float* xpad, const float* dyt, const ConvGeom& g);

// ---- input gradient -----------------------------------------------------------------
// dx = the transposed convolution of dy. For stride S the dx pixels split into S*S
// phases (h + P, w + P) mod S; each phase is a stride-1 convolution of dy with the taps
// of the kernel in that phase, flipped. The kernels read dy zero-padded:
//   dypad (OC, rows, cols), dy's pixel (oh, ow) at row oh + top, column ow + left.
struct GradPadLayout {
    int rows, cols, top, left;
    long plane, size;  // floats per channel, per example
};
GradPadLayout grad_pad_layout(const ConvGeom& g);

// dypad = dy (OC,OH,OW) zero-padded.
void conv_pad_output_grad(float* dypad, const float* dy, const ConvGeom& g);

// Floats of the prepared input-gradient weights: OC*KH*KW * Cp (Cp = C rounded up to 16);
// Winograd: 36 * OC * Cp.
long conv_input_grad_weights_size(const ConvGeom& g);
// wf: for each phase, the kernel taps in that phase, flipped and transposed to (taps, Cp).
// (Winograd: the flipped, transposed kernel transformed, (36, OC, Cp).)
void conv_prepare_input_grad_weights(float* wf, const float* w, const ConvGeom& g);

// Floats of the scratch conv_input_grad needs.
long conv_input_grad_scratch_size(const ConvGeom& g);

// dx (C,H,W) += the input gradient of one example (= when `assign`).
void conv_input_grad(float* dx, const float* dypad, const float* wf, float* scratch, const ConvGeom& g,
                     bool assign);

// ---- layout changes -----------------------------------------------------------------
// y (C, P) = yt (P, ld) transposed, for C <= ld channels and P positions (+= when `add`).
void channels_last_to_first(float* y, const float* yt, int C, int P, int ld, bool add);
// yt (P, ld) = y (C, P) transposed; channels C..ld-1 set to 0.
void channels_first_to_last(float* yt, const float* y, int C, int P, int ld);

// ---- small helpers of the backward ----------------------------------------------------
// acc (ld) += the sum of the P rows of rows (P, ld): the bias gradient from dyt.
void add_column_sums(float* acc, const float* rows, int P, int ld);
// gsum += g; gsq += g * g; returns ||g||^2 (n floats each).
float add_and_square(float* gsum, float* gsq, const float* g, long n);

}  // namespace dl::fast
