// Winograd F(2x2, 5x5) in Highway; see core/fast/winograd_hwy.h for the method.
//
// One example at a time, in chunks of tile rows (about 96 tiles, so that the transformed
// input and products stay in L2), in the caller's scratch:
//   1. xl (rows, cols, Cv): the chunk's padded input, channels last (zeros outside the data);
//   2. V (36, Tp, Cv): B^T d B per tile, a vector of channels at a time;
//   3. M (36, Tp, Op): for each position p, M[p] = V[p] . U[p], by register tiles of
//      6 tiles x NV vectors of output channels (the forward tiles' shape, conv_hwy.cpp);
//   4. yt: A^T M A + bias per tile, a vector of output channels at a time.
// The weight gradient repeats 1-2, then DY = A dy A^T per tile and dU[p] += V[p]^T . DY[p];
// G^T dU G is taken once the sums over tiles, examples and threads are complete.
// Tp is the chunk's tile count rounded up to 6 (the spare rows of V are zeros); Cv the input
// channels rounded up to the vector width; Op the output channels rounded up to 16.
#include "core/fast/simd_targets.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "core/fast/winograd_hwy.cpp"
#include <hwy/foreach_target.h>  // re-includes this file once per target
#include <hwy/highway.h>

#include <algorithm>

#include "core/fast/conv_hwy.h"
#include "core/fast/winograd_hwy.h"

// ---- shared by every target (compiled once) -----------------------------------------
#ifndef DL_FAST_WINOGRAD_HWY_SHARED
#define DL_FAST_WINOGRAD_HWY_SHARED
namespace dl::fast::detail {

// G (6x5) of F(2x2, 5x5) with the interpolation points 0, 1, -1, 2, -2 and infinity, for the
// kernel's transform; B^T, A^T, A and G^T are written out in InputRows, OutputRows, Expand and
// KernelRows below.
constexpr double kG[6][5] = {{1 / 4.0, 0, 0, 0, 0},
                             {-1 / 6.0, -1 / 6.0, -1 / 6.0, -1 / 6.0, -1 / 6.0},
                             {-1 / 6.0, 1 / 6.0, -1 / 6.0, 1 / 6.0, -1 / 6.0},
                             {1 / 24.0, 1 / 12.0, 1 / 6.0, 1 / 3.0, 2 / 3.0},
                             {1 / 24.0, -1 / 12.0, 1 / 6.0, -1 / 3.0, 2 / 3.0},
                             {0, 0, 0, 0, 1}};

// The output's 2x2 tiles (TH rows of TW), taken in chunks of `rows` tile rows, about 96
// tiles (at least one row), so that a chunk's V and M stay in L2.
struct Chunks {
    int TH, TW, rows;
    Chunks(int OH, int OW) : TH((OH + 1) / 2), TW((OW + 1) / 2), rows(std::max(1, std::min(TH, 96 / TW))) {}
    int cols() const { return 2 * TW + 4; }                              // padded input columns a chunk reads
    long xl_pixels() const { return (long)(2 * rows + 4) * cols(); }     // and its pixels
    long max_tiles() const { return ((long)rows * TW + 5) / 6 * 6; }     // tiles a chunk, rounded up to 6
};

}  // namespace dl::fast::detail
#endif

HWY_BEFORE_NAMESPACE();
namespace dl::fast::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;

// r = B^T d for six vectors d (six pixels down one column of a tile, or along one row).
HWY_INLINE void InputRows(const VF* d, VF* r) {
    const DF df;
    const VF f2 = hn::Set(df, 2.0f), f4 = hn::Set(df, 4.0f), f5 = hn::Set(df, 5.0f);
    r[0] = hn::NegMulAdd(f5, d[2], hn::MulAdd(f4, d[0], d[4]));  // 4 d0 - 5 d2 + d4
    const VF a = hn::NegMulAdd(f4, d[2], d[4]), b = hn::NegMulAdd(f4, d[1], d[3]);
    r[1] = hn::Add(a, b);  // -4 d1 - 4 d2 + d3 + d4
    r[2] = hn::Sub(a, b);  //  4 d1 - 4 d2 - d3 + d4
    const VF c = hn::Sub(d[4], d[2]), e = hn::Mul(f2, hn::Sub(d[3], d[1]));
    r[3] = hn::Add(c, e);                                        // -2 d1 - d2 + 2 d3 + d4
    r[4] = hn::Sub(c, e);                                        //  2 d1 - d2 - 2 d3 + d4
    r[5] = hn::NegMulAdd(f5, d[3], hn::MulAdd(f4, d[1], d[5]));  //  4 d1 - 5 d3 + d5
}

