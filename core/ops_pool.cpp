// Max and average pooling over square windows, without padding. Windows may
// overlap (stride < kernel): backward then adds several contributions into one
// input element, which is safe because each plane is handled by one thread.
#ifdef __AVX512F__
#include <immintrin.h>
#endif

#include <algorithm>
#include <stdexcept>
#include <string>

#include "core/ops_nn.h"
#include "core/parallel.h"
#include "core/pool_planes.h"

namespace dl {

namespace {

// iarg: N*C planes, H, W, OH, OW, kernel, stride
struct PoolGeom {
    int planes, H, W, OH, OW, K, S;
};

PoolGeom pool_geom(const Node& n) {
    return PoolGeom{n.iarg[0], n.iarg[1], n.iarg[2], n.iarg[3], n.iarg[4], n.iarg[5], n.iarg[6]};
}

bool pool_parallel(const PoolGeom& g) { return (long)g.planes * g.H * g.W >= (long)kParallelMin; }

// ---- max pool: y (planes,OH,OW) = max over each window of x (planes,H,W) ----------------
// argmax (planes*OH*OW): the index of the maximum inside its input plane (first on ties,
// scanning the window row by row).
// The reference for any window; max_pool2d uses the 2x2 stride-2 kernel below when it fits.
void max_pool_forward_plane(float* y, int* argmax, const float* xp, const PoolGeom& g) {
    for (int oh = 0; oh < g.OH; ++oh)
        for (int ow = 0; ow < g.OW; ++ow) {
            int best = oh * g.S * g.W + ow * g.S;
            float best_v = xp[best];
            for (int kh = 0; kh < g.K; ++kh) {
                const int row = (oh * g.S + kh) * g.W + ow * g.S;
                for (int kw = 0; kw < g.K; ++kw)
                    if (xp[row + kw] > best_v) {
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
// candidates are compared in the reference's order with a strict '>' (same ties, same NaNs).
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
            const __mmask16 gt = _mm512_cmp_ps_mask(cand[c], best, _CMP_GT_OQ);
            best = _mm512_mask_blend_ps(gt, best, cand[c]);
            idx = _mm512_mask_blend_epi32(gt, idx, _mm512_add_epi32(base, _mm512_set1_epi32(offset[c])));
        }
        if (relu) {  // !(best > 0): 0 and no gradient (NaN included, as in the scalar clamp)
            const __mmask16 pos = _mm512_cmp_ps_mask(best, _mm512_setzero_ps(), _CMP_GT_OQ);
            best = _mm512_maskz_mov_ps(pos, best);
            idx = _mm512_mask_blend_epi32(pos, _mm512_set1_epi32(-1), idx);
        }
        const __mmask16 out = (__mmask16)((1u << n) - 1);
        _mm512_mask_storeu_ps(y + ow, out, best);
        _mm512_mask_storeu_epi32(argmax + ow, out, idx);
    }
}
#endif

bool is_2x2_stride_2(const PoolGeom& g) { return g.K == 2 && g.S == 2; }

// One plane of max_pool_forward, with the ReLU clamp when `relu` (see below).
void max_pool_plane(float* yp, int* ap, const float* xp, const PoolGeom& g, bool relu) {
#ifdef __AVX512F__
    if (is_2x2_stride_2(g)) {
        for (int oh = 0; oh < g.OH; ++oh)
            max_pool_2x2_row(yp + oh * g.OW, ap + oh * g.OW, xp + 2 * oh * g.W, xp + (2 * oh + 1) * g.W,
                             2 * oh * g.W, g.W, g.OW, relu);
        return;
    }
#endif
    max_pool_forward_plane(yp, ap, xp, g);
    if (!relu) return;
    for (int i = 0; i < g.OH * g.OW; ++i)
        if (!(yp[i] > 0.0f)) yp[i] = 0.0f, ap[i] = -1;
}

// y = max pool of x, and with `relu` y = max(y, 0) with argmax -1 (no gradient)
// where the window held no positive value: the same as pooling relu(x), whose
// maximum there is a 0 with zero derivative. The clamp runs on the plane just
// written, while it is in cache.
void max_pool_forward(float* y, int* argmax, const float* x, const PoolGeom& g, bool relu) {
    const int out_plane = g.OH * g.OW;
#pragma omp parallel for schedule(static) if (pool_parallel(g))
    for (int p = 0; p < g.planes; ++p)
        max_pool_plane(y + (long)p * out_plane, argmax + (long)p * out_plane, x + (long)p * g.H * g.W, g, relu);
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

// One plane of max_pool_backward: dxp (H,W) += dyp (OH,OW) routed to each window's
// argmax (none for -1), or = when `assign`.
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

// dx (planes,H,W) += dy (planes,OH,OW) routed to each window's argmax.
// On the first write of dx each plane is zeroed here, in the parallel loop,
// while it is in cache (instead of the whole tensor on one thread), or written
// window by window for the common 2x2 case.
void max_pool_backward(Tape& t, Node& n) {
    const PoolGeom g = pool_geom(n);
    bool assign;
    float* dx = t.grad_write(n.in[0], assign).data();
    const float* dy = n.grad->data();
    const int* argmax = n.ints.data();
    const int out_plane = g.OH * g.OW;
#pragma omp parallel for schedule(static) if (pool_parallel(g))
    for (int p = 0; p < g.planes; ++p)
        max_pool_backward_plane(dx + (long)p * g.H * g.W, dy + (long)p * out_plane, argmax + (long)p * out_plane, g,
                                assign);
}

// ---- average pool: y = mean over each K x K window -------------------------------------
void avg_pool_forward(float* y, const float* x, const PoolGeom& g) {
    const float inv = 1.0f / (float)(g.K * g.K);
#pragma omp parallel for schedule(static) if (pool_parallel(g))
    for (int p = 0; p < g.planes; ++p) {
        const float* xp = x + (long)p * g.H * g.W;
        for (int oh = 0; oh < g.OH; ++oh)
            for (int ow = 0; ow < g.OW; ++ow) {
                float acc = 0.0f;
                for (int kh = 0; kh < g.K; ++kh)
                    for (int kw = 0; kw < g.K; ++kw) acc += xp[(oh * g.S + kh) * g.W + ow * g.S + kw];
                y[((long)p * g.OH + oh) * g.OW + ow] = acc * inv;
            }
    }
}

// dx (planes,H,W) += dy / K^2 spread over each window
void avg_pool_backward(Tape& t, Node& n) {
    const PoolGeom g = pool_geom(n);
    bool assign;
    float* dx = t.grad_write(n.in[0], assign).data();
    const float* dy = n.grad->data();
    const float inv = 1.0f / (float)(g.K * g.K);
#pragma omp parallel for schedule(static) if (pool_parallel(g))
    for (int p = 0; p < g.planes; ++p) {
        float* dxp = dx + (long)p * g.H * g.W;
        if (assign) std::fill(dxp, dxp + (long)g.H * g.W, 0.0f);
        for (int oh = 0; oh < g.OH; ++oh)
            for (int ow = 0; ow < g.OW; ++ow) {
                const float d = dy[((long)p * g.OH + oh) * g.OW + ow] * inv;
                for (int kh = 0; kh < g.K; ++kh)
                    for (int kw = 0; kw < g.K; ++kw) dxp[(oh * g.S + kh) * g.W + ow * g.S + kw] += d;
            }
    }
}

// Checks the arguments and records the node; the caller fills its output.
Node& record_pool(Tape& t, const char* op, Var x, int kernel, int stride, BackwardFn backward) {
    const Shape& s = t.shape(x);
    if (s.rank != 4)
        throw std::invalid_argument(std::string(op) + ": input " + s.str() + " must be (N, C, H, W)");
    if (kernel < 1 || stride < 1)
        throw std::invalid_argument(std::string(op) + ": kernel " + std::to_string(kernel) + " and stride " +
                                    std::to_string(stride) + " must be >= 1");
    if (s[2] < kernel || s[3] < kernel)
        throw std::invalid_argument(std::string(op) + ": input " + s.str() + " is smaller than the " +
                                    std::to_string(kernel) + "x" + std::to_string(kernel) + " window");
    const int OH = (s[2] - kernel) / stride + 1, OW = (s[3] - kernel) / stride + 1;
    Node& n = t.record(op, Shape{s[0], s[1], OH, OW}, {x}, backward);
    const int args[7] = {s[0] * s[1], s[2], s[3], OH, OW, kernel, stride};
    std::copy(args, args + 7, n.iarg);
    return n;
}

}  // namespace

Var max_pool2d(Tape& t, Var x, int kernel, int stride) {
    Node& n = record_pool(t, "max_pool2d", x, kernel, stride, max_pool_backward);
    n.ints.resize(n.out.size());
    max_pool_forward(n.out.data(), n.ints.data(), t.value(x).data(), pool_geom(n), false);
    return Var{t.size() - 1};
}

void relu_max_pool_plane(float* y, int* argmax, const float* x, int H, int W, int kernel, int stride) {
    const PoolGeom g{1, H, W, (H - kernel) / stride + 1, (W - kernel) / stride + 1, kernel, stride};
    max_pool_plane(y, argmax, x, g, true);
}

void max_unpool_plane(float* dx, const float* dy, const int* argmax, int H, int W, int kernel, int stride) {
    const PoolGeom g{1, H, W, (H - kernel) / stride + 1, (W - kernel) / stride + 1, kernel, stride};
    max_pool_backward_plane(dx, dy, argmax, g, true);
}

Var relu_max_pool2d(Tape& t, Var x, int kernel, int stride) {
    Node& n = record_pool(t, "relu_max_pool2d", x, kernel, stride, max_pool_backward);
    n.ints.resize(n.out.size());
    max_pool_forward(n.out.data(), n.ints.data(), t.value(x).data(), pool_geom(n), true);
    return Var{t.size() - 1};
}

void max_pool2d_forward_naive(float* out, int* argmax, const float* inp, int planes, int H, int W, int kernel,
                              int stride) {
    const PoolGeom g{planes, H, W, (H - kernel) / stride + 1, (W - kernel) / stride + 1, kernel, stride};
    for (int p = 0; p < planes; ++p)
        max_pool_forward_plane(out + (long)p * g.OH * g.OW, argmax + (long)p * g.OH * g.OW, inp + (long)p * H * W, g);
}

Var avg_pool2d(Tape& t, Var x, int kernel, int stride) {
    Node& n = record_pool(t, "avg_pool2d", x, kernel, stride, avg_pool_backward);
    avg_pool_forward(n.out.data(), t.value(x).data(), pool_geom(n));
    return Var{t.size() - 1};
}

}  // namespace dl
