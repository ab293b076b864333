// Direct convolution kernels in Highway; see core/fast/conv_hwy.h for the layouts.
//
// This file is compiled once per instruction set (foreach_target.h includes it again for
// each); the part under HWY_ONCE is compiled once and dispatches to the best copy.
//
// Forward, one register tile: T consecutive output positions of one output row times V
// vectors of output channels, T*V accumulators. For each kernel tap k = (kh,c,kw):
//   V loads of wt[k][o0 ..], T broadcasts of x at the tap, T*V FMAs.
// The tile sizes follow the register file (32 vector registers for AVX-512 and NEON, 16
// for AVX2): AVX-512 takes T <= 28 with V = 1, T <= 14 with V = 2, T <= 6 with V = 4. The
// interior of a row (the columns where every tap reads inside the input) is cut into equal
// tiles (a row of 28 with V = 2: two tiles of 14), so no lane and no accumulator computes a
// position that does not exist.
// Taps that read only the zero padding are left out, as oneDNN's kernels do (with a 5x5
// kernel and padding 2 on a 14x14 plane, 16% of them): above and below the input, the kernel
// rows that read padding (the taps go kernel row by kernel row, so the others are one
// stretch); beside it, the columns at the edges get tiles down the column, with only the
// taps kw that read data there.
//
// Weight gradient, one tile: J kernel taps times V vectors of output channels. For each
// output position: V loads of dyt, J broadcasts of x (one per tap), J*V FMAs; after all
// positions, dwt += the tile. Summing over positions in registers needs no horizontal sums.
// The taps go in the order (kw, kh, c), so that a tile's taps share a kernel row and
// column, and the tile runs over just the positions where they read data.
//
// Input gradient: per phase (see conv_hwy.h) a stride-1 convolution of the padded dy with
// the flipped taps of that phase, by the forward tiles, into a channels-last scratch that
// is then added into dx.
#include "core/fast/simd_targets.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "core/fast/conv_hwy.cpp"
#include <hwy/foreach_target.h>  // re-includes this file once per target
#include <hwy/highway.h>

#include <algorithm>
#include <array>
#include <utility>
#include <vector>

#include "core/fast/conv_hwy.h"

// ---- shared by every target (compiled once) -----------------------------------------
#ifndef DL_FAST_CONV_HWY_SHARED
#define DL_FAST_CONV_HWY_SHARED
namespace dl::fast::detail {

// Where the taps of a convolution read its input: tap (c,kh,kw) of the output position
// (oh, ow) reads x[c*plane + oh*row_step + kh*kh_step + kofs[kw] + ow].
struct Taps {
    const float* x;
    long plane, row_step, kh_step;
    int C, KH, KW;
    int kofs[kMaxKernel];
    // Rows: tap kh of output row oh reads input row row0 + oh * rows_per_oh + kh; rows outside
    // [data_lo, data_hi) are padding, all zeros, so the taps that read them are skipped (on a
    // 14x14 plane with a 5x5 kernel and padding 2, 6 of every 70 tap rows). Columns likewise:
    // tap kw of output column ow reads column col0 + ow * cols_per_ow + kw, data in [col_lo, col_hi).
    int row0 = 0, rows_per_oh = 1, data_lo = 0, data_hi = 1 << 30;
    int col0 = 0, cols_per_ow = 1, col_lo = 0, col_hi = 1 << 30;

    // The same layout as o (all but x, the input the taps read).
    bool same_layout(const Taps& o) const {
        return C == o.C && KH == o.KH && KW == o.KW && plane == o.plane && row_step == o.row_step &&
               kh_step == o.kh_step && row0 == o.row0 && rows_per_oh == o.rows_per_oh && data_lo == o.data_lo &&
               data_hi == o.data_hi && col0 == o.col0 && cols_per_ow == o.cols_per_ow && col_lo == o.col_lo &&
               col_hi == o.col_hi && std::equal(kofs, kofs + KW, o.kofs);
    }

    // The taps kh in [kh0, kh1) that read data for some output row in [oh_first, oh_last]
    // (kh0 == kh1: none).
    void kh_range(int oh_first, int oh_last, int& kh0, int& kh1) const {
        kh0 = std::min(KH, std::max(0, data_lo - (row0 + oh_last * rows_per_oh)));
        kh1 = std::max(kh0, std::min(KH, data_hi - (row0 + oh_first * rows_per_oh)));
    }

    // The taps kw in [kw0, kw1) of output column ow that read data.
    void kw_range(int ow, int& kw0, int& kw1) const {
        const int col = col0 + ow * cols_per_ow;
        kw0 = std::min(KW, std::max(0, col_lo - col));
        kw1 = std::max(kw0, std::min(KW, col_hi - col));
    }

    // off[(kh*C + c)*KW + kw] = where tap (c,kh,kw) of output position (0,0) reads: the
    // order of the forward tiles (kernel rows outermost, so the taps of the rows that read
    // data are one stretch).
    void offsets(int* off) const {
        for (int kh = 0; kh < KH; ++kh)
            for (int c = 0; c < C; ++c)
                for (int kw = 0; kw < KW; ++kw) *off++ = (int)(c * plane + kh * kh_step + kofs[kw]);
    }

    // The output rows [oh0, oh1) (of OH) where tap row kh reads data, and the output columns
    // [ow0, ow1) (of OW) where tap column kw does (empty: oh0 == oh1 or ow0 == ow1).
    void oh_range(int kh, int OH, int& oh0, int& oh1) const {
        first_last(data_lo - row0 - kh, data_hi - row0 - kh, rows_per_oh, OH, oh0, oh1);
    }
    void ow_range(int kw, int OW, int& ow0, int& ow1) const {
        first_last(col_lo - col0 - kw, col_hi - col0 - kw, cols_per_ow, OW, ow0, ow1);
    }

