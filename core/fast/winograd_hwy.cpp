// Winograd's F(2x2, 5x5) and F(4x4, 3x3) in Highway; see core/fast/winograd_hwy.h for the method.
// Both read 6x6 input tiles and share B^T and the products; they differ in the output tile
// (M = 2 or 4, a template argument below) and the kernel size (K = 7 - M).
//
// One example at a time, in chunks of tile rows (about 96 tiles, so that the transformed
// input and products stay in L2), in the caller's scratch:
//   1. xl (rows, cols, Cv): the chunk's padded input, channels last (zeros outside the data);
//   2. V (36, Tp, Cv): B^T d B per tile, a vector of channels at a time;
//   3. M (36, Tp, Op): for each position p, M[p] = V[p] . U[p], by register tiles of
//      6 tiles x NV vectors of output channels (the forward tiles' shape, conv_hwy.cpp);
//   4. yt: A^T M A + bias per MxM tile, a vector of output channels at a time.
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

// G (6xK) of F(2x2, 5x5) and of F(4x4, 3x3) with the interpolation points 0, 1, -1, 2, -2 and
// infinity, for the kernel's transform: row a is (1, x, x^2, ...) at point a, scaled (the last
// row, infinity, picks the highest tap); the 3x3 one is the first three columns of the 5x5 one
// but for that last row. B^T, A^T, A and G^T are written out in InputRows, OutputRows, Expand
// and KernelRows below.
constexpr double kG5[6][5] = {{1 / 4.0, 0, 0, 0, 0},
                              {-1 / 6.0, -1 / 6.0, -1 / 6.0, -1 / 6.0, -1 / 6.0},
                              {-1 / 6.0, 1 / 6.0, -1 / 6.0, 1 / 6.0, -1 / 6.0},
                              {1 / 24.0, 1 / 12.0, 1 / 6.0, 1 / 3.0, 2 / 3.0},
                              {1 / 24.0, -1 / 12.0, 1 / 6.0, -1 / 3.0, 2 / 3.0},
                              {0, 0, 0, 0, 1}};
constexpr double kG3[6][3] = {{1 / 4.0, 0, 0},          {-1 / 6.0, -1 / 6.0, -1 / 6.0}, {-1 / 6.0, 1 / 6.0, -1 / 6.0},
                              {1 / 24.0, 1 / 12.0, 1 / 6.0}, {1 / 24.0, -1 / 12.0, 1 / 6.0}, {0, 0, 1}};