// (y0, y1) = A^T m for six vectors m.
HWY_INLINE void OutputRows(const VF* m, VF& y0, VF& y1) {
    const DF df;
    const VF d12 = hn::Sub(m[1], m[2]), d34 = hn::Sub(m[3], m[4]);
    y0 = hn::Add(hn::Add(m[0], hn::Add(m[1], m[2])), hn::Add(m[3], m[4]));  // m0 + m1 + m2 + m3 + m4
    y1 = hn::Add(hn::MulAdd(hn::Set(df, 2.0f), d34, d12), m[5]);            // m1 - m2 + 2 m3 - 2 m4 + m5
}

// xl (rows, cols, Cv): pixel (i, j) = the input at row in.r0 + row0 + i, column in.c0 + j,
// channels last; 0 outside the data and for channels C..Cv-1.
void Gather(float* xl, int rows, int cols, int Cv, const WinogradInput& in, int row0) {
    std::fill(xl, xl + (long)rows * cols * Cv, 0.0f);
    const int j0 = std::max(0, in.c_lo - in.c0), j1 = std::min(cols, in.c_hi - in.c0);
    for (int i = 0; i < rows; ++i) {
        const int r = in.r0 + row0 + i;
        if (r < in.r_lo || r >= in.r_hi) continue;
        const float* src = in.src + (long)r * in.row_stride + in.c0;
        float* dst = xl + (long)i * cols * Cv;
        for (int c = 0; c < in.C; ++c, src += in.plane)
            for (int j = j0; j < j1; ++j) dst[(long)j * Cv + c] = src[j];
    }
}

// V (36, Tp, Cv) = B^T d B for the nty x TW tiles of xl (tile (ty, tx) reads rows 2ty..2ty+5
// and columns 2tx..2tx+5).
void InputTransform(float* V, long ldp, const float* xl, int cols, int Cv, int nty, int TW) {
    const DF d;
    const int L = (int)hn::Lanes(d);
    for (int ty = 0; ty < nty; ++ty)
        for (int tx = 0; tx < TW; ++tx) {
            const long t = (long)ty * TW + tx;
            for (int c = 0; c < Cv; c += L) {
                VF bd[6][6];  // B^T d: bd[a][b]
                for (int b = 0; b < 6; ++b) {
                    VF col[6], r[6];
                    for (int l = 0; l < 6; ++l)
                        col[l] = hn::LoadU(d, xl + ((long)(2 * ty + l) * cols + 2 * tx + b) * Cv + c);
                    InputRows(col, r);
                    for (int a = 0; a < 6; ++a) bd[a][b] = r[a];
                }
                for (int a = 0; a < 6; ++a) {
                    VF r[6];
                    InputRows(bd[a], r);
                    for (int b = 0; b < 6; ++b) hn::StoreU(r[b], d, V + (a * 6 + b) * ldp + t * Cv + c);
                }
            }
        }
}

// V (36, Tp, Cv) = B^T d B for the nty tile rows from ty0 (xl: scratch for their input), the
// spare tile rows up to Tp = the tile count rounded up to 6 zeroed, so they compute zeros.
void TransformChunk(float* V, float* xl, const WinogradInput& in, const detail::Chunks& ch, int Cv, int ty0,
                    int nty) {
    const long T = (long)nty * ch.TW, Tp = (T + 5) / 6 * 6;
    Gather(xl, 2 * nty + 4, ch.cols(), Cv, in, 2 * ty0);
    InputTransform(V, Tp * Cv, xl, ch.cols(), Cv, nty, ch.TW);
    for (int p = 0; p < 36; ++p) std::fill(V + (p * Tp + T) * Cv, V + (p + 1) * Tp * Cv, 0.0f);
}

// m (6, NV vectors) = v (6 rows, ldv apart) . u (C, ldu), over the first C columns of v.
template <int NV>
HWY_INLINE void GemmTile(const float* v, int ldv, const float* u, int ldu, float* m, int ldm, int C) {
    const DF d;
    const int L = (int)hn::Lanes(d);
    VF acc[6][NV];
    for (int i = 0; i < 6; ++i)
        for (int j = 0; j < NV; ++j) acc[i][j] = hn::Zero(d);
    for (int c = 0; c < C; ++c, u += ldu) {
        VF w[NV];
        for (int j = 0; j < NV; ++j) w[j] = hn::LoadU(d, u + j * L);
        for (int i = 0; i < 6; ++i) {
            const VF b = hn::Set(d, v[i * ldv + c]);
            for (int j = 0; j < NV; ++j) acc[i][j] = hn::MulAdd(b, w[j], acc[i][j]);
        }
    }
    for (int i = 0; i < 6; ++i)
        for (int j = 0; j < NV; ++j) hn::StoreU(acc[i][j], d, m + (long)i * ldm + j * L);
}