  private:
    // [i0, i1) = the i in [0, n) with i*S in [lo, hi).
    static void first_last(int lo, int hi, int S, int n, int& i0, int& i1) {
        i0 = std::min(n, lo <= 0 ? 0 : (lo + S - 1) / S);
        i1 = std::max(i0, std::min(n, hi <= 0 ? 0 : (hi + S - 1) / S));
    }
};

// The taps of one edge column: those with kw in [kw0, kw1), in the order (kh, c, kw),
// per_kh = C*(kw1 - kw0) of them per kernel row; off[i] where tap i reads (as Taps::offsets),
// wrow[i] its row of wt.
struct ColumnTaps {
    int ow, per_kh;
    const int* off;
    const int* wrow;
};

// The lists of taps the forward tiles go through, for one layout of the input (a Taps but
// for its x) and output width OW. Built when the layout changes and reused while it stays
// (every example of a batch), one per thread.
struct TapLists {
    Taps layout{};
    int OW = -1;
    std::vector<int> off;  // layout.offsets()
    int cl = 0, cr = 0;    // the interior columns [cl, cr): every tap reads inside the input
    std::vector<int> col_off, col_wrow;
    std::vector<ColumnTaps> columns;  // the edge columns [0, cl) and [cr, OW)
    std::vector<size_t> starts;       // where each column's taps start in col_off and col_wrow

    bool matches(const Taps& t, int ow) const { return ow == OW && t.same_layout(layout); }

    void build(const Taps& t, int ow_count) {
        layout = t, OW = ow_count;
        off.resize((size_t)t.C * t.KH * t.KW);
        t.offsets(off.data());
        const auto interior = [&](int ow) {
            int kw0, kw1;
            t.kw_range(ow, kw0, kw1);
            return kw0 == 0 && kw1 == t.KW;
        };
        cl = 0, cr = OW;
        while (cl < OW && !interior(cl)) ++cl;
        while (cr > cl && !interior(cr - 1)) --cr;
        // The vectors keep their capacity: after the first step, rebuilding for another layer
        // allocates nothing.
        col_off.clear(), col_wrow.clear(), columns.clear(), starts.clear();
        for (int ow = cl > 0 ? 0 : cr; ow < OW; ow = ow + 1 == cl ? cr : ow + 1) {  // [0, cl) then [cr, OW)
            int kw0, kw1;
            t.kw_range(ow, kw0, kw1);
            starts.push_back(col_off.size());
            for (int r = 0; r < t.KH * t.C; ++r)  // rows (kh, c) of off and wt
                for (int kw = kw0; kw < kw1; ++kw) {
                    col_off.push_back(off[(size_t)r * t.KW + kw]);
                    col_wrow.push_back(r * t.KW + kw);
                }
            columns.push_back(ColumnTaps{ow, t.C * (kw1 - kw0), nullptr, nullptr});
        }
        for (size_t i = 0; i < columns.size(); ++i)  // the lists are complete: no more moves
            columns[i].off = col_off.data() + starts[i], columns[i].wrow = col_wrow.data() + starts[i];
    }
};

constexpr int kMaxTaps = 12;  // the most taps a weight-gradient tile takes, on any target

// The taps [k0, k0 + nk) of one weight-gradient tile, as every block of channel vectors
// sees them.
struct WgradTaps {
    int off[kMaxTaps];  // where each tap reads the input at output position (0,0), from Taps::x
    int row[kMaxTaps];  // its row of dwt, (c*KH + kh)*KW + kw
    int nk;
    int oh0, oh1, ow0, ow1;  // the output positions where some of them reads data
};

// The tiles of a weight gradient for one layout of the input (a Taps but for its x), output
// size and count of channel vectors: the runs of blocks of V vectors, each with its tiles.
// Built when the layout changes and reused while it stays (every example of a batch), one
// per thread; worked out for every example, the tiles took 1% of a cnn step.
struct WgradPlan {
    struct Run {
        int V, v0, v1;         // the blocks [v0, v1) of V vectors
        size_t first, last;    // take the tiles [first, last)
    };
    Taps layout{};
    int OH = -1, OW = -1, vectors = -1;
    std::vector<Run> runs;
    std::vector<WgradTaps> tiles;

    bool matches(const Taps& t, int oh, int ow, int v) const {
        return oh == OH && ow == OW && v == vectors && t.same_layout(layout);
    }
};

// One convolution as the forward tiles see it: y (OH*OW, ldy) = bias + taps . wt.
struct FwdArgs {
    Taps in;
    const int* off;     // in.offsets()
    const float* wt;    // (KH*C*KW, ldw): rows in the order of off
    const float* bias;  // (ldw) or nullptr
    int ldw;
    float* yt;  // (OH*OW, ldy)
    int ldy, OH, OW;
    int vectors;  // vectors of output channels to compute (of the target's width)
};

// The taps of the forward convolution over xpad.
inline Taps forward_taps(const float* xpad, const ConvGeom& g) {
    const PadLayout l = pad_layout(g);
    Taps t{xpad, l.plane, (long)g.S * l.row_len, l.row_len, g.C, g.KH, g.KW, {}};
    for (int kw = 0; kw < g.KW; ++kw) t.kofs[kw] = (kw % g.S) * l.phase_len + kw / g.S;
    t.rows_per_oh = g.S, t.cols_per_ow = g.S;
    t.data_lo = g.P, t.data_hi = g.P + g.H;
    t.col_lo = g.P, t.col_hi = g.P + g.W;
    return t;
}

// The rows (or columns) of one phase of the input gradient along one axis: dx index
// i0 + S*u for u < n takes the kernel taps r + S*j (j < J) and the dy indices U0 + u - j.
struct PhaseAxis {
    int i0, n, U0, J;
};

inline PhaseAxis phase_axis(int r, int size, int K, int S, int P) {
    PhaseAxis a{};
    a.i0 = ((r - P) % S + S) % S;
    a.n = a.i0 < size ? (size - 1 - a.i0) / S + 1 : 0;
    a.U0 = (a.i0 + P - r) / S;
    a.J = r < K ? (K - 1 - r) / S + 1 : 0;
    return a;
}

}  // namespace dl::fast::detail
#endif  // DL_FAST_CONV_HWY_SHARED

// ---- per target ---------------------------------------------------------------------
HWY_BEFORE_NAMESPACE();
namespace dl::fast::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using detail::ColumnTaps;
using detail::FwdArgs;
using detail::Taps;
using detail::WgradPlan;
using detail::WgradTaps;
using detail::kMaxTaps;

using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;

