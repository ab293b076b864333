// Fast max pooling (see core/fast/pool.h): planes split over the threads (each
// plane is one thread's, so overlapping windows may add into one input element),
// and AVX-512 row kernels for 2x2 windows with stride 2.
#include "core/fast/pool.h"

#ifdef __AVX512F__
#include <immintrin.h>
#endif

#include <algorithm>

#include "core/fast/fast.h"
#include "core/fast/parallel.h"

namespace dl::fast {

namespace {

// Whether v replaces best as the window's maximum so far: larger, or the first NaN.
inline bool takes_over(float v, float best) { return v > best || (v != v && best == best); }

// One plane, any window: y (OH,OW) = max over each window of xp (H,W), argmax its index
// (first maximum or first NaN, scanning the window row by row). The reference's loop.
void max_pool_plane_any(float* y, int* argmax, const float* xp, const PoolGeom& g) {
    for (int oh = 0; oh < g.OH; ++oh)
        for (int ow = 0; ow < g.OW; ++ow) {
            int best = oh * g.S * g.W + ow * g.S;
            float best_v = xp[best];
            for (int kh = 0; kh < g.K; ++kh) {
                const int row = (oh * g.S + kh) * g.W + ow * g.S;
                for (int kw = 0; kw < g.K; ++kw)
                    if (takes_over(xp[row + kw], best_v)) {
                        best_v = xp[row + kw];
                        best = row + kw;
                    }
            }
            y[oh * g.OW + ow] = best_v;
            argmax[oh * g.OW + ow] = best;
        }
}

#ifdef __AVX512F__
// 2x2 windows, stride 2: one output row from input rows r0 = xp + 2 oh W and r1 = r0 + W,
// 16 outputs at a time. The even and odd columns are split with a permute, then the four
// candidates are compared in the reference's order with a strict '>', and a NaN candidate
// replaces a number (same ties, same NaNs as takes_over).
// With `relu`, the clamp of max_pool_plane below, in the same registers.
void max_pool_2x2_row(float* y, int* argmax, const float* r0, const float* r1, int row0, int W, int OW, bool relu) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    for (int ow = 0; ow < OW; ow += 16) {
        const int n = std::min(16, OW - ow), cols = std::min(32, W - 2 * ow);
        const __mmask16 lo = cols >= 16 ? 0xFFFF : (__mmask16)((1u << cols) - 1);
        const __mmask16 hi = cols <= 16 ? 0 : (__mmask16)((1u << (cols - 16)) - 1);
        const float* a = r0 + 2 * ow;
        const float* b = r1 + 2 * ow;
        const __m512 a0 = _mm512_maskz_loadu_ps(lo, a), a1 = _mm512_maskz_loadu_ps(hi, a + 16);
        const __m512 b0 = _mm512_maskz_loadu_ps(lo, b), b1 = _mm512_maskz_loadu_ps(hi, b + 16);
        __m512 best = _mm512_permutex2var_ps(a0, even, a1);
        const __m512i base = _mm512_add_epi32(_mm512_set1_epi32(row0 + 2 * ow), even);  // index of a0's evens
        __m512i idx = base;
        const __m512 cand[3] = {_mm512_permutex2var_ps(a0, odd, a1), _mm512_permutex2var_ps(b0, even, b1),
                                _mm512_permutex2var_ps(b0, odd, b1)};
        const int offset[3] = {1, W, W + 1};
        for (int c = 0; c < 3; ++c) {
            const __mmask16 gt = _mm512_cmp_ps_mask(cand[c], best, _CMP_GT_OQ) |
                                 (_mm512_cmp_ps_mask(cand[c], cand[c], _CMP_UNORD_Q) &
                                  _mm512_cmp_ps_mask(best, best, _CMP_ORD_Q));
            best = _mm512_mask_blend_ps(gt, best, cand[c]);
            idx = _mm512_mask_blend_epi32(gt, idx, _mm512_add_epi32(base, _mm512_set1_epi32(offset[c])));
        }
        if (relu) {  // best <= 0: 0 and no gradient (NaN stays, as in the scalar clamp)
            const __mmask16 keep = _mm512_cmp_ps_mask(best, _mm512_setzero_ps(), _CMP_NLE_UQ);
            best = _mm512_maskz_mov_ps(keep, best);
            idx = _mm512_mask_blend_epi32(keep, _mm512_set1_epi32(-1), idx);
        }
        const __mmask16 out = (__mmask16)((1u << n) - 1);
        _mm512_mask_storeu_ps(y + ow, out, best);
        _mm512_mask_storeu_epi32(argmax + ow, out, idx);
    }
}
#endif

bool is_2x2_stride_2(const PoolGeom& g) { return g.K == 2 && g.S == 2; }

// One plane of max_pool2d_forward, with the ReLU clamp when `relu`: max(y, 0) with
// argmax -1 (no gradient) where the window held no positive value, the same as
// pooling relu(x), whose maximum there is a 0 with zero derivative. NaN stays NaN.
void max_pool_plane(float* yp, int* ap, const float* xp, const PoolGeom& g, bool relu) {
#ifdef __AVX512F__
    if (is_2x2_stride_2(g)) {
        for (int oh = 0; oh < g.OH; ++oh)
            max_pool_2x2_row(yp + oh * g.OW, ap + oh * g.OW, xp + 2 * oh * g.W, xp + (2 * oh + 1) * g.W,
                             2 * oh * g.W, g.W, g.OW, relu);
        return;
    }
#endif
    max_pool_plane_any(yp, ap, xp, g);
    if (!relu) return;
    for (int i = 0; i < g.OH * g.OW; ++i)
        if (yp[i] <= 0.0f) yp[i] = 0.0f, ap[i] = -1;
}

#ifdef __AVX512F__
// The first write of dx for 2x2 windows, stride 2, H and W even (the windows tile the
// plane): each window's 4 elements are written once, dy at the argmax and 0 elsewhere,
// 16 windows at a time, instead of zeroing the plane and adding dy into it.
// Rows 2 oh and 2 oh + 1 of dxp from output row oh (dy, argmax; row0 = 2 oh W).
void max_pool_2x2_backward_row(float* dxp, const float* dy, const int* argmax, int row0, int W, int OW) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);  // interleave
    const __m512i hi = _mm512_add_epi32(lo, _mm512_set1_epi32(8));
    for (int ow = 0; ow < OW; ow += 16) {
        const int n = std::min(16, OW - ow);
        const __mmask16 in = (__mmask16)((1u << n) - 1);
        const __m512 d = _mm512_maskz_loadu_ps(in, dy + ow);
        const __m512i a = _mm512_maskz_loadu_epi32(in, argmax + ow);
        const __m512i base = _mm512_add_epi32(_mm512_set1_epi32(row0 + 2 * ow), even);  // top-left of each window
        for (int r = 0; r < 2; ++r) {
            const __m512i left = _mm512_add_epi32(base, _mm512_set1_epi32(r * W));
            const __m512 l = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(a, left), d);
            const __m512 rt = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(a, _mm512_add_epi32(left, _mm512_set1_epi32(1))), d);
            float* out = dxp + row0 + (long)r * W + 2 * ow;  // 2n floats: l0 r0 l1 r1 ...
            const int first = std::min(16, 2 * n), second = 2 * n - first;
            _mm512_mask_storeu_ps(out, (__mmask16)((1u << first) - 1), _mm512_permutex2var_ps(l, lo, rt));
            if (second > 0) _mm512_mask_storeu_ps(out + 16, (__mmask16)((1u << second) - 1), _mm512_permutex2var_ps(l, hi, rt));
        }
    }
}
#endif