// M[p] (Tp, Op) = V[p] (Tp, Cv; first C columns) . U[p] (C, Op), for each of the 36 positions.
void Products(float* M, const float* V, const float* u, int Tp, int Cv, int C, int Op) {
    const int L = (int)hn::Lanes(DF());
    for (int p = 0; p < 36; ++p) {
        const float* vp = V + (long)p * Tp * Cv;
        const float* up = u + (long)p * C * Op;
        float* mp = M + (long)p * Tp * Op;
        int o = 0;
        for (; o + 2 * L <= Op; o += 2 * L)
            for (int t = 0; t < Tp; t += 6) GemmTile<2>(vp + (long)t * Cv, Cv, up + o, Op, mp + (long)t * Op + o, Op, C);
        for (; o < Op; o += L)
            for (int t = 0; t < Tp; t += 6) GemmTile<1>(vp + (long)t * Cv, Cv, up + o, Op, mp + (long)t * Op + o, Op, C);
    }
}

// yt rows (2(ty0+ty) + i) * OW + 2tx + j = bias + (A^T M A)[i][j], for the tiles of the chunk
// (outputs beyond OH or OW left out).
void OutputTransform(float* yt, int ldy, const float* M, int Tp, int Op, const float* bias, int ty0, int nty, int TW,
                     int OH, int OW) {
    const DF d;
    const int L = (int)hn::Lanes(d);
    for (int ty = 0; ty < nty; ++ty)
        for (int tx = 0; tx < TW; ++tx) {
            const long t = (long)ty * TW + tx;
            const int oh = 2 * (ty0 + ty), ow = 2 * tx;
            for (int q = 0; q < Op; q += L) {
                VF am[2][6];  // A^T m: am[i][b]
                for (int b = 0; b < 6; ++b) {
                    VF m[6];
                    for (int a = 0; a < 6; ++a) m[a] = hn::LoadU(d, M + ((long)(a * 6 + b) * Tp + t) * Op + q);
                    OutputRows(m, am[0][b], am[1][b]);
                }
                const VF bv = bias ? hn::LoadU(d, bias + q) : hn::Zero(d);
                for (int i = 0; i < 2 && oh + i < OH; ++i) {
                    VF y0, y1;
                    OutputRows(am[i], y0, y1);
                    float* row = yt + (long)(oh + i) * OW * ldy + q;
                    hn::StoreU(hn::Add(y0, bv), d, row + (long)ow * ldy);
                    if (ow + 1 < OW) hn::StoreU(hn::Add(y1, bv), d, row + (long)(ow + 1) * ldy);
                }
            }
        }
}

void WinogradConv(float* yt, int ldy, const WinogradInput& in, const float* u, const float* bias, int O, int OH,
                  int OW, float* scratch) {
    const int L = (int)hn::Lanes(DF());
    const int Cv = (in.C + L - 1) / L * L, Op = padded_channels(O);
    const detail::Chunks ch(OH, OW);
    float* xl = scratch;  // the layout of winograd_scratch_size, with Cv <= Cp
    float* V = xl + ch.xl_pixels() * padded_channels(in.C);
    float* M = V + 36 * ch.max_tiles() * padded_channels(in.C);
    for (int ty0 = 0; ty0 < ch.TH; ty0 += ch.rows) {
        const int nty = std::min(ch.rows, ch.TH - ty0), Tp = (nty * ch.TW + 5) / 6 * 6;
        TransformChunk(V, xl, in, ch, Cv, ty0, nty);
        Products(M, V, u, Tp, Cv, in.C, Op);
        OutputTransform(yt, ldy, M, Tp, Op, bias, ty0, nty, ch.TW, OH, OW);
    }
}

// ---- weight gradient ---------------------------------------------------------------------
// The transpose of the forward: dL/dU = (A dy A^T) (.) V per tile, summed over the tiles:
//   dU[p] (C, Op) += V[p]^T (C, Tp) . DY[p] (Tp, Op),   DY = A dy A^T for each 2x2 tile of dy,
// and dW = G^T dU G once the sums are complete (WinogradWeightGradOut; linear, so the sums
// over tiles, examples and threads can all be taken before it).