// Vector registers of the target, and the tile sizes they allow (see the file comment).
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_NEON
constexpr int kRegs = 32;
#else
constexpr int kRegs = 16;
#endif
#if HWY_TARGET == HWY_SCALAR || HWY_TARGET == HWY_EMU128
// The fallback: small tiles, few template copies.
constexpr int kMaxV = 1;
constexpr int max_positions(int) { return 4; }
constexpr int max_taps(int) { return 4; }
#else
constexpr int kMaxV = kRegs == 32 ? 4 : 2;
// T*V accumulators + V weight vectors + a broadcast (+ a spare without embedded broadcasts).
constexpr int max_positions(int V) { return std::min(28, (kRegs - V - (kRegs == 32 ? 1 : 2)) / V); }
// J*V accumulators + V vectors of dyt; J is also bound by the general registers (a pointer per tap).
constexpr int max_taps(int V) { return std::min(12, (kRegs - V - 2) / V); }
#endif

// ---- forward tile: T positions x V channel vectors ------------------------------------
template <int V, int T>
void FwdTile(const FwdArgs& a, int oh, int ow0, int o0) {
    const DF d;
    const int L = (int)hn::Lanes(d);
    VF acc[T][V];
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) {
        const VF b = a.bias ? hn::LoadU(d, a.bias + o0 + v * L) : hn::Zero(d);
#pragma GCC unroll 28
        for (int t = 0; t < T; ++t) acc[t][v] = b;
    }
    const Taps& in = a.in;
    // One loop over the taps of the kernel rows that read data (not three nested ones: with
    // a 3x3 kernel the innermost would run three times).
    int kh0, kh1;
    in.kh_range(oh, oh, kh0, kh1);
    const int row_taps = in.C * in.KW, i1 = kh1 * row_taps;
    const float* x = in.x + oh * in.row_step + ow0;
    const float* w = a.wt + o0 + (long)kh0 * row_taps * a.ldw;
    for (int i = kh0 * row_taps; i < i1; ++i, w += a.ldw) {
        const float* xk = x + a.off[i];
        VF wv[V];
#pragma GCC unroll 4
        for (int v = 0; v < V; ++v) wv[v] = hn::LoadU(d, w + v * L);
#pragma GCC unroll 28
        for (int t = 0; t < T; ++t) {
            const VF b = hn::Set(d, xk[t]);
#pragma GCC unroll 4
            for (int v = 0; v < V; ++v) acc[t][v] = hn::MulAdd(b, wv[v], acc[t][v]);
        }
    }
    float* y = a.yt + (long)(oh * a.OW + ow0) * a.ldy + o0;
#pragma GCC unroll 28
    for (int t = 0; t < T; ++t)
#pragma GCC unroll 4
        for (int v = 0; v < V; ++v) hn::StoreU(acc[t][v], d, y + (long)t * a.ldy + v * L);
}

// ---- forward column tile: T positions down one output column x V channel vectors ---------
// For the columns at the left and right edges, where some taps kw read the padding beside
// the input: down a column the same taps do, so the tile leaves them out (with a 5x5 kernel
// and padding 2 on a 14x14 plane, 6 of every 70 taps of a row). Kernel rows are left out
// where they read padding for every position of the tile.
template <int V, int T>
void FwdColumnTile(const FwdArgs& a, const ColumnTaps& ct, int oh0, int o0) {
    const DF d;
    const int L = (int)hn::Lanes(d);
    VF acc[T][V];
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) {
        const VF b = a.bias ? hn::LoadU(d, a.bias + o0 + v * L) : hn::Zero(d);
#pragma GCC unroll 28
        for (int t = 0; t < T; ++t) acc[t][v] = b;
    }
    const Taps& in = a.in;
    int kh0, kh1;
    in.kh_range(oh0, oh0 + T - 1, kh0, kh1);
    const long rs = in.row_step;  // from one position of the tile to the next
    const float* x = in.x + oh0 * rs + ct.ow;
    const float* wt = a.wt + o0;
    for (int i = kh0 * ct.per_kh, i1 = kh1 * ct.per_kh; i < i1; ++i) {
        const float* xk = x + ct.off[i];
        const float* w = wt + (long)ct.wrow[i] * a.ldw;
        VF wv[V];
#pragma GCC unroll 4
        for (int v = 0; v < V; ++v) wv[v] = hn::LoadU(d, w + v * L);
#pragma GCC unroll 28
        for (int t = 0; t < T; ++t) {
            const VF b = hn::Set(d, xk[t * rs]);
#pragma GCC unroll 4
            for (int v = 0; v < V; ++v) acc[t][v] = hn::MulAdd(b, wv[v], acc[t][v]);
        }
    }
    float* y = a.yt + (long)(oh0 * a.OW + ct.ow) * a.ldy + o0;
#pragma GCC unroll 28
    for (int t = 0; t < T; ++t)
#pragma GCC unroll 4
        for (int v = 0; v < V; ++v) hn::StoreU(acc[t][v], d, y + (long)t * a.OW * a.ldy + v * L);
}

using FwdFn = void (*)(const FwdArgs&, int, int, int);

template <int V, size_t... I>
constexpr std::array<FwdFn, sizeof...(I)> fwd_tiles(std::index_sequence<I...>) {
    return {&FwdTile<V, (int)I + 1>...};
}

using ColumnFn = void (*)(const FwdArgs&, const ColumnTaps&, int, int);

template <int V, size_t... I>
constexpr std::array<ColumnFn, sizeof...(I)> fwd_column_tiles(std::index_sequence<I...>) {
    return {&FwdColumnTile<V, (int)I + 1>...};
}

// Column tiles take at most 8 positions (fewer template copies; a column has few tiles).
constexpr int max_column_positions(int V) { return std::min(8, max_positions(V)); }

// The column tile for V vectors and T positions (1 <= T <= max_column_positions(V)).
ColumnFn fwd_column_tile(int V, int T) {
    static constexpr auto t1 = fwd_column_tiles<1>(std::make_index_sequence<max_column_positions(1)>());
#if HWY_TARGET != HWY_SCALAR && HWY_TARGET != HWY_EMU128
    static constexpr auto t2 = fwd_column_tiles<2>(std::make_index_sequence<max_column_positions(2)>());
    if (V == 2) return t2[T - 1];
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_NEON
    static constexpr auto t4 = fwd_column_tiles<4>(std::make_index_sequence<max_column_positions(4)>());
    if (V == 4) return t4[T - 1];
#endif
#endif
    (void)V;
    return t1[T - 1];
}

