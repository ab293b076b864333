// Direct AVX-512 convolution kernels; see core/conv_direct.h for what each computes.
#ifdef __AVX512F__
#include <immintrin.h>
#endif

#include <algorithm>

#include "core/conv_direct.h"

namespace dl {

// ---- direct convolution (stride 1, AVX-512) ----------------------------------------------
// For these small layers OpenBLAS reaches 60-75 GFLOP/s per core on the per-example
// GEMMs, and im2col copies the input KH*KW times first. The direct kernel reads
// the padded input in place: a register tile of 3 output rows x 16 columns x 8
// channels (24 accumulators) takes, for each k = (c,kh,kw), three shifted input
// rows and 8 broadcast weights: 24 FMAs for 11 loads. It serves forward and,
// through the flipped weights, the input gradient.
#ifdef __AVX512F__
bool direct_conv(const Geom& g) { return g.S == 1 && g.OC % 8 == 0; }

namespace {

// 8 accumulators by name: GCC keeps an array of vectors in memory and stores all
// of them on every step of the loop (a 512-bit store per FMA halved the speed).
struct Acc8 {
    __m512 a0, a1, a2, a3, a4, a5, a6, a7;

    // a_j = y[j * stride] under mask m when `add`, else bias[j] (or 0)
    void init(const float* y, long stride, __mmask16 m, bool add, const float* bias) {
        a0 = first(y, 0, stride, m, add, bias), a1 = first(y, 1, stride, m, add, bias);
        a2 = first(y, 2, stride, m, add, bias), a3 = first(y, 3, stride, m, add, bias);
        a4 = first(y, 4, stride, m, add, bias), a5 = first(y, 5, stride, m, add, bias);
        a6 = first(y, 6, stride, m, add, bias), a7 = first(y, 7, stride, m, add, bias);
    }
    static __m512 first(const float* y, int j, long stride, __mmask16 m, bool add, const float* bias) {
        return add ? _mm512_maskz_loadu_ps(m, y + j * stride) : _mm512_set1_ps(bias ? bias[j] : 0.0f);
    }
    void store(float* y, long stride, __mmask16 m) const {
        _mm512_mask_storeu_ps(y, m, a0), _mm512_mask_storeu_ps(y + stride, m, a1);
        _mm512_mask_storeu_ps(y + 2 * stride, m, a2), _mm512_mask_storeu_ps(y + 3 * stride, m, a3);
        _mm512_mask_storeu_ps(y + 4 * stride, m, a4), _mm512_mask_storeu_ps(y + 5 * stride, m, a5);
        _mm512_mask_storeu_ps(y + 6 * stride, m, a6), _mm512_mask_storeu_ps(y + 7 * stride, m, a7);
    }
};

// One weight x (broadcast) times the R input rows: a += x u, and for R >= 2 and 3
// also b += x v and c += x z.
template <int R>
inline void fma_rows(__m512 x, __m512& a, __m512& b, __m512& c, __m512 u, __m512 v, __m512 z) {
    a = _mm512_fmadd_ps(x, u, a);
    if constexpr (R >= 2) b = _mm512_fmadd_ps(x, v, b);
    if constexpr (R >= 3) c = _mm512_fmadd_ps(x, z, c);
}

// The 8 weights w (each broadcast once) times the R input rows u, v, z.
template <int R>
inline void fma_rx8(Acc8& a, Acc8& b, Acc8& c, const float* w, __m512 u, __m512 v, __m512 z) {
    fma_rows<R>(_mm512_set1_ps(w[0]), a.a0, b.a0, c.a0, u, v, z);
    fma_rows<R>(_mm512_set1_ps(w[1]), a.a1, b.a1, c.a1, u, v, z);
    fma_rows<R>(_mm512_set1_ps(w[2]), a.a2, b.a2, c.a2, u, v, z);
    fma_rows<R>(_mm512_set1_ps(w[3]), a.a3, b.a3, c.a3, u, v, z);
    fma_rows<R>(_mm512_set1_ps(w[4]), a.a4, b.a4, c.a4, u, v, z);
    fma_rows<R>(_mm512_set1_ps(w[5]), a.a5, b.a5, c.a5, u, v, z);
    fma_rows<R>(_mm512_set1_ps(w[6]), a.a6, b.a6, c.a6, u, v, z);
    fma_rows<R>(_mm512_set1_ps(w[7]), a.a7, b.a7, c.a7, u, v, z);
}

// Output rows [oh, oh + R) (R = 1..3), columns [ow, ow + 16) under mask m, channels
// [o0, o0 + 8): R*8 accumulators (a, b, c: one Acc8 per row; the unused ones are
// never touched). The row count is a template argument so that a short last tile
// (14 rows = 3+3+3+3+2) does no work for rows it does not have.
template <int R>
void direct_tile(float* y, const float* xpad, const float* wt, const float* bias, bool add, const Geom& g,
                 int oh, int ow, __mmask16 m, int o0) {
    const int OH = g.OH(), OW = g.OW(), Wp = g.Wp(), plane = g.Hp() * g.Wp();
    const long stride = (long)OH * OW;  // between channels of y
    float* y0 = y + ((long)o0 * OH + oh) * OW + ow;
    const float* b0 = bias ? bias + o0 : nullptr;
    Acc8 a, b, c;
    a.init(y0, stride, m, add, b0);
    if constexpr (R >= 2) b.init(y0 + OW, stride, m, add, b0);
    if constexpr (R >= 3) c.init(y0 + 2 * OW, stride, m, add, b0);
    const float* w = wt + o0;
    for (int ci = 0; ci < g.C; ++ci)
        for (int kh = 0; kh < g.KH; ++kh) {
            const float* row = xpad + (long)ci * plane + (long)(oh + kh) * Wp + ow;
            for (int kw = 0; kw < g.KW; ++kw, w += g.OC) {
                const __m512 u = _mm512_maskz_loadu_ps(m, row + kw);
                const __m512 v = R >= 2 ? _mm512_maskz_loadu_ps(m, row + Wp + kw) : u;
                const __m512 z = R >= 3 ? _mm512_maskz_loadu_ps(m, row + 2 * Wp + kw) : u;
                fma_rx8<R>(a, b, c, w, u, v, z);
            }
        }
    a.store(y0, stride, m);
    if constexpr (R >= 2) b.store(y0 + OW, stride, m);
    if constexpr (R >= 3) c.store(y0 + 2 * OW, stride, m);
}

}  // namespace

// y (OC,OH,OW) = bias + conv(xpad), or y += conv(xpad) when `add`.
// xpad (C,Hp,Wp) padded input; wt (K,OC) the weights transposed (K = C*KH*KW); bias (OC) or nullptr.
void conv_direct_example(float* y, const float* xpad, const float* wt, const float* bias, bool add, const Geom& g) {
    const int OH = g.OH(), OW = g.OW();
    for (int ow = 0; ow < OW; ow += 16) {
        const __mmask16 m = OW - ow >= 16 ? (__mmask16)0xFFFF : tail_mask(OW - ow);
        for (int o0 = 0; o0 < g.OC; o0 += 8) {
            int oh = 0;
            for (; oh + 3 <= OH; oh += 3) direct_tile<3>(y, xpad, wt, bias, add, g, oh, ow, m, o0);
            if (OH - oh == 2) direct_tile<2>(y, xpad, wt, bias, add, g, oh, ow, m, o0);
            if (OH - oh == 1) direct_tile<1>(y, xpad, wt, bias, add, g, oh, ow, m, o0);
        }
    }
}
#else
bool direct_conv(const Geom&) { return false; }
void conv_direct_example(float*, const float*, const float*, const float*, bool, const Geom&) {}
#endif

// ---- weight gradient, direct (stride 1, OC = 32, K a multiple of 10) -------------------------
// dW^T[(c,kh,kw)][o] += sum_{oh,ow} xpad[c][oh+kh][ow+kw] dy[o][oh][ow]. With dy transposed
// to dyt (OHW,OC), the 32 channels of one position are two vectors; a tile of 10
// consecutive k holds 20 accumulators, and each position costs 2 loads, 10 broadcasts
// of input values (read in place: no im2col) and 20 FMAs. No lanes are wasted on the
// 14-wide rows and no horizontal sums are needed.
#ifdef __AVX512F__
bool direct_weight_grad(const Geom& g) { return g.S == 1 && g.OC == 32 && g.K() % 10 == 0; }

namespace {

struct Acc10 {
    __m512 k0, k1, k2, k3, k4, k5, k6, k7, k8, k9;
    Acc10()
        : k0(_mm512_setzero_ps()), k1(k0), k2(k0), k3(k0), k4(k0), k5(k0), k6(k0), k7(k0), k8(k0), k9(k0) {}
};

// lo_j += x[off_j] dlo and hi_j += x[off_j] dhi for the tile's 10 input values
inline void fma_10x2(Acc10& lo, Acc10& hi, const float* x, const long* off, __m512 dlo, __m512 dhi) {
    __m512 v;
    v = _mm512_set1_ps(x[off[0]]), lo.k0 = _mm512_fmadd_ps(v, dlo, lo.k0), hi.k0 = _mm512_fmadd_ps(v, dhi, hi.k0);
    v = _mm512_set1_ps(x[off[1]]), lo.k1 = _mm512_fmadd_ps(v, dlo, lo.k1), hi.k1 = _mm512_fmadd_ps(v, dhi, hi.k1);
    v = _mm512_set1_ps(x[off[2]]), lo.k2 = _mm512_fmadd_ps(v, dlo, lo.k2), hi.k2 = _mm512_fmadd_ps(v, dhi, hi.k2);
    v = _mm512_set1_ps(x[off[3]]), lo.k3 = _mm512_fmadd_ps(v, dlo, lo.k3), hi.k3 = _mm512_fmadd_ps(v, dhi, hi.k3);
    v = _mm512_set1_ps(x[off[4]]), lo.k4 = _mm512_fmadd_ps(v, dlo, lo.k4), hi.k4 = _mm512_fmadd_ps(v, dhi, hi.k4);
    v = _mm512_set1_ps(x[off[5]]), lo.k5 = _mm512_fmadd_ps(v, dlo, lo.k5), hi.k5 = _mm512_fmadd_ps(v, dhi, hi.k5);
    v = _mm512_set1_ps(x[off[6]]), lo.k6 = _mm512_fmadd_ps(v, dlo, lo.k6), hi.k6 = _mm512_fmadd_ps(v, dhi, hi.k6);
    v = _mm512_set1_ps(x[off[7]]), lo.k7 = _mm512_fmadd_ps(v, dlo, lo.k7), hi.k7 = _mm512_fmadd_ps(v, dhi, hi.k7);
    v = _mm512_set1_ps(x[off[8]]), lo.k8 = _mm512_fmadd_ps(v, dlo, lo.k8), hi.k8 = _mm512_fmadd_ps(v, dhi, hi.k8);
    v = _mm512_set1_ps(x[off[9]]), lo.k9 = _mm512_fmadd_ps(v, dlo, lo.k9), hi.k9 = _mm512_fmadd_ps(v, dhi, hi.k9);
}

// dst[0..16) += v
inline void add_to(float* dst, __m512 v) { _mm512_storeu_ps(dst, _mm512_add_ps(_mm512_loadu_ps(dst), v)); }

}  // namespace

// dwt (K,32) += the weight gradient of one example; xpad (C,Hp,Wp), dyt (OHW,32).
void weight_grad_direct(float* dwt, const float* xpad, const float* dyt, const Geom& g) {
    const int OH = g.OH(), OW = g.OW(), Wp = g.Wp(), plane = g.Hp() * g.Wp();
    for (int k0 = 0; k0 < g.K(); k0 += 10) {
        long off[10];  // offset of each k's window origin in xpad
        for (int j = 0; j < 10; ++j) {
            const int k = k0 + j, c = k / (g.KH * g.KW), kh = k / g.KW % g.KH, kw = k % g.KW;
            off[j] = (long)c * plane + (long)kh * Wp + kw;
        }
        Acc10 lo, hi;
        const float* d = dyt;
        for (int oh = 0; oh < OH; ++oh)
            for (int ow = 0; ow < OW; ++ow, d += 32)
                fma_10x2(lo, hi, xpad + (long)oh * Wp + ow, off, _mm512_loadu_ps(d), _mm512_loadu_ps(d + 16));
        float* out = dwt + (long)k0 * 32;
        add_to(out + 0, lo.k0), add_to(out + 16, hi.k0);
        add_to(out + 32, lo.k1), add_to(out + 48, hi.k1);
        add_to(out + 64, lo.k2), add_to(out + 80, hi.k2);
        add_to(out + 96, lo.k3), add_to(out + 112, hi.k3);
        add_to(out + 128, lo.k4), add_to(out + 144, hi.k4);
        add_to(out + 160, lo.k5), add_to(out + 176, hi.k5);
        add_to(out + 192, lo.k6), add_to(out + 208, hi.k6);
        add_to(out + 224, lo.k7), add_to(out + 240, hi.k7);
        add_to(out + 256, lo.k8), add_to(out + 272, hi.k8);
        add_to(out + 288, lo.k9), add_to(out + 304, hi.k9);
    }
}
#else
bool direct_weight_grad(const Geom&) { return false; }
void weight_grad_direct(float*, const float*, const float*, const Geom&) {}
#endif

}  // namespace dl