// e = A y for two vectors y0, y1 (a row or column of a 2x2 tile): y0, y0+y1, y0-y1, y0+2y1, y0-2y1, y1.
HWY_INLINE void Expand(VF y0, VF y1, VF* e) {
    const VF f2 = hn::Set(DF(), 2.0f);
    e[0] = y0;
    e[1] = hn::Add(y0, y1);
    e[2] = hn::Sub(y0, y1);
    e[3] = hn::MulAdd(f2, y1, y0);
    e[4] = hn::NegMulAdd(f2, y1, y0);
    e[5] = y1;
}

// DY (36, Tp, Op) = A y A^T for the chunk's 2x2 tiles of dyt (OH*OW, ldy); outputs beyond
// OH or OW read as 0, and the spare tile rows T..Tp-1 are 0.
void OutputGradTransform(float* DY, int Tp, int Op, const float* dyt, int ldy, int ty0, int nty, int TW, int OH,
                         int OW) {
    const DF d;
    const int L = (int)hn::Lanes(d);
    for (int ty = 0; ty < nty; ++ty)
        for (int tx = 0; tx < TW; ++tx) {
            const long t = (long)ty * TW + tx;
            const int oh = 2 * (ty0 + ty), ow = 2 * tx;
            for (int q = 0; q < Op; q += L) {
                VF y[2][2];
                for (int i = 0; i < 2; ++i)
                    for (int j = 0; j < 2; ++j)
                        y[i][j] = oh + i < OH && ow + j < OW ? hn::LoadU(d, dyt + ((long)(oh + i) * OW + ow + j) * ldy + q)
                                                             : hn::Zero(d);
                VF r[2][6];  // r[i] = A y[i] (along the row)
                Expand(y[0][0], y[0][1], r[0]);
                Expand(y[1][0], y[1][1], r[1]);
                for (int b = 0; b < 6; ++b) {
                    VF z[6];  // column b: A (r[0][b], r[1][b])
                    Expand(r[0][b], r[1][b], z);
                    for (int a = 0; a < 6; ++a) hn::StoreU(z[a], d, DY + ((long)(a * 6 + b) * Tp + t) * Op + q);
                }
            }
        }
    const long T = (long)nty * TW;
    for (int p = 0; p < 36; ++p) std::fill(DY + ((long)p * Tp + T) * Op, DY + (long)(p + 1) * Tp * Op, 0.0f);
}

// du (R rows, ldu apart; NV vectors) += v^T . dy over Tp tiles (= with `assign`): v (Tp, ldv;
// its first R columns), dy (Tp, lddy; NV vectors).
template <int R, int NV>
HWY_INLINE void WgradGemmTile(float* du, int ldu, const float* v, int ldv, const float* dy, int lddy, int Tp,
                              bool assign) {
    const DF d;
    const int L = (int)hn::Lanes(d);
    VF acc[R][NV];
    for (int i = 0; i < R; ++i)
        for (int j = 0; j < NV; ++j) acc[i][j] = assign ? hn::Zero(d) : hn::LoadU(d, du + (long)i * ldu + j * L);
    for (int t = 0; t < Tp; ++t, v += ldv, dy += lddy) {
        VF w[NV];
        for (int j = 0; j < NV; ++j) w[j] = hn::LoadU(d, dy + j * L);
        for (int i = 0; i < R; ++i) {
            const VF b = hn::Set(d, v[i]);
            for (int j = 0; j < NV; ++j) acc[i][j] = hn::MulAdd(b, w[j], acc[i][j]);
        }
    }
    for (int i = 0; i < R; ++i)
        for (int j = 0; j < NV; ++j) hn::StoreU(acc[i][j], d, du + (long)i * ldu + j * L);
}

template <int NV>
void WgradGemmRows(int R, float* du, int ldu, const float* v, int ldv, const float* dy, int lddy, int Tp, bool assign) {
    switch (R) {
        case 1: return WgradGemmTile<1, NV>(du, ldu, v, ldv, dy, lddy, Tp, assign);
        case 2: return WgradGemmTile<2, NV>(du, ldu, v, ldv, dy, lddy, Tp, assign);
        case 3: return WgradGemmTile<3, NV>(du, ldu, v, ldv, dy, lddy, Tp, assign);
        case 4: return WgradGemmTile<4, NV>(du, ldu, v, ldv, dy, lddy, Tp, assign);
        case 5: return WgradGemmTile<5, NV>(du, ldu, v, ldv, dy, lddy, Tp, assign);
        default: return WgradGemmTile<6, NV>(du, ldu, v, ldv, dy, lddy, Tp, assign);
    }
}