// The tile for V vectors and T positions (1 <= T <= max_positions(V)).
FwdFn fwd_tile(int V, int T) {
    static constexpr auto t1 = fwd_tiles<1>(std::make_index_sequence<max_positions(1)>());
#if HWY_TARGET != HWY_SCALAR && HWY_TARGET != HWY_EMU128
    static constexpr auto t2 = fwd_tiles<2>(std::make_index_sequence<max_positions(2)>());
    if (V == 2) return t2[T - 1];
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_NEON
    static constexpr auto t4 = fwd_tiles<4>(std::make_index_sequence<max_positions(4)>());
    if (V == 4) return t4[T - 1];
#endif
#endif
    (void)V;
    return t1[T - 1];
}

// The widest block of channel vectors (4, 2 or 1) that fits in `left` vectors.
int block_vectors(int left) {
    int V = kMaxV;
    while (V > left) V /= 2;
    return V;
}

// Cuts [0, n) into equal parts of at most `most` and calls f(first, size) for each.
template <class F>
void equal_parts(int n, int most, const F& f) {
    const int parts = (n + most - 1) / most;
    for (int i = 0; i < parts; ++i) {
        const int first = (int)((long)n * i / parts), last = (int)((long)n * (i + 1) / parts);
        f(first, last - first);
    }
}

// y (OH*OW, ldy) = bias + conv, tile by tile, for each block of V channel vectors: the
// interior columns [cl, cr), where every tap reads inside the input, row by row in equal
// tiles of at most max_positions(V) positions; the columns at the edges by column tiles.
// a.off is filled here.
void RunForward(FwdArgs a) {
    const int L = (int)hn::Lanes(DF());
    // Per thread (the kernels run inside the threads of core/fast/conv.cpp), rebuilt only
    // when the layout changes; built for every example, they took 2% of a 5x5 layer's time.
    thread_local detail::TapLists lists;
    if (!lists.matches(a.in, a.OW)) lists.build(a.in, a.OW);
    a.off = lists.off.data();
    const int cl = lists.cl, cr = lists.cr;
    for (int v0 = 0; v0 < a.vectors;) {
        const int V = block_vectors(a.vectors - v0), o0 = v0 * L;
        const int tmax = V == 1 ? max_positions(1) : V == 2 ? max_positions(2) : max_positions(4);
        for (int oh = 0; oh < a.OH; ++oh)
            equal_parts(cr - cl, tmax, [&](int i, int T) { fwd_tile(V, T)(a, oh, cl + i, o0); });
        v0 += V;
    }
    for (const detail::ColumnTaps& ct : lists.columns)
        for (int v0 = 0; v0 < a.vectors;) {
            const int V = block_vectors(a.vectors - v0), o0 = v0 * L;
            const int cmax = V == 1 ? max_column_positions(1)
                             : V == 2 ? max_column_positions(2) : max_column_positions(4);
            equal_parts(a.OH, cmax, [&](int oh0, int T) { fwd_column_tile(V, T)(a, ct, oh0, o0); });
            v0 += V;
        }
}

int vectors_for(int channels) {
    const int L = (int)hn::Lanes(DF());
    return (channels + L - 1) / L;
}

void ConvForward(float* yt, const float* xpad, const float* wt, const ConvGeom& g) {
    const int OCp = padded_channels(g.OC);
    FwdArgs a{detail::forward_taps(xpad, g), nullptr, wt, wt + (long)g.K() * OCp, OCp, yt, OCp, g.OH(), g.OW(),
              vectors_for(g.OC)};
    RunForward(a);
    // Channels beyond the computed vectors (AVX2 computes 8 of a padded 16, say) are 0.
    const int done = a.vectors * (int)hn::Lanes(DF());
    if (done < OCp)
        for (long p = 0; p < (long)g.OHW(); ++p) std::fill(yt + p * OCp + done, yt + (p + 1) * OCp, 0.0f);
}

// ---- weight-gradient tile: J taps x V channel vectors -----------------------------------
struct WgradArgs {
    Taps in;
    const float* dyt;  // (OH*OW, ld)
    float* dwt;        // (K, ld)
    int ld, OH, OW;
};


template <int V, int J>
void WgradTile(const WgradArgs& a, const WgradTaps& tt, int o0) {
    const DF d;
    const int L = (int)hn::Lanes(d);
    const float* xj[J];
#pragma GCC unroll 12
    for (int j = 0; j < J; ++j) xj[j] = a.in.x + tt.off[j];
    VF acc[J][V];
#pragma GCC unroll 12
    for (int j = 0; j < J; ++j)
#pragma GCC unroll 4
        for (int v = 0; v < V; ++v) acc[j][v] = hn::Zero(d);
    for (int oh = tt.oh0; oh < tt.oh1; ++oh) {
        const long xo = oh * a.in.row_step;
        const float* dy = a.dyt + ((long)oh * a.OW + tt.ow0) * a.ld + o0;
        for (int ow = tt.ow0; ow < tt.ow1; ++ow, dy += a.ld) {
            VF dv[V];
#pragma GCC unroll 4
            for (int v = 0; v < V; ++v) dv[v] = hn::LoadU(d, dy + v * L);
#pragma GCC unroll 12
            for (int j = 0; j < J; ++j) {
                const VF b = hn::Set(d, xj[j][xo + ow]);
#pragma GCC unroll 4
                for (int v = 0; v < V; ++v) acc[j][v] = hn::MulAdd(b, dv[v], acc[j][v]);
            }
        }
    }
#pragma GCC unroll 12
    for (int j = 0; j < J; ++j) {
        float* out = a.dwt + (long)tt.row[j] * a.ld + o0;
#pragma GCC unroll 4
        for (int v = 0; v < V; ++v) hn::StoreU(hn::Add(hn::LoadU(d, out + v * L), acc[j][v]), d, out + v * L);
    }
}

using WgradFn = void (*)(const WgradArgs&, const WgradTaps&, int);

template <int V, size_t... I>
constexpr std::array<WgradFn, sizeof...(I)> wgrad_tiles(std::index_sequence<I...>) {
    return {&WgradTile<V, (int)I + 1>...};
}

WgradFn wgrad_tile(int V, int J) {
    static constexpr auto t1 = wgrad_tiles<1>(std::make_index_sequence<max_taps(1)>());
#if HWY_TARGET != HWY_SCALAR && HWY_TARGET != HWY_EMU128
    static constexpr auto t2 = wgrad_tiles<2>(std::make_index_sequence<max_taps(2)>());
    if (V == 2) return t2[J - 1];
#if HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_NEON
    static constexpr auto t4 = wgrad_tiles<4>(std::make_index_sequence<max_taps(4)>());
    if (V == 4) return t4[J - 1];
#endif
#endif
    (void)V;
    return t1[J - 1];
}