// The output's MxM tiles (TH rows of TW; M = 7 - K), taken in chunks of `rows` tile rows,
// about 96 tiles (at least one row), so that a chunk's V and M stay in L2. A tile row reads
// M rows of the padded input and the 6 - M after them.
struct Chunks {
    int M, TH, TW, rows;
    Chunks(int OH, int OW, int K)
        : M(7 - K), TH((OH + M - 1) / M), TW((OW + M - 1) / M), rows(std::max(1, std::min(TH, 96 / TW))) {}
    int cols() const { return M * TW + 6 - M; }                              // padded input columns a chunk reads
    long xl_pixels() const { return (long)(M * rows + 6 - M) * cols(); }     // and its pixels
    long max_tiles() const { return ((long)rows * TW + 5) / 6 * 6; }         // tiles a chunk, rounded up to 6
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

// y (M vectors) = A^T m for six vectors m: A^T's row i is x^i at the points 0, 1, -1, 2, -2,
// and at infinity 1 in the last row only.
template <int M>
HWY_INLINE void OutputRows(const VF* m, VF* y) {
    const DF df;
    const VF s12 = hn::Add(m[1], m[2]), d12 = hn::Sub(m[1], m[2]);
    const VF s34 = hn::Add(m[3], m[4]), d34 = hn::Sub(m[3], m[4]);
    y[0] = hn::Add(hn::Add(m[0], s12), s34);  // m0 + m1 + m2 + m3 + m4
    if (M == 2) {
        y[1] = hn::Add(hn::MulAdd(hn::Set(df, 2.0f), d34, d12), m[5]);  // m1 - m2 + 2 m3 - 2 m4 + m5
    } else {
        y[1] = hn::MulAdd(hn::Set(df, 2.0f), d34, d12);                 // m1 - m2 + 2 m3 - 2 m4
        y[2] = hn::MulAdd(hn::Set(df, 4.0f), s34, s12);                 // m1 + m2 + 4 m3 + 4 m4
        y[3] = hn::Add(hn::MulAdd(hn::Set(df, 8.0f), d34, d12), m[5]);  // m1 - m2 + 8 m3 - 8 m4 + m5
    }
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

// V (36, Tp, Cv) = B^T d B for the nty x TW tiles of xl (tile (ty, tx) reads rows M ty..M ty+5
// and columns M tx..M tx+5).
void InputTransform(float* V, long ldp, const float* xl, int cols, int Cv, int nty, int TW, int M) {
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
                        col[l] = hn::LoadU(d, xl + ((long)(M * ty + l) * cols + M * tx + b) * Cv + c);
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
    Gather(xl, ch.M * nty + 6 - ch.M, ch.cols(), Cv, in, ch.M * ty0);
    InputTransform(V, Tp * Cv, xl, ch.cols(), Cv, nty, ch.TW, ch.M);
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

// yt rows (M(ty0+ty) + i) * OW + M tx + j = bias + (A^T Mt A)[i][j] for the MxM tiles of the
// chunk, Mt its products (outputs beyond OH or OW left out).
template <int M>
void OutputTransform(float* yt, int ldy, const float* Mt, int Tp, int Op, const float* bias, int ty0, int nty, int TW,
                     int OH, int OW) {
    const DF d;
    const int L = (int)hn::Lanes(d);
    for (int ty = 0; ty < nty; ++ty)
        for (int tx = 0; tx < TW; ++tx) {
            const long t = (long)ty * TW + tx;
            const int oh = M * (ty0 + ty), ow = M * tx;
            for (int q = 0; q < Op; q += L) {
                VF am[M][6];  // A^T m: am[i][b]
                for (int b = 0; b < 6; ++b) {
                    VF m[6], y[M];
                    for (int a = 0; a < 6; ++a) m[a] = hn::LoadU(d, Mt + ((long)(a * 6 + b) * Tp + t) * Op + q);
                    OutputRows<M>(m, y);
                    for (int i = 0; i < M; ++i) am[i][b] = y[i];
                }
                const VF bv = bias ? hn::LoadU(d, bias + q) : hn::Zero(d);
                for (int i = 0; i < M && oh + i < OH; ++i) {
                    VF y[M];
                    OutputRows<M>(am[i], y);
                    float* row = yt + (long)(oh + i) * OW * ldy + q;
                    for (int j = 0; j < M && ow + j < OW; ++j) hn::StoreU(hn::Add(y[j], bv), d, row + (long)(ow + j) * ldy);
                }
            }
        }
}

template <int M>
void WinogradConvM(float* yt, int ldy, const WinogradInput& in, const float* u, const float* bias, int O, int OH,
                   int OW, float* scratch) {
    const int L = (int)hn::Lanes(DF());
    const int Cv = (in.C + L - 1) / L * L, Op = padded_channels(O);
    const detail::Chunks ch(OH, OW, 7 - M);
    float* xl = scratch;  // the layout of winograd_scratch_size, with Cv <= Cp
    float* V = xl + ch.xl_pixels() * padded_channels(in.C);
    float* Mt = V + 36 * ch.max_tiles() * padded_channels(in.C);
    for (int ty0 = 0; ty0 < ch.TH; ty0 += ch.rows) {
        const int nty = std::min(ch.rows, ch.TH - ty0), Tp = (nty * ch.TW + 5) / 6 * 6;
        TransformChunk(V, xl, in, ch, Cv, ty0, nty);
        Products(Mt, V, u, Tp, Cv, in.C, Op);
        OutputTransform<M>(yt, ldy, Mt, Tp, Op, bias, ty0, nty, ch.TW, OH, OW);
    }
}

void WinogradConv(float* yt, int ldy, const WinogradInput& in, const float* u, const float* bias, int O, int OH,
                  int OW, int K, float* scratch) {
    if (K == 3) WinogradConvM<4>(yt, ldy, in, u, bias, O, OH, OW, scratch);
    else WinogradConvM<2>(yt, ldy, in, u, bias, O, OH, OW, scratch);
}

// ---- weight gradient ---------------------------------------------------------------------
// The transpose of the forward: dL/dU = (A dy A^T) (.) V per tile, summed over the tiles:
//   dU[p] (C, Op) += V[p]^T (C, Tp) . DY[p] (Tp, Op),   DY = A dy A^T for each MxM tile of dy,
// and dW = G^T dU G once the sums are complete (WinogradWeightGradOut; linear, so the sums
// over tiles, examples and threads can all be taken before it).

// e = A y for M vectors y (a row or column of an MxM tile): y at the points 0, 1, -1, 2, -2 as
// a polynomial y0 + y1 x + ..., and its highest coefficient. M = 2: y0, y0+y1, y0-y1, y0+2y1,
// y0-2y1, y1. M = 4: y0, y0+y1+y2+y3, y0-y1+y2-y3, y0+2y1+4y2+8y3, y0-2y1+4y2-8y3, y3.
template <int M>
HWY_INLINE void Expand(const VF* y, VF* e) {
    const DF d;
    const VF f2 = hn::Set(d, 2.0f);
    e[0] = y[0];
    if (M == 2) {
        e[1] = hn::Add(y[0], y[1]);
        e[2] = hn::Sub(y[0], y[1]);
        e[3] = hn::MulAdd(f2, y[1], y[0]);
        e[4] = hn::NegMulAdd(f2, y[1], y[0]);
    } else {
        const VF even1 = hn::Add(y[0], y[2]), odd1 = hn::Add(y[1], y[3]);  // the even and odd parts at 1
        const VF even2 = hn::MulAdd(hn::Set(d, 4.0f), y[2], y[0]);          // ... and at 2
        const VF odd2 = hn::Mul(f2, hn::MulAdd(hn::Set(d, 4.0f), y[3], y[1]));
        e[1] = hn::Add(even1, odd1);
        e[2] = hn::Sub(even1, odd1);
        e[3] = hn::Add(even2, odd2);
        e[4] = hn::Sub(even2, odd2);
    }
    e[5] = y[M - 1];
}

// DY (36, Tp, Op) = A y A^T for the chunk's MxM tiles of dyt (OH*OW, ldy); outputs beyond
// OH or OW read as 0, and the spare tile rows T..Tp-1 are 0.
template <int M>
void OutputGradTransform(float* DY, int Tp, int Op, const float* dyt, int ldy, int ty0, int nty, int TW, int OH,
                         int OW) {
    const DF d;
    const int L = (int)hn::Lanes(d);
    for (int ty = 0; ty < nty; ++ty)
        for (int tx = 0; tx < TW; ++tx) {
            const long t = (long)ty * TW + tx;
            const int oh = M * (ty0 + ty), ow = M * tx;
            for (int q = 0; q < Op; q += L) {
                VF r[M][6];  // r[i] = A y[i], row i of the tile expanded along the row
                for (int i = 0; i < M; ++i) {
                    VF y[M];
                    for (int j = 0; j < M; ++j)
                        y[j] = oh + i < OH && ow + j < OW ? hn::LoadU(d, dyt + ((long)(oh + i) * OW + ow + j) * ldy + q)
                                                          : hn::Zero(d);
                    Expand<M>(y, r[i]);
                }
                for (int b = 0; b < 6; ++b) {
                    VF c[M], z[6];  // column b: A (r[0][b], ..., r[M-1][b])
                    for (int i = 0; i < M; ++i) c[i] = r[i][b];
                    Expand<M>(c, z);
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

template <int M>
void WinogradWeightGradM(float* du, const WinogradInput& in, const float* dyt, int ldy, int O, int OH, int OW,
                         float* scratch, bool assign) {
    const int L = (int)hn::Lanes(DF());
    const int Cv = (in.C + L - 1) / L * L, Op = padded_channels(O);
    const detail::Chunks ch(OH, OW, 7 - M);
    float* xl = scratch;  // the layout of winograd_scratch_size: xl | V | DY (in M's place)
    float* V = xl + ch.xl_pixels() * padded_channels(in.C);
    float* DY = V + 36 * ch.max_tiles() * padded_channels(in.C);
    for (int ty0 = 0; ty0 < ch.TH; ty0 += ch.rows) {
        const int nty = std::min(ch.rows, ch.TH - ty0), Tp = (nty * ch.TW + 5) / 6 * 6;
        TransformChunk(V, xl, in, ch, Cv, ty0, nty);
        OutputGradTransform<M>(DY, Tp, Op, dyt, ldy, ty0, nty, ch.TW, OH, OW);
        WgradProducts(du, V, DY, Tp, Cv, in.C, Op, assign && ty0 == 0);
    }
}

void WinogradWeightGrad(float* du, const WinogradInput& in, const float* dyt, int ldy, int O, int OH, int OW, int K,
                        float* scratch, bool assign) {
    if (K == 3) WinogradWeightGradM<4>(du, in, dyt, ldy, O, OH, OW, scratch, assign);
    else WinogradWeightGradM<2>(du, in, dyt, ldy, O, OH, OW, scratch, assign);
}

// r (K vectors) = G^T m for six vectors m (G's rows 1, 2 and 3, 4 are pairs of opposite signs
// at odd powers). K = 5:
//   r0 = m0/4 - (m1+m2)/6 + (m3+m4)/24      r1 = -(m1-m2)/6 + (m3-m4)/12
//   r2 = -(m1+m2)/6 + (m3+m4)/6             r3 = -(m1-m2)/6 + (m3-m4)/3
//   r4 = -(m1+m2)/6 + 2(m3+m4)/3 + m5
// K = 3: r0 and r1 the same, r2 = -(m1+m2)/6 + (m3+m4)/6 + m5.
template <int K>
HWY_INLINE void KernelRows(const VF* m, VF* r) {
    const DF d;
    const VF s12 = hn::Mul(hn::Set(d, -1.0f / 6), hn::Add(m[1], m[2]));
    const VF d12 = hn::Mul(hn::Set(d, -1.0f / 6), hn::Sub(m[1], m[2]));
    const VF s34 = hn::Add(m[3], m[4]), d34 = hn::Sub(m[3], m[4]);
    r[0] = hn::MulAdd(hn::Set(d, 0.25f), m[0], hn::MulAdd(hn::Set(d, 1.0f / 24), s34, s12));
    r[1] = hn::MulAdd(hn::Set(d, 1.0f / 12), d34, d12);
    r[2] = hn::MulAdd(hn::Set(d, 1.0f / 6), s34, s12);
    if (K == 3) {
        r[2] = hn::Add(r[2], m[5]);
        return;
    }
    r[3] = hn::MulAdd(hn::Set(d, 1.0f / 3), d34, d12);
    r[4] = hn::Add(hn::MulAdd(hn::Set(d, 2.0f / 3), s34, s12), m[5]);
}

// dwt (C*K*K, ldw) = G^T du G: row (c, kh, kw), columns o < Op; du (36, C, Op).
template <int K>
void WinogradWeightGradOutK(float* dwt, int ldw, const float* du, int C, int O) {
    const DF d;
    const int L = (int)hn::Lanes(d), Op = padded_channels(O);
    for (int c = 0; c < C; ++c)
        for (int q = 0; q < Op; q += L) {
            VF t[K][6];  // t[l][a] = (G^T du[a][.])[l], the rows a of du taken along b
            for (int a = 0; a < 6; ++a) {
                VF m[6], r[5];
                for (int b = 0; b < 6; ++b) m[b] = hn::LoadU(d, du + ((long)(a * 6 + b) * C + c) * Op + q);
                KernelRows<K>(m, r);
                for (int l = 0; l < K; ++l) t[l][a] = r[l];
            }
            for (int l = 0; l < K; ++l) {
                VF r[5];  // column l of G^T du G: (G^T t[l])[k]
                KernelRows<K>(t[l], r);
                for (int k = 0; k < K; ++k) hn::StoreU(r[k], d, dwt + ((long)(c * K + k) * K + l) * ldw + q);
            }
        }
}

void WinogradWeightGradOut(float* dwt, int ldw, const float* du, int C, int O, int K) {
    if (K == 3) WinogradWeightGradOutK<3>(dwt, ldw, du, C, O);
    else WinogradWeightGradOutK<5>(dwt, ldw, du, C, O);
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
    const bool shape = (g.KH == 5 && g.KW == 5 && g.P == 2) || (g.KH == 3 && g.KW == 3 && g.P == 1);
    return shape && g.S == 1 && g.C >= 8 && g.OC >= 8 && g.OH() >= 8 && g.OW() >= 8 && winograd_enabled();
}

long winograd_weights_size(int C, int O) { return 36L * C * padded_channels(O); }

void winograd_prepare_weights(float* u, const float* w, int C, int O, int K, bool flip) {
    const int Op = padded_channels(O);
    auto G = [K](int a, int k) { return K == 3 ? detail::kG3[a][k] : detail::kG5[a][k]; };
    std::fill(u, u + winograd_weights_size(C, O), 0.0f);
    for (int o = 0; o < O; ++o)
        for (int c = 0; c < C; ++c) {
            double g[5][5], gg[6][5];  // the kernel (K x K), and G g
            for (int kh = 0; kh < K; ++kh)
                for (int kw = 0; kw < K; ++kw)
                    g[kh][kw] = flip ? w[(((long)c * O + o) * K + K - 1 - kh) * K + K - 1 - kw]
                                     : w[(((long)o * C + c) * K + kh) * K + kw];
            for (int a = 0; a < 6; ++a)
                for (int k = 0; k < K; ++k) {
                    gg[a][k] = 0.0;
                    for (int l = 0; l < K; ++l) gg[a][k] += G(a, l) * g[l][k];
                }
            for (int a = 0; a < 6; ++a)
                for (int b = 0; b < 6; ++b) {
                    double s = 0.0;  // (G g G^T)[a][b]
                    for (int k = 0; k < K; ++k) s += gg[a][k] * G(b, k);
                    u[((long)(a * 6 + b) * C + c) * Op + o] = (float)s;
                }
        }
}

long winograd_scratch_size(int C, int O, int OH, int OW, int K) {
    const detail::Chunks ch(OH, OW, K);
    return ch.xl_pixels() * padded_channels(C) + 36 * ch.max_tiles() * (padded_channels(C) + padded_channels(O));
}

void winograd_conv(float* yt, int ldy, const WinogradInput& in, const float* u, const float* bias, int O, int OH,
                   int OW, int K, float* scratch) {
    simd_init();
    HWY_DYNAMIC_DISPATCH(WinogradConv)(yt, ldy, in, u, bias, O, OH, OW, K, scratch);
}

void winograd_weight_grad(float* du, const WinogradInput& in, const float* dyt, int ldy, int O, int OH, int OW, int K,
                          float* scratch, bool assign) {
    simd_init();
    HWY_DYNAMIC_DISPATCH(WinogradWeightGrad)(du, in, dyt, ldy, O, OH, OW, K, scratch, assign);
}

void winograd_weight_grad_out(float* dwt, int ldw, const float* du, int C, int O, int K) {
    simd_init();
    HWY_DYNAMIC_DISPATCH(WinogradWeightGradOut)(dwt, ldw, du, C, O, K);
}

}  // namespace dl::fast
#endif  // HWY_ONCE