// dU[p] (C, Op) += V[p]^T . DY[p] (= with `assign`) for each of the 36 positions, in tiles of
// 6 channels x NV vectors.
void WgradProducts(float* du, const float* V, const float* DY, int Tp, int Cv, int C, int Op, bool assign) {
    const int L = (int)hn::Lanes(DF());
    for (int p = 0; p < 36; ++p) {
        const float* vp = V + (long)p * Tp * Cv;
        const float* dp = DY + (long)p * Tp * Op;
        float* up = du + (long)p * C * Op;
        int o = 0;
        for (; o + 2 * L <= Op; o += 2 * L)
            for (int c = 0; c < C; c += 6)
                WgradGemmRows<2>(std::min(6, C - c), up + (long)c * Op + o, Op, vp + c, Cv, dp + o, Op, Tp, assign);
        for (; o < Op; o += L)
            for (int c = 0; c < C; c += 6)
                WgradGemmRows<1>(std::min(6, C - c), up + (long)c * Op + o, Op, vp + c, Cv, dp + o, Op, Tp, assign);
    }
}

void WinogradWeightGrad(float* du, const WinogradInput& in, const float* dyt, int ldy, int O, int OH, int OW,
                        float* scratch, bool assign) {
    const int L = (int)hn::Lanes(DF());
    const int Cv = (in.C + L - 1) / L * L, Op = padded_channels(O);
    const detail::Chunks ch(OH, OW);
    float* xl = scratch;  // the layout of winograd_scratch_size: xl | V | DY (in M's place)
    float* V = xl + ch.xl_pixels() * padded_channels(in.C);
    float* DY = V + 36 * ch.max_tiles() * padded_channels(in.C);
    for (int ty0 = 0; ty0 < ch.TH; ty0 += ch.rows) {
        const int nty = std::min(ch.rows, ch.TH - ty0), Tp = (nty * ch.TW + 5) / 6 * 6;
        TransformChunk(V, xl, in, ch, Cv, ty0, nty);
        OutputGradTransform(DY, Tp, Op, dyt, ldy, ty0, nty, ch.TW, OH, OW);
        WgradProducts(du, V, DY, Tp, Cv, in.C, Op, assign && ty0 == 0);
    }
}

// r = G^T m for six vectors m (G's rows 1, 2 and 3, 4 are pairs of opposite signs at odd powers):
//   r0 = m0/4 - (m1+m2)/6 + (m3+m4)/24      r1 = -(m1-m2)/6 + (m3-m4)/12
//   r2 = -(m1+m2)/6 + (m3+m4)/6             r3 = -(m1-m2)/6 + (m3-m4)/3
//   r4 = -(m1+m2)/6 + 2(m3+m4)/3 + m5
HWY_INLINE void KernelRows(const VF* m, VF* r) {
    const DF d;
    const VF s12 = hn::Mul(hn::Set(d, -1.0f / 6), hn::Add(m[1], m[2]));
    const VF d12 = hn::Mul(hn::Set(d, -1.0f / 6), hn::Sub(m[1], m[2]));
    const VF s34 = hn::Add(m[3], m[4]), d34 = hn::Sub(m[3], m[4]);
    r[0] = hn::MulAdd(hn::Set(d, 0.25f), m[0], hn::MulAdd(hn::Set(d, 1.0f / 24), s34, s12));
    r[1] = hn::MulAdd(hn::Set(d, 1.0f / 12), d34, d12);
    r[2] = hn::MulAdd(hn::Set(d, 1.0f / 6), s34, s12);
    r[3] = hn::MulAdd(hn::Set(d, 1.0f / 3), d34, d12);
    r[4] = hn::Add(hn::MulAdd(hn::Set(d, 2.0f / 3), s34, s12), m[5]);
}