// The taps [k0, k0 + n) in the order (kw, kh, c): offsets, rows of dwt, and the output
// positions where some of them reads data. Counted on from the first (c fastest).
WgradTaps wgrad_taps(const Taps& in, int k0, int n, int OH, int OW) {
    WgradTaps tt;
    tt.nk = n;
    int c = k0 % in.C, kh = (k0 / in.C) % in.KH, kw = k0 / (in.C * in.KH);
    int kh_min = kh, kh_max = kh, kw_min = kw, kw_max = kw;
    for (int j = 0; j < n; ++j) {
        tt.off[j] = (int)(c * in.plane + kh * in.kh_step + in.kofs[kw]);
        tt.row[j] = (c * in.KH + kh) * in.KW + kw;
        kh_min = std::min(kh_min, kh), kh_max = std::max(kh_max, kh);
        kw_min = std::min(kw_min, kw), kw_max = std::max(kw_max, kw);
        if (++c == in.C) {
            c = 0;
            if (++kh == in.KH) kh = 0, ++kw;
        }
    }
    // The smallest rectangle of positions that holds every tap's (empty: oh0 == oh1 == 0).
    tt.oh0 = OH, tt.oh1 = 0, tt.ow0 = OW, tt.ow1 = 0;
    for (int k = kh_min; k <= kh_max; ++k) {
        int i0, i1;
        in.oh_range(k, OH, i0, i1);
        if (i0 < i1) tt.oh0 = std::min(tt.oh0, i0), tt.oh1 = std::max(tt.oh1, i1);
    }
    for (int k = kw_min; k <= kw_max; ++k) {
        int i0, i1;
        in.ow_range(k, OW, i0, i1);
        if (i0 < i1) tt.ow0 = std::min(tt.ow0, i0), tt.ow1 = std::max(tt.ow1, i1);
    }
    if (tt.oh0 >= tt.oh1 || tt.ow0 >= tt.ow1) tt.oh0 = tt.oh1 = tt.ow0 = tt.ow1 = 0;
    return tt;
}

// The plan of ConvWeightGrad: blocks of V channel vectors; the blocks of one V share their
// tiles of taps (on a 7x7 plane a tile does only 49 positions of FMAs). The taps go in the
// order (kw, kh, c), so that a tile's taps share a kernel row and column when there are
// enough channels, and it skips exactly the positions where they read padding (with a 5x5
// kernel and padding 2 on 14x14, 16% of them): with C >= J each (kw, kh) is cut into tiles
// of its own, otherwise all K taps are cut into equal tiles. Tiles that read only padding
// are left out.
void build_wgrad_plan(WgradPlan& plan, const Taps& in, int OH, int OW, int vectors) {
    plan.layout = in, plan.OH = OH, plan.OW = OW, plan.vectors = vectors;
    plan.runs.clear(), plan.tiles.clear();  // they keep their capacity: no allocation after the first steps
    const int K = in.C * in.KH * in.KW;
    for (int v0 = 0; v0 < vectors;) {
        const int V = block_vectors(vectors - v0);
        int v1 = v0;  // the run of blocks [v0, v1) of V vectors
        while (v1 < vectors && block_vectors(vectors - v1) == V) v1 += V;
        const int jmax = V == 1 ? max_taps(1) : V == 2 ? max_taps(2) : max_taps(4);
        const size_t first = plan.tiles.size();
        const auto tile = [&](int k0, int n) {
            const WgradTaps tt = wgrad_taps(in, k0, n, OH, OW);
            if (tt.oh0 < tt.oh1 && tt.ow0 < tt.ow1) plan.tiles.push_back(tt);
        };
        if (in.C >= jmax)
            for (int k = 0; k < K; k += in.C) equal_parts(in.C, jmax, [&](int c0, int n) { tile(k + c0, n); });
        else
            equal_parts(K, jmax, tile);
        plan.runs.push_back(WgradPlan::Run{V, v0, v1, first, plan.tiles.size()});
        v0 = v1;
    }
}

void ConvWeightGrad(float* dwt, const float* xpad, const float* dyt, const ConvGeom& g) {
    const int L = (int)hn::Lanes(DF());
    WgradArgs a{detail::forward_taps(xpad, g), dyt, dwt, padded_channels(g.OC), g.OH(), g.OW()};
    const int vectors = vectors_for(g.OC);
    thread_local WgradPlan plan;  // per thread, as the forward's TapLists
    if (!plan.matches(a.in, a.OH, a.OW, vectors)) build_wgrad_plan(plan, a.in, a.OH, a.OW, vectors);
    for (const WgradPlan::Run& r : plan.runs)
        for (size_t i = r.first; i < r.last; ++i) {
            const WgradTaps& tt = plan.tiles[i];
            const WgradFn f = wgrad_tile(r.V, tt.nk);
            for (int vb = r.v0; vb < r.v1; vb += r.V) f(a, tt, vb * L);
        }
}

// ---- input gradient ---------------------------------------------------------------------
// For each phase: yt (n_rows*n_cols, Cp) = the phase's stride-1 convolution of dypad, then
// dx[c][i0 + S u][j0 + S v] += yt[(u, v)][c].
void ConvInputGrad(float* dx, const float* dypad, const float* wf, float* scratch, const ConvGeom& g,
                   bool assign) {
    const GradPadLayout l = grad_pad_layout(g);
    const int Cp = padded_channels(g.C), S = g.S;
    if (assign && S > 1) std::fill(dx, dx + (long)g.C * g.H * g.W, 0.0f);  // phases without taps
    const float* w = wf;
    for (int rh = 0; rh < S; ++rh) {
        const detail::PhaseAxis ah = detail::phase_axis(rh, g.H, g.KH, S, g.P);
        for (int rw = 0; rw < S; ++rw) {
            const detail::PhaseAxis aw = detail::phase_axis(rw, g.W, g.KW, S, g.P);
            if (ah.J == 0 || aw.J == 0) continue;
            const long taps = (long)g.OC * ah.J * aw.J;
            if (ah.n > 0 && aw.n > 0) {
                const float* origin = dypad + (long)(ah.U0 - ah.J + 1 + l.top) * l.cols + (aw.U0 - aw.J + 1 + l.left);
                Taps in{origin, l.plane, l.cols, l.cols, g.OC, ah.J, aw.J, {}};
                for (int i = 0; i < aw.J; ++i) in.kofs[i] = i;
                in.row0 = ah.U0 - ah.J + 1 + l.top;  // dypad's rows [top, top + OH) hold dy
                in.data_lo = l.top, in.data_hi = l.top + g.OH();
                in.col0 = aw.U0 - aw.J + 1 + l.left;  // and its columns [left, left + OW)
                in.col_lo = l.left, in.col_hi = l.left + g.OW();
                FwdArgs a{in, nullptr, w, nullptr, Cp, scratch, Cp, ah.n, aw.n, vectors_for(g.C)};
                RunForward(a);
                const bool add = !(assign && S == 1);
                for (int u = 0; u < ah.n; ++u)
                    for (int v = 0; v < aw.n; ++v) {
                        const float* src = scratch + (long)(u * aw.n + v) * Cp;
                        float* dst = dx + (long)(ah.i0 + S * u) * g.W + aw.i0 + S * v;
                        const long plane = (long)g.H * g.W;
                        if (add)
                            for (int c = 0; c < g.C; ++c) dst[c * plane] += src[c];
                        else
                            for (int c = 0; c < g.C; ++c) dst[c * plane] = src[c];
                    }
            }
            w += taps * Cp;
        }
    }
}

