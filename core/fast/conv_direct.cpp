// Direct AVX-512 convolution kernels; see core/fast/conv_direct.h for what each computes.
#ifdef __AVX512F__
#include <immintrin.h>
#endif

#include <algorithm>

#include "core/fast/conv_direct.h"

namespace dl::fast {

// ---- direct convolution (stride 1, AVX-512) ----------------------------------------------
// For these small layers OpenBLAS reaches 60-75 GFLOP/s per core on the per-example
// GEMMs, and im2col copies the input KH*KW times first. The direct kernel reads
// the padded input in place: a register tile of 3 output rows x 16 columns x 8
// channels (24 accumulators) takes, for each k = (c,kh,kw), three shifted input
// rows and 8 broadcast weights: 24 FMAs for 11 loads. It serves forward and,
// through the flipped weights, the input gradient.
#ifdef __AVX512F__
bool direct_conv(const ConvGeom& g) { return g.S == 1 && g.OC % 8 == 0; }

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
void direct_tile(float* y, const float* xpad, const float* wt, const float* bias, bool add, const ConvGeom& g,
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
void conv_direct_example(float* y, const float* xpad, const float* wt, const float* bias, bool add, const ConvGeom& g) {
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
bool direct_conv(const ConvGeom&) { return false; }
void conv_direct_example(float*, const float*, const float*, const float*, bool, const ConvGeom&) {}
#endif

// ---- weight gradient, direct (stride 1, 16, 32 or 64 channels) ---------------------------------
// dW^T[(c,kh,kw)][o] += sum_{oh,ow} xpad[c][oh+kh][ow+kw] dy[o][oh][ow]. With dy transposed
// to dyt (OHW,OC), the OC channels of one position are V = OC/16 vectors. A tile holds
// the accumulators of RH consecutive kernel rows r = (c,kh) times all KW columns:
// RH*KW*V vectors. Each position then costs V loads, RH*KW broadcasts of input
// values (read in place from xpad: no im2col) and RH*KW*V FMAs. No lanes are wasted
// on the 14-wide rows and no horizontal sums are needed. The shapes:
//   OC 32, 5x5: V 2, RH 2 (20 accumulators, 10 broadcasts per 20 FMAs)
//   OC 32, 3x3: V 2, RH 3 (18 accumulators, 9 per 18)
//   OC 16, 5x5: V 1, RH 5 (25 accumulators, 25 per 25: cnn's first layer, C = 1)
//   OC 64, 3x3: V 4, RH 2 (24 accumulators, 6 per 24: cnn-bn's second layer)
// The loops over the tile are fully unrolled, so GCC keeps the accumulator array
// in registers.
#ifdef __AVX512F__
namespace {

template <int V, int RH, int KW>
struct WgradShape {
    static bool fits(const ConvGeom& g) { return g.OC == 16 * V && g.KW == KW && (g.C * g.KH) % RH == 0; }
};
using Wgrad32x5 = WgradShape<2, 2, 5>;
using Wgrad32x3 = WgradShape<2, 3, 3>;
using Wgrad16x5 = WgradShape<1, 5, 5>;
using Wgrad64x3 = WgradShape<4, 2, 3>;

// dwt rows [r0*KW, (r0+RH)*KW) += the tile's gradient; xpad (C,Hp,Wp), dyt (OHW,16V).
// Predictive commoning (-O3) would keep the input values shared by neighbouring
// positions in scalar registers and spill most of them: measured slower here.
template <int V, int RH, int KW>
__attribute__((optimize("no-predictive-commoning"))) void weight_grad_tile(float* dwt, const float* xpad,
                                                                           const float* dyt, const ConvGeom& g, int r0) {
    const int OH = g.OH(), OW = g.OW(), Wp = g.Wp();
    const float* rows[RH];  // the input row of each kernel row (c,kh) at oh = 0
#pragma GCC unroll 8
    for (int j = 0; j < RH; ++j) {
        const int c = (r0 + j) / g.KH, kh = (r0 + j) % g.KH;
        rows[j] = xpad + ((long)c * g.Hp() + kh) * Wp;
    }
    __m512 acc[RH][KW][V];
#pragma GCC unroll 8
    for (int j = 0; j < RH; ++j)
#pragma GCC unroll 8
        for (int kw = 0; kw < KW; ++kw)
#pragma GCC unroll 4
            for (int v = 0; v < V; ++v) acc[j][kw][v] = _mm512_setzero_ps();
    const float* d = dyt;
    for (int oh = 0; oh < OH; ++oh)
        for (int ow = 0; ow < OW; ++ow, d += 16 * V) {
            __m512 dv[V];
#pragma GCC unroll 4
            for (int v = 0; v < V; ++v) dv[v] = _mm512_loadu_ps(d + 16 * v);
#pragma GCC unroll 8
            for (int j = 0; j < RH; ++j)
#pragma GCC unroll 8
                for (int kw = 0; kw < KW; ++kw) {
                    const __m512 x = _mm512_set1_ps(rows[j][(long)oh * Wp + ow + kw]);
#pragma GCC unroll 4
                    for (int v = 0; v < V; ++v) acc[j][kw][v] = _mm512_fmadd_ps(x, dv[v], acc[j][kw][v]);
                }
        }
    float* out = dwt + (long)r0 * KW * 16 * V;
#pragma GCC unroll 8
    for (int j = 0; j < RH; ++j)
#pragma GCC unroll 8
        for (int kw = 0; kw < KW; ++kw)
#pragma GCC unroll 4
            for (int v = 0; v < V; ++v) {
                float* o = out + ((j * KW + kw) * V + v) * 16;
                _mm512_storeu_ps(o, _mm512_add_ps(_mm512_loadu_ps(o), acc[j][kw][v]));
            }
}

template <int V, int RH, int KW>
void weight_grad_tiles(float* dwt, const float* xpad, const float* dyt, const ConvGeom& g) {
    for (int r0 = 0; r0 < g.C * g.KH; r0 += RH) weight_grad_tile<V, RH, KW>(dwt, xpad, dyt, g, r0);
}

}  // namespace

bool direct_weight_grad(const ConvGeom& g) {
    return g.S == 1 && (Wgrad32x5::fits(g) || Wgrad32x3::fits(g) || Wgrad16x5::fits(g) || Wgrad64x3::fits(g));
}

// dwt (K,OC) += the weight gradient of one example; xpad (C,Hp,Wp), dyt (OHW,OC).
void weight_grad_direct(float* dwt, const float* xpad, const float* dyt, const ConvGeom& g) {
    if (Wgrad32x5::fits(g)) weight_grad_tiles<2, 2, 5>(dwt, xpad, dyt, g);
    else if (Wgrad32x3::fits(g)) weight_grad_tiles<2, 3, 3>(dwt, xpad, dyt, g);
    else if (Wgrad16x5::fits(g)) weight_grad_tiles<1, 5, 5>(dwt, xpad, dyt, g);
    else if (Wgrad64x3::fits(g)) weight_grad_tiles<4, 2, 3>(dwt, xpad, dyt, g);
}
#else
bool direct_weight_grad(const ConvGeom&) { return false; }
void weight_grad_direct(float*, const float*, const float*, const ConvGeom&) {}
#endif

}  // namespace dl::fast