// dwt (C*25, ldw) = G^T du G: row (c, kh, kw), columns o < Op; du (36, C, Op).
void WinogradWeightGradOut(float* dwt, int ldw, const float* du, int C, int O) {
    const DF d;
    const int L = (int)hn::Lanes(d), Op = padded_channels(O);
    for (int c = 0; c < C; ++c)
        for (int q = 0; q < Op; q += L) {
            VF t[5][6];  // t[l][a] = (G^T du[a][.])[l], the rows a of du taken along b
            for (int a = 0; a < 6; ++a) {
                VF m[6], r[5];
                for (int b = 0; b < 6; ++b) m[b] = hn::LoadU(d, du + ((long)(a * 6 + b) * C + c) * Op + q);
                KernelRows(m, r);
                for (int l = 0; l < 5; ++l) t[l][a] = r[l];
            }
            for (int l = 0; l < 5; ++l) {
                VF r[5];  // column l of G^T du G: (G^T t[l])[k]
                KernelRows(t[l], r);
                for (int k = 0; k < 5; ++k) hn::StoreU(r[k], d, dwt + ((long)(c * 5 + k) * 5 + l) * ldw + q);
            }
        }
}

}  // namespace dl::fast::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

// ---- dispatch and the kernel transform (compiled once) -------------------------------------
#if HWY_ONCE
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "core/fast/dispatch.h"

namespace dl::fast {

HWY_EXPORT(WinogradConv);
HWY_EXPORT(WinogradWeightGrad);
HWY_EXPORT(WinogradWeightGradOut);


namespace {
bool& winograd_switch() {
    static bool on = [] {
        const char* env = std::getenv("DL_WINOGRAD");
        const std::string v = env ? env : "";
        if (v.empty() || v == "1") return true;
        if (v == "0") return false;
        throw std::invalid_argument("DL_WINOGRAD: '" + v + "' is not 0 (off) or 1 (on)");
    }();
    return on;
}
}  // namespace

bool winograd_enabled() { return winograd_switch(); }
void set_winograd_enabled(bool on) { winograd_switch() = on; }

bool conv_winograd(const ConvGeom& g) {
    return g.KH == 5 && g.KW == 5 && g.S == 1 && g.P == 2 && g.C >= 8 && g.OC >= 8 && winograd_enabled();
}

long winograd_weights_size(int C, int O) { return 36L * C * padded_channels(O); }

void winograd_prepare_weights(float* u, const float* w, int C, int O, bool flip) {
    const int Op = padded_channels(O);
    std::fill(u, u + winograd_weights_size(C, O), 0.0f);
    for (int o = 0; o < O; ++o)
        for (int c = 0; c < C; ++c) {
            double g[5][5], gg[6][5];  // the kernel, and G g
            for (int kh = 0; kh < 5; ++kh)
                for (int kw = 0; kw < 5; ++kw)
                    g[kh][kw] = flip ? w[(((long)c * O + o) * 5 + 4 - kh) * 5 + 4 - kw]
                                     : w[(((long)o * C + c) * 5 + kh) * 5 + kw];
            for (int a = 0; a < 6; ++a)
                for (int k = 0; k < 5; ++k) {
                    gg[a][k] = 0.0;
                    for (int l = 0; l < 5; ++l) gg[a][k] += detail::kG[a][l] * g[l][k];
                }
            for (int a = 0; a < 6; ++a)
                for (int b = 0; b < 6; ++b) {
                    double s = 0.0;  // (G g G^T)[a][b]
                    for (int k = 0; k < 5; ++k) s += gg[a][k] * detail::kG[b][k];
                    u[((long)(a * 6 + b) * C + c) * Op + o] = (float)s;
                }
        }
}

long winograd_scratch_size(int C, int O, int OH, int OW) {
    const detail::Chunks ch(OH, OW);
    return ch.xl_pixels() * padded_channels(C) + 36 * ch.max_tiles() * (padded_channels(C) + padded_channels(O));
}

void winograd_conv(float* yt, int ldy, const WinogradInput& in, const float* u, const float* bias, int O, int OH,
                   int OW, float* scratch) {
    simd_init();
    HWY_DYNAMIC_DISPATCH(WinogradConv)(yt, ldy, in, u, bias, O, OH, OW, scratch);
}

void winograd_weight_grad(float* du, const WinogradInput& in, const float* dyt, int ldy, int O, int OH, int OW,
                          float* scratch, bool assign) {
    simd_init();
    HWY_DYNAMIC_DISPATCH(WinogradWeightGrad)(du, in, dyt, ldy, O, OH, OW, scratch, assign);
}

void winograd_weight_grad_out(float* dwt, int ldw, const float* du, int C, int O) {
    simd_init();
    HWY_DYNAMIC_DISPATCH(WinogradWeightGradOut)(dwt, ldw, du, C, O);
}

}  // namespace dl::fast
#endif  // HWY_ONCE