// ---- layouts ------------------------------------------------------------------------------
void PadInput(float* xpad, const float* x, const ConvGeom& g) {
    const PadLayout l = pad_layout(g);
    const int S = g.S, P = g.P, Wp = g.Wp();
    for (int c = 0; c < g.C; ++c) {
        float* plane = xpad + c * l.plane;
        const float* src = x + (long)c * g.H * g.W;
        for (int r = 0; r < g.Hp(); ++r) {
            float* row = plane + (long)r * l.row_len;
            const int h = r - P;
            if (h < 0 || h >= g.H) {
                std::fill(row, row + l.row_len, 0.0f);
                continue;
            }
            const float* s = src + (long)h * g.W;
            if (S == 1) {
                std::fill(row, row + P, 0.0f);
                std::copy(s, s + g.W, row + P);
                std::fill(row + P + g.W, row + Wp, 0.0f);
                continue;
            }
            for (int ph = 0; ph < S; ++ph)
                for (int j = 0; j < l.phase_len; ++j) {
                    const int w = j * S + ph - P;
                    row[ph * l.phase_len + j] = w >= 0 && w < g.W ? s[w] : 0.0f;
                }
        }
    }
}

void PadOutputGrad(float* dypad, const float* dy, const ConvGeom& g) {
    const GradPadLayout l = grad_pad_layout(g);
    const int OH = g.OH(), OW = g.OW();
    std::fill(dypad, dypad + l.size, 0.0f);
    for (int o = 0; o < g.OC; ++o)
        for (int oh = 0; oh < OH; ++oh) {
            const float* s = dy + ((long)o * OH + oh) * OW;
            std::copy(s, s + OW, dypad + o * l.plane + (long)(oh + l.top) * l.cols + l.left);
        }
}

// Layout changes in blocks of 4 x 4, transposed in 128-bit registers (every target but the
// scalar fallback has them): 16 floats cost 4 loads, 8 shuffles and 4 stores instead of 16
// strided loads and 16 stores. Rows and columns beyond a multiple of 4 go one by one.
#if HWY_TARGET != HWY_SCALAR
using D4 = hn::CappedTag<float, 4>;
using D4x2 = hn::Repartition<uint64_t, D4>;

// r[0..4), four rows of 4 floats, transposed in place.
HWY_INLINE void Transpose4x4(hn::Vec<D4> r[4]) {
    const D4 d;
    const D4x2 d2;
    const auto t0 = hn::BitCast(d2, hn::InterleaveLower(d, r[0], r[1]));  // a0 b0 a1 b1
    const auto t1 = hn::BitCast(d2, hn::InterleaveLower(d, r[2], r[3]));  // c0 d0 c1 d1
    const auto t2 = hn::BitCast(d2, hn::InterleaveUpper(d, r[0], r[1]));  // a2 b2 a3 b3
    const auto t3 = hn::BitCast(d2, hn::InterleaveUpper(d, r[2], r[3]));  // c2 d2 c3 d3
    r[0] = hn::BitCast(d, hn::InterleaveLower(d2, t0, t1));  // a0 b0 c0 d0
    r[1] = hn::BitCast(d, hn::InterleaveUpper(d2, t0, t1));
    r[2] = hn::BitCast(d, hn::InterleaveLower(d2, t2, t3));
    r[3] = hn::BitCast(d, hn::InterleaveUpper(d2, t2, t3));
}

// y (C, P) (+)= yt (P, ld) transposed, for the channels [0, C4) (C4 a multiple of 4).
// Positions outermost: each block of 4 positions reads whole rows of yt and writes 16
// bytes into each of C4 rows of y, which stay in cache for the next block.
void LastToFirstBlocks(float* y, const float* yt, int C4, int P, int ld, bool add) {
    const D4 d;
    int p = 0;
    for (; p + 4 <= P; p += 4)
        for (int c0 = 0; c0 < C4; c0 += 4) {
            hn::Vec<D4> r[4];
            for (int i = 0; i < 4; ++i) r[i] = hn::LoadU(d, yt + (long)(p + i) * ld + c0);
            Transpose4x4(r);
            for (int i = 0; i < 4; ++i) {
                float* out = y + (long)(c0 + i) * P + p;
                hn::StoreU(add ? hn::Add(hn::LoadU(d, out), r[i]) : r[i], d, out);
            }
        }
    for (; p < P; ++p)
        for (int c = 0; c < C4; ++c) {
            float& out = y[(long)c * P + p];
            out = (add ? out : 0.0f) + yt[(long)p * ld + c];
        }
}

// yt (P, ld) = y (C, P) transposed, for the channels [0, C4) (C4 a multiple of 4);
// positions outermost, so that each block of 4 rows of yt is written whole.
void FirstToLastBlocks(float* yt, const float* y, int C4, int P, int ld) {
    const D4 d;
    int p = 0;
    for (; p + 4 <= P; p += 4)
        for (int c0 = 0; c0 < C4; c0 += 4) {
            hn::Vec<D4> r[4];
            for (int i = 0; i < 4; ++i) r[i] = hn::LoadU(d, y + (long)(c0 + i) * P + p);
            Transpose4x4(r);
            for (int i = 0; i < 4; ++i) hn::StoreU(r[i], d, yt + (long)(p + i) * ld + c0);
        }
    for (; p < P; ++p)
        for (int c = 0; c < C4; ++c) yt[(long)p * ld + c] = y[(long)c * P + p];
}
constexpr bool kBlocks = true;
#else
void LastToFirstBlocks(float*, const float*, int, int, int, bool) {}
void FirstToLastBlocks(float*, const float*, int, int, int) {}
constexpr bool kBlocks = false;  // the scalar fallback goes one by one
#endif