// One plane of max_pool2d_backward: dxp (H,W) += dyp (OH,OW) routed to each window's
// argmax (none for -1), or = when `assign` (the plane is zeroed here, while in cache,
// or written window by window for the common 2x2 case).
void max_pool_backward_plane(float* dxp, const float* dyp, const int* ap, const PoolGeom& g, bool assign) {
#ifdef __AVX512F__
    if (assign && is_2x2_stride_2(g) && g.H % 2 == 0 && g.W % 2 == 0) {
        for (int oh = 0; oh < g.OH; ++oh)
            max_pool_2x2_backward_row(dxp, dyp + oh * g.OW, ap + oh * g.OW, 2 * oh * g.W, g.W, g.OW);
        return;
    }
#endif
    if (assign) std::fill(dxp, dxp + (long)g.H * g.W, 0.0f);
    for (int i = 0; i < g.OH * g.OW; ++i)
        if (ap[i] >= 0) dxp[ap[i]] += dyp[i];
}

long work_of(const PoolGeom& g) { return (long)g.planes * g.H * g.W; }

}  // namespace

bool max_pool2d_forward(float* y, int* argmax, const float* x, const PoolGeom& g, bool relu) {
    if (!enabled()) return false;
    const long out_plane = (long)g.OH * g.OW, in_plane = (long)g.H * g.W;
    parallel_for(g.planes, work_of(g), [&](long first, long last) {
        for (long p = first; p < last; ++p)
            max_pool_plane(y + p * out_plane, argmax + p * out_plane, x + p * in_plane, g, relu);
    });
    return true;
}

bool max_pool2d_backward(float* dx, bool assign, const float* dy, const int* argmax, const PoolGeom& g) {
    if (!enabled()) return false;
    const long out_plane = (long)g.OH * g.OW, in_plane = (long)g.H * g.W;
    parallel_for(g.planes, work_of(g), [&](long first, long last) {
        for (long p = first; p < last; ++p)
            max_pool_backward_plane(dx + p * in_plane, dy + p * out_plane, argmax + p * out_plane, g, assign);
    });
    return true;
}

void relu_max_pool_plane(float* y, int* argmax, const float* x, const PoolGeom& plane) {
    max_pool_plane(y, argmax, x, plane, true);
}

void max_unpool_plane(float* dx, const float* dy, const int* argmax, const PoolGeom& plane) {
    max_pool_backward_plane(dx, dy, argmax, plane, true);
}

}  // namespace dl::fast