// y (C, P) (+)= yt (P, ld) transposed: rows of y are channels, rows of yt positions.
void ChannelsLastToFirst(float* y, const float* yt, int C, int P, int ld, bool add) {
    const int C4 = kBlocks ? C - C % 4 : 0;
    LastToFirstBlocks(y, yt, C4, P, ld, add);
    for (int c = C4; c < C; ++c)
        for (int p = 0; p < P; ++p) {
            float& out = y[(long)c * P + p];
            out = (add ? out : 0.0f) + yt[(long)p * ld + c];
        }
}

// yt (P, ld) = y (C, P) transposed; channels C..ld-1 set to 0.
void ChannelsFirstToLast(float* yt, const float* y, int C, int P, int ld) {
    const int C4 = kBlocks ? C - C % 4 : 0;
    FirstToLastBlocks(yt, y, C4, P, ld);
    for (int p = 0; p < P; ++p) {
        float* dst = yt + (long)p * ld;
        for (int c = C4; c < C; ++c) dst[c] = y[(long)c * P + p];
        std::fill(dst + C, dst + ld, 0.0f);
    }
}

// ---- small helpers of the backward --------------------------------------------------------
void AddColumnSums(float* acc, const float* rows, int P, int ld) {
    const DF d;
    const int L = (int)hn::Lanes(d);
    for (int c = 0; c < ld; c += L) {
        auto s = hn::Zero(d);
        for (int p = 0; p < P; ++p) s = hn::Add(s, hn::LoadU(d, rows + (long)p * ld + c));
        hn::StoreU(hn::Add(hn::LoadU(d, acc + c), s), d, acc + c);
    }
}

float AddAndSquare(float* gsum, float* gsq, const float* g, long n) {
    const DF d;
    const long L = (long)hn::Lanes(d);
    // The norm adds up in vectors of floats over chunks of 256 vectors, then in double:
    // a float sum over a million squares (a wide layer) would be off by about 1e-4.
    const long chunk = 256 * L;
    double norm = 0.0;
    long i = 0;
    while (i + L <= n) {
        auto part = hn::Zero(d);
        for (const long end = std::min(n - L, i + chunk - L); i <= end; i += L) {
            const auto v = hn::LoadU(d, g + i);
            hn::StoreU(hn::Add(hn::LoadU(d, gsum + i), v), d, gsum + i);
            hn::StoreU(hn::MulAdd(v, v, hn::LoadU(d, gsq + i)), d, gsq + i);
            part = hn::MulAdd(v, v, part);
        }
        norm += hn::GetLane(hn::SumOfLanes(d, part));
    }
    for (; i < n; ++i) {
        gsum[i] += g[i];
        gsq[i] += g[i] * g[i];
        norm += g[i] * g[i];
    }
    return (float)norm;
}

}  // namespace dl::fast::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

// ---- dispatch (compiled once) ---------------------------------------------------------
#if HWY_ONCE
#include "core/fast/dispatch.h"
#include "core/fast/winograd_hwy.h"

namespace dl::fast {

HWY_EXPORT(ConvForward);
HWY_EXPORT(ConvWeightGrad);
HWY_EXPORT(ConvInputGrad);
HWY_EXPORT(PadInput);
HWY_EXPORT(PadOutputGrad);
HWY_EXPORT(ChannelsLastToFirst);
HWY_EXPORT(ChannelsFirstToLast);
HWY_EXPORT(AddColumnSums);
HWY_EXPORT(AddAndSquare);

void add_column_sums(float* acc, const float* rows, int P, int ld) {
    simd_init();
    HWY_DYNAMIC_DISPATCH(AddColumnSums)(acc, rows, P, ld);
}

float add_and_square(float* gsum, float* gsq, const float* g, long n) {
    simd_init();
    return HWY_DYNAMIC_DISPATCH(AddAndSquare)(gsum, gsq, g, n);
}

const char* conv_unsupported_reason(const ConvGeom& g) {
    if (g.KW > kMaxKernel) return "kernel wider than 16";
    return nullptr;
}

bool conv_supported(const ConvGeom& g) { return conv_unsupported_reason(g) == nullptr; }

PadLayout pad_layout(const ConvGeom& g) {
    PadLayout l{};
    l.phase_len = (g.Wp() + g.S - 1) / g.S;
    l.row_len = g.S * l.phase_len;
    l.plane = (long)g.Hp() * l.row_len;
    l.size = g.C * l.plane;
    return l;
}

// The padding around dy that every phase's window of conv_input_grad fits in.
GradPadLayout grad_pad_layout(const ConvGeom& g) {
    int top = 0, left = 0, bottom = g.OH(), right = g.OW();  // [top, bottom): dy rows needed, relative to dy
    for (int r = 0; r < g.S; ++r) {
        const detail::PhaseAxis ah = detail::phase_axis(r, g.H, g.KH, g.S, g.P);
        const detail::PhaseAxis aw = detail::phase_axis(r, g.W, g.KW, g.S, g.P);
        if (ah.J > 0 && ah.n > 0) top = std::max(top, -(ah.U0 - ah.J + 1)), bottom = std::max(bottom, ah.U0 + ah.n);
        if (aw.J > 0 && aw.n > 0) left = std::max(left, -(aw.U0 - aw.J + 1)), right = std::max(right, aw.U0 + aw.n);
    }
    GradPadLayout l{};
    l.top = top, l.left = left;
    l.rows = top + bottom, l.cols = left + right;
    l.plane = (long)l.rows * l.cols;
    l.size = g.OC * l.plane;
    return l;
}

void conv_pad_input(float* xpad, const float* x, const ConvGeom& g) {
    simd_init();
    HWY_DYNAMIC_DISPATCH(PadInput)(xpad, x, g);
}

long conv_forward_weights_size(const ConvGeom& g) {
    const long OCp = padded_channels(g.OC);
    return conv_winograd(g) ? winograd_weights_size(g.C, g.OC) + OCp : (g.K() + 1) * OCp;
}

void conv_prepare_forward_weights(float* wt, const float* w, const float* bias, const ConvGeom& g) {
    const int K = g.K(), OCp = padded_channels(g.OC);
    std::fill(wt, wt + conv_forward_weights_size(g), 0.0f);
    if (conv_winograd(g)) {
        winograd_prepare_weights(wt, w, g.C, g.OC, g.KH, false);
        if (bias) std::copy(bias, bias + g.OC, wt + winograd_weights_size(g.C, g.OC));
        return;
    }
    for (int o = 0; o < g.OC; ++o) {
        const float* wo = w + (long)o * K;
        long row = 0;  // (kh, c, kw), the order of the forward tiles' taps
        for (int kh = 0; kh < g.KH; ++kh)
            for (int c = 0; c < g.C; ++c)
                for (int kw = 0; kw < g.KW; ++kw, ++row) wt[row * OCp + o] = wo[((long)c * g.KH + kh) * g.KW + kw];
        if (bias) wt[(long)K * OCp + o] = bias[o];
    }
}

long conv_forward_scratch_size(const ConvGeom& g) {
    return conv_winograd(g) ? winograd_scratch_size(g.C, g.OC, g.OH(), g.OW(), g.KH) : 0;
}

void conv_forward(float* yt, const float* xpad, const float* wt, float* scratch, const ConvGeom& g) {
    simd_init();
    if (conv_winograd(g)) {  // xpad holds the data in rows and columns [P, P + H), [P, P + W)
        const PadLayout l = pad_layout(g);
        const WinogradInput in{xpad, l.plane, l.row_len, 0, 0, g.P, g.P + g.H, g.P, g.P + g.W, g.C};
        winograd_conv(yt, padded_channels(g.OC), in, wt, wt + winograd_weights_size(g.C, g.OC), g.OC, g.OH(), g.OW(),
                      g.KH, scratch);
        return;
    }
    HWY_DYNAMIC_DISPATCH(ConvForward)(yt, xpad, wt, g);
}

void conv_weight_grad(float* dwt, const float* xpad, const float* dyt, const ConvGeom& g) {
    simd_init();
    HWY_DYNAMIC_DISPATCH(ConvWeightGrad)(dwt, xpad, dyt, g);
}

void conv_pad_output_grad(float* dypad, const float* dy, const ConvGeom& g) {
    simd_init();
    HWY_DYNAMIC_DISPATCH(PadOutputGrad)(dypad, dy, g);
}

long conv_input_grad_weights_size(const ConvGeom& g) {
    return conv_winograd(g) ? winograd_weights_size(g.OC, g.C) : (long)g.OC * g.KH * g.KW * padded_channels(g.C);
}

// Phase by phase (rh, rw), the taps (jj, o, ii) of that phase (the forward tiles' order: kernel
// rows outermost), flipped, transposed to (taps, Cp):
// wf[(jj,o,ii)][c] = w[o][c][rh + S (Jh-1-jj)][rw + S (Jw-1-ii)].
void conv_prepare_input_grad_weights(float* wf, const float* w, const ConvGeom& g) {
    if (conv_winograd(g)) {
        winograd_prepare_weights(wf, w, g.OC, g.C, g.KH, true);
        return;
    }
    const int Cp = padded_channels(g.C), S = g.S;
    std::fill(wf, wf + conv_input_grad_weights_size(g), 0.0f);
    for (int rh = 0; rh < S; ++rh) {
        const int Jh = rh < g.KH ? (g.KH - 1 - rh) / S + 1 : 0;
        for (int rw = 0; rw < S; ++rw) {
            const int Jw = rw < g.KW ? (g.KW - 1 - rw) / S + 1 : 0;
            for (int jj = 0; jj < Jh; ++jj)
                for (int o = 0; o < g.OC; ++o)
                    for (int ii = 0; ii < Jw; ++ii, wf += Cp) {
                        const int kh = rh + S * (Jh - 1 - jj), kw = rw + S * (Jw - 1 - ii);
                        for (int c = 0; c < g.C; ++c) wf[c] = w[(((long)o * g.C + c) * g.KH + kh) * g.KW + kw];
                    }
        }
    }
}

long conv_input_grad_scratch_size(const ConvGeom& g) {
    const long rows = (g.H + g.S - 1) / g.S, cols = (g.W + g.S - 1) / g.S;
    const long out = rows * cols * padded_channels(g.C);  // one phase's input gradient, channels last
    return conv_winograd(g) ? out + winograd_scratch_size(g.OC, g.C, g.H, g.W, g.KH) : out;
}

void conv_input_grad(float* dx, const float* dypad, const float* wf, float* scratch, const ConvGeom& g,
                     bool assign) {
    simd_init();
    if (conv_winograd(g)) {  // stride 1: one phase, a KxK convolution of dy with padding K - 1 - P
        const GradPadLayout l = grad_pad_layout(g);
        const detail::PhaseAxis ah = detail::phase_axis(0, g.H, g.KH, 1, g.P);
        const detail::PhaseAxis aw = detail::phase_axis(0, g.W, g.KW, 1, g.P);
        const WinogradInput in{dypad, l.plane, l.cols, ah.U0 - ah.J + 1 + l.top, aw.U0 - aw.J + 1 + l.left,
                               l.top, l.top + g.OH(), l.left, l.left + g.OW(), g.OC};
        const int Cp = padded_channels(g.C);
        winograd_conv(scratch, Cp, in, wf, nullptr, g.C, g.H, g.W, g.KH, scratch + (long)g.H * g.W * Cp);
        channels_last_to_first(dx, scratch, g.C, g.H * g.W, Cp, !assign);
        return;
    }
    HWY_DYNAMIC_DISPATCH(ConvInputGrad)(dx, dypad, wf, scratch, g, assign);
}

void channels_last_to_first(float* y, const float* yt, int C, int P, int ld, bool add) {
    simd_init();
    HWY_DYNAMIC_DISPATCH(ChannelsLastToFirst)(y, yt, C, P, ld, add);
}

void channels_first_to_last(float* yt, const float* y, int C, int P, int ld) {
    simd_init();
    HWY_DYNAMIC_DISPATCH(ChannelsFirstToLast)(yt, y, C, P, ld);
}

}  // namespace dl::fast
#endif  // HWY_ONCE
