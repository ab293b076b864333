// The fast convolution (see core/fast/conv.h): per example, in an OpenMP loop over
// the batch (OpenBLAS runs single-threaded inside a parallel region). Forward hands
// out examples as threads come free; backward gives each thread a fixed range, as
// its partial sums must be added in the same order on every run.
//
// Forward, for each example b (K = C*KH*KW, OHW = OH*OW):
//   xpad_b (C,Hp,Wp) = x_b with `padding` zeros around each plane (kept for backward)
//   y_b    (OC,OHW)  = W (OC,K) im2col(xpad_b) + bias
// computed by the direct AVX-512 kernel (stride 1, OC a multiple of 8), which reads
// xpad_b in place, or else by im2col into a per-thread buffer and a GEMM.
// Backward, per example, into per-thread partials reduced in thread order:
//   dW^T (K,OC) += im2col(xpad_b) dy_b^T   direct kernel for OC 16/32/64 (no im2col), else
//                                          im2col + GEMM (transposed: the faster shape)
//   dx_b        += W^T dy_b folded back     stride 1: a direct convolution of dy_b with the
//                                          flipped weights; else a GEMM into dcols + col2im
// Statistics: the per-example gradient g_b = s dy_b cols^T is formed anyway; squaring
// it into a per-thread grad_sq partial costs one pass over W.
// Padding the input once means no kernel needs bounds checks.
//
// The fused convolution + ReLU + max pooling (at the end) runs the same per-example
// steps and pools each example's output while it is in cache.
#include "core/fast/conv.h"

#include <omp.h>
#ifdef __AVX512F__
#include <immintrin.h>
#endif

#include <algorithm>

#include "core/fast/conv_direct.h"
#include "core/fast/fast.h"
#include "core/fast/gemm.h"
#include "core/fast/parallel.h"
#include "core/fast/pool.h"

namespace dl::fast {

namespace {


// One output row of im2col: dst[ow] = src[ow * S], and its transpose for
// col2im: dst[ow * S] += src[ow]. The stride is a template argument so that the
// common S = 1 case is a plain copy/add (a memcpy call costs more than the copy
// for rows of 14 or 28 floats).
template <int S>
void copy_row(float* dst, const float* src, int OW, int stride) {
    const int s = S > 0 ? S : stride;
    for (int ow = 0; ow < OW; ++ow) dst[ow] = src[ow * s];
}

template <int S>
void add_row(float* dst, const float* src, int OW, int stride) {
    const int s = S > 0 ? S : stride;
    for (int ow = 0; ow < OW; ++ow) dst[ow * s] += src[ow];
}

#ifdef __AVX512F__
// S = 1 with AVX-512: 16 floats at a time and one masked load/store for the
// rest, instead of the compiler's 8-wide loop plus up to 7 scalar steps (a row
// of 14 floats was half scalar; col2im spent most of its time there).

template <>
void copy_row<1>(float* dst, const float* src, int OW, int) {
    int i = 0;
    for (; i + 16 <= OW; i += 16) _mm512_storeu_ps(dst + i, _mm512_loadu_ps(src + i));
    if (i < OW) {
        const __mmask16 m = tail_mask(OW - i);
        _mm512_mask_storeu_ps(dst + i, m, _mm512_maskz_loadu_ps(m, src + i));
    }
}

template <>
void add_row<1>(float* dst, const float* src, int OW, int) {
    int i = 0;
    for (; i + 16 <= OW; i += 16)
        _mm512_storeu_ps(dst + i, _mm512_add_ps(_mm512_loadu_ps(dst + i), _mm512_loadu_ps(src + i)));
    if (i < OW) {
        const __mmask16 m = tail_mask(OW - i);
        const __m512 sum = _mm512_add_ps(_mm512_maskz_loadu_ps(m, dst + i), _mm512_maskz_loadu_ps(m, src + i));
        _mm512_mask_storeu_ps(dst + i, m, sum);
    }
}
#endif

// xpad (C,Hp,Wp) = x (C,H,W) with P zeros around each plane; writes every element once.
void pad_example(float* xpad, const float* x, const ConvGeom& g) {
    const int Wp = g.Wp(), P = g.P;
    for (int c = 0; c < g.C; ++c) {
        float* dst = xpad + (long)c * g.Hp() * Wp;
        std::fill(dst, dst + (long)P * Wp, 0.0f);
        dst += (long)P * Wp;
        for (int h = 0; h < g.H; ++h, dst += Wp) {
            std::fill(dst, dst + P, 0.0f);
            copy_row<1>(dst + P, x + ((long)c * g.H + h) * g.W, g.W, 1);  // not memcpy: a call per short row
            std::fill(dst + P + g.W, dst + Wp, 0.0f);
        }
        std::fill(dst, dst + (long)P * Wp, 0.0f);
    }
}

// cols (K,OHW) from xpad (C,Hp,Wp): cols[(c,kh,kw)][(oh,ow)] = xpad[c][oh*S+kh][ow*S+kw]
template <int S>
void im2col_s(float* cols, const float* xpad, const ConvGeom& g) {
    const int OH = g.OH(), OW = g.OW(), Wp = g.Wp();
    for (int c = 0; c < g.C; ++c)
        for (int kh = 0; kh < g.KH; ++kh)
            for (int kw = 0; kw < g.KW; ++kw) {
                const float* plane = xpad + (long)c * g.Hp() * Wp + (long)kh * Wp + kw;
                for (int oh = 0; oh < OH; ++oh, cols += OW) copy_row<S>(cols, plane + (long)oh * g.S * Wp, OW, g.S);
            }
}

// dxpad (C,Hp,Wp) += col2im(dcols (K,OHW)): the transpose of im2col.
template <int S>
void col2im_s(float* dxpad, const float* dcols, const ConvGeom& g) {
    const int OH = g.OH(), OW = g.OW(), Wp = g.Wp();
    for (int c = 0; c < g.C; ++c)
        for (int kh = 0; kh < g.KH; ++kh)
            for (int kw = 0; kw < g.KW; ++kw) {
                float* plane = dxpad + (long)c * g.Hp() * Wp + (long)kh * Wp + kw;
                for (int oh = 0; oh < OH; ++oh, dcols += OW) add_row<S>(plane + (long)oh * g.S * Wp, dcols, OW, g.S);
            }
}

void im2col(float* cols, const float* xpad, const ConvGeom& g) {
    if (g.S == 1) im2col_s<1>(cols, xpad, g);
    else im2col_s<0>(cols, xpad, g);
}

void col2im(float* dxpad, const float* dcols, const ConvGeom& g) {
    if (g.S == 1) col2im_s<1>(dxpad, dcols, g);
    else col2im_s<0>(dxpad, dcols, g);
}

// dx (C,H,W) += the interior of dxpad (C,Hp,Wp), or = when `assign`
void unpad_add(float* dx, const float* dxpad, const ConvGeom& g, bool assign) {
    for (int c = 0; c < g.C; ++c)
        for (int h = 0; h < g.H; ++h) {
            const float* src = dxpad + ((long)c * g.Hp() + h + g.P) * g.Wp() + g.P;
            float* dst = dx + ((long)c * g.H + h) * g.W;
            if (assign) std::copy(src, src + g.W, dst);
            else add_row<1>(dst, src, g.W, 1);
        }
}

// The examples [first, last) that thread `tid` of `nt` handles: a fixed split,

#ifdef __AVX512F__
// r[0..16) (16 rows of 16 floats) transposed in registers: afterwards r[j] holds
// what was column j. Three rounds of shuffles: pairs of floats, pairs of pairs, then
// 128-bit lanes (4x4 blocks). (GCC 12 warns, wrongly, that the unpack intrinsics
// read an uninitialised variable: their headers' own placeholder for unused lanes.)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
inline void transpose16x16(__m512 r[16]) {
    __m512 t[16], u[16];
    for (int i = 0; i < 16; i += 2) {  // t[i]: a0 b0 a1 b1 | ..., t[i+1]: a2 b2 a3 b3 | ... (a = r[i], b = r[i+1])
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {  // u[i+j], in each 128-bit lane L: column 4L+j of rows i..i+3
        const __m512d t0 = _mm512_castps_pd(t[i]), t1 = _mm512_castps_pd(t[i + 1]);
        const __m512d t2 = _mm512_castps_pd(t[i + 2]), t3 = _mm512_castps_pd(t[i + 3]);
        u[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2));
        u[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2));
        u[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3));
        u[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3));
    }
    for (int j = 0; j < 4; ++j) {  // column 4L+j = lane L of u[j], u[4+j], u[8+j], u[12+j]
        const __m512 v0 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0x44), v1 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0xEE);
        const __m512 w0 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0x44);
        const __m512 w1 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0xEE);
        r[j] = _mm512_shuffle_f32x4(v0, w0, 0x88);
        r[4 + j] = _mm512_shuffle_f32x4(v0, w0, 0xDD);
        r[8 + j] = _mm512_shuffle_f32x4(v1, w1, 0x88);
        r[12 + j] = _mm512_shuffle_f32x4(v1, w1, 0xDD);
    }
}
#pragma GCC diagnostic pop
#endif

// dyt (OHW,OC) = dy (OC,OHW) transposed. With AVX-512 and OC a multiple of 16, in
// blocks of 16 channels x 16 positions transposed in registers (the scalar loop
// below cost as much as the direct weight-gradient kernel it feeds, for OC = 16).
void transpose_dy(float* dyt, const float* dy, int OC, int OHW) {
#ifdef __AVX512F__
    if (OC % 16 == 0) {
        for (int o = 0; o < OC; o += 16)
            for (int p = 0; p < OHW; p += 16) {
                const int n = std::min(16, OHW - p);
                const __mmask16 m = tail_mask(n);
                __m512 r[16];
                for (int i = 0; i < 16; ++i) r[i] = _mm512_maskz_loadu_ps(m, dy + (long)(o + i) * OHW + p);
                transpose16x16(r);
                for (int j = 0; j < n; ++j) _mm512_storeu_ps(dyt + (long)(p + j) * OC + o, r[j]);
            }
        return;
    }
#endif
    for (int o = 0; o < OC; ++o)
        for (int p = 0; p < OHW; ++p) dyt[(long)p * OC + o] = dy[(long)o * OHW + p];
}

// wt (K,OC) = weight (OC,K) transposed
void transpose_weights(float* wt, const float* weight, const ConvGeom& g) {
    const int K = g.K();
    for (int o = 0; o < g.OC; ++o)
        for (int k = 0; k < K; ++k) wt[(long)k * g.OC + o] = weight[(long)o * K + k];
}


// ---- forward: y_b (OC,OHW) = W (OC,K) im2col(xpad_b) + bias ------------------------------
void forward(float* y, const float* x, const float* weight, const float* bias, const ConvGeom& g, ConvWork& work) {
    const int K = g.K(), OHW = g.OHW(), T = omp_get_max_threads();
    work.xpad.resize((size_t)g.N * g.in_plane());
    const bool direct = direct_conv(g);
    if (direct) {  // the transposed weights (K,OC) instead of per-thread columns
        work.wt.resize((size_t)K * g.OC);
        transpose_weights(work.wt.data(), weight, g);
    } else {
        work.cols.resize((size_t)T * K * OHW);
    }
    float* xpad = work.xpad.data();
#pragma omp parallel num_threads(T)
    {
        float* cols = direct ? nullptr : work.cols.data() + (long)omp_get_thread_num() * K * OHW;
        // Examples are handed out two at a time as threads come free: one thread slowed
        // down (the cores are shared) does not hold up the other, and as each example's
        // output is its own, the numbers do not depend on who computed what.
#pragma omp for schedule(dynamic, 2) nowait
        for (int b = 0; b < g.N; ++b) {
            float* xp = xpad + b * g.in_plane();
            float* yb = y + (long)b * g.OC * OHW;
            pad_example(xp, x + (long)b * g.C * g.H * g.W, g);
            if (direct) {
                conv_direct_example(yb, xp, work.wt.data(), bias, false, g);
                continue;
            }
            im2col(cols, xp, g);
            if (bias)
                for (int o = 0; o < g.OC; ++o) std::fill(yb + (long)o * OHW, yb + (long)(o + 1) * OHW, bias[o]);
            sgemm(false, false, g.OC, OHW, K, 1.0f, weight, K, cols, OHW, bias ? 1.0f : 0.0f, yb, OHW);
        }
    }
}

// ---- input gradient as a direct convolution (stride 1) ----------------------------------
// dx[c][h][w] = sum_{o,kh,kw} W[o][c][kh][kw] dy[o][h+P-kh][w+P-kw]: a stride-1
// convolution of dy, padded by Q = K-1-P, with the flipped weights
// Wf[c][o][kh][kw] = W[o][c][K-1-kh][K-1-kw]. Its output has dx's shape.
ConvGeom input_grad_geom(const ConvGeom& g) {
    return ConvGeom{g.N, g.OC, g.OH(), g.OW(), g.C, g.KH, g.KW, 1, g.KH - 1 - g.P};
}

bool direct_input_grad(const ConvGeom& g) {
    return g.S == 1 && g.KH == g.KW && g.P <= g.KH - 1 && direct_conv(input_grad_geom(g));
}

// wft (OC*KH*KW, C): the flipped weights transposed, wft[(o,kh,kw)][c] = W[o][c][KH-1-kh][KW-1-kw]
void flip_weights(float* wft, const float* weight, const ConvGeom& g) {
    for (int o = 0; o < g.OC; ++o)
        for (int c = 0; c < g.C; ++c)
            for (int kh = 0; kh < g.KH; ++kh)
                for (int kw = 0; kw < g.KW; ++kw)
                    wft[(((long)o * g.KH + kh) * g.KW + kw) * g.C + c] =
                        weight[(((long)o * g.C + c) * g.KH + g.KH - 1 - kh) * g.KW + g.KW - 1 - kw];
}

// Per-thread backward workspace. work.partials holds, per thread, the partial sums
// dW^T (K*OC) | db (OC) | and with statistics sq_W^T (K*OC) | sq_b (OC) | g_W^T (K*OC) | g_b (OC).
// The weight parts are transposed, (K,OC): see weight_grad_example.
// work.dx_work holds, per thread, dcols (K*OHW) | dxpad (C*Hp*Wp); or, with the direct
// input gradient, wft (OC*KH*KW, C) once, then per thread a padded dy (input_grad_geom's in_plane).
struct Workspace {
    long wsize, stride;  // OC*K + OC, floats per thread in partials
    long dx_stride;      // floats per thread in dx_work (im2col path)
    float* part(ConvWork& w, int tid) const { return w.partials.data() + tid * stride; }
};

Workspace make_workspace(ConvWork& work, const ConvGeom& g, int T, bool stats, bool need_dx) {
    Workspace ws;
    ws.wsize = (long)g.OC * g.K() + g.OC;
    ws.stride = ws.wsize * (stats ? 3 : 1);
    ws.dx_stride = (long)g.K() * g.OHW() + g.in_plane();
    work.partials.resize((size_t)T * ws.stride);
    if (need_dx && direct_input_grad(g))
        work.dx_work.resize((size_t)((long)g.K() * g.OC + T * input_grad_geom(g).in_plane()));
    else if (need_dx)
        work.dx_work.resize((size_t)T * ws.dx_stride);
    return ws;
}

// db (OC) += row sums of dy (OC,OHW). The sums are vectorised ('omp simd'
// lets the compiler reorder the additions; a scalar chain of 196 dependent adds
// per row cost more than the rest of the bias gradient).
void add_row_sums(float* db, const float* dy, int OC, int OHW) {
    for (int o = 0; o < OC; ++o) {
        const float* row = dy + (long)o * OHW;
        float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
        for (int i = 0; i < OHW; ++i) acc += row[i];
        db[o] += acc;
    }
}

// With statistics: gsum += g;  gsq += g^2;  returns ||g||^2, for g of `size` floats.
float add_and_square(float* gsum, float* gsq, const float* g, long size) {
    float norm = 0.0f;
#pragma omp simd reduction(+ : norm)
    for (long i = 0; i < size; ++i) {
        gsum[i] += g[i];
        gsq[i] += g[i] * g[i];
        norm += g[i] * g[i];
    }
    return norm;
}

// dwt (K,OC) = beta dwt + the weight gradient of one example, transposed.
// With the direct kernel, cols is scratch for dy transposed; otherwise it holds
// im2col of the example (K,OHW). xpad (C,Hp,Wp), dy (OC,OHW).
void weight_grad_transposed(float* dwt, float beta, const float* xpad, float* cols, const float* dy,
                            const ConvGeom& g) {
    const int K = g.K(), OHW = g.OHW(), OC = g.OC;
    if (!direct_weight_grad(g)) {
        sgemm(false, true, K, OC, OHW, 1.0f, cols, OHW, dy, OHW, beta, dwt, OC);
        return;
    }
    if (beta == 0.0f) std::fill(dwt, dwt + (long)K * OC, 0.0f);
    transpose_dy(cols, dy, OC, OHW);
    weight_grad_direct(dwt, xpad, cols, g);
}

// Weight and bias gradient of one example, into this thread's partials (see
// weight_grad_transposed for xpad and cols). Returns ||contribution||^2 when
// statistics are on (the caller scales it by s^2).
float weight_grad_example(float* part, const Workspace& ws, const float* xpad, float* cols, const float* dy,
                          const ConvGeom& g, bool has_bias, bool stats) {
    const int K = g.K(), OHW = g.OHW(), OC = g.OC;
    if (!stats) {
        weight_grad_transposed(part, 1.0f, xpad, cols, dy, g);
        if (has_bias) add_row_sums(part + (long)OC * K, dy, OC, OHW);
        return 0.0f;
    }
    float* sq = part + ws.wsize;
    float* gb = part + 2 * ws.wsize;  // g_W^T (K,OC) then g_b (OC)
    weight_grad_transposed(gb, 0.0f, xpad, cols, dy, g);
    std::fill(gb + (long)OC * K, gb + ws.wsize, 0.0f);
    if (has_bias) add_row_sums(gb + (long)OC * K, dy, OC, OHW);
    return add_and_square(part, sq, gb, has_bias ? ws.wsize : (long)OC * K);
}

// Input gradient of one example: dx_b (C,H,W) += col2im(W^T dy_b)  (= when `assign`).
void input_grad_example(float* dx, float* scratch, const float* weight, const float* dy, const ConvGeom& g,
                        bool assign) {
    float* dcols = scratch;
    float* dxpad = scratch + (long)g.K() * g.OHW();
    sgemm(true, false, g.K(), g.OHW(), g.OC, 1.0f, weight, g.K(), dy, g.OHW(), 0.0f, dcols, g.OHW());
    std::fill(dxpad, dxpad + g.in_plane(), 0.0f);
    col2im(dxpad, dcols, g);
    unpad_add(dx, dxpad, g, assign);
}

// dst (C,R) += scale * src^T for src (R,C)
void add_transposed(float* dst, const float* src, int R, int C, float scale) {
    for (int c = 0; c < C; ++c)
        for (int r = 0; r < R; ++r) dst[(long)c * R + r] += scale * src[(long)r * C + c];
}

// Adds the threads' partials in thread order: dw, db and (with statistics)
// dw_sq += sq_scale sum_b c_b^2. Weight partials are (K,OC): transposed back here.
void reduce_partials(const ConvGrads& d, ConvWork& work, const Workspace& ws, int nt, const ConvGeom& g) {
    const long wn = (long)g.OC * g.K();
    for (int tid = 0; tid < nt; ++tid) {
        const float* part = ws.part(work, tid);
        add_transposed(d.dw, part, g.K(), g.OC, 1.0f);
        if (d.db)
            for (int o = 0; o < g.OC; ++o) d.db[o] += part[wn + o];
        if (!d.dw_sq) continue;
        const float* sq = part + ws.wsize;
        add_transposed(d.dw_sq, sq, g.K(), g.OC, d.sq_scale);
        if (d.db)
            for (int o = 0; o < g.OC; ++o) d.db_sq[o] += d.sq_scale * sq[wn + o];
    }
}

// The backward of conv2d and of the fused op; they differ only in where each
// example's dy (OC,OH,OW) comes from: dy_of(b, tid) returns it (thread tid may
// build it in its own scratch).
template <class DyOf>
void backward_with(const ConvGrads& d, const float* weight, const ConvGeom& g, ConvWork& work, DyOf dy_of) {
    const int T = omp_get_max_threads(), K = g.K(), OHW = g.OHW();
    const bool stats = d.dw_sq != nullptr;
    const bool need_dx = d.dx != nullptr;
    const Workspace ws = make_workspace(work, g, T, stats, need_dx);
    // cols, per thread: im2col's columns (K,OHW), or for the direct kernel dy transposed (OHW,OC)
    const int rows = direct_weight_grad(g) ? g.OC : K;
    work.cols.resize((size_t)T * rows * OHW);
    const bool direct_dx = need_dx && direct_input_grad(g);
    const ConvGeom gi = input_grad_geom(g);
    if (direct_dx) flip_weights(work.dx_work.data(), weight, g);
    int used = 1;
#pragma omp parallel num_threads(T)
    {
        const int tid = omp_get_thread_num(), nt = omp_get_num_threads();
        if (tid == 0) used = nt;
        int first, last;
        thread_range(g.N, tid, nt, first, last);
        float* part = ws.part(work, tid);
        float* cols = work.cols.data() + (long)tid * rows * OHW;
        std::fill(part, part + ws.stride, 0.0f);
        for (int b = first; b < last; ++b) {
            const float* dyb = dy_of(b, tid);
            const float* xpad = work.xpad.data() + b * g.in_plane();
            if (!direct_weight_grad(g)) im2col(cols, xpad, g);
            const float norm = weight_grad_example(part, ws, xpad, cols, dyb, g, d.db != nullptr, stats);
            if (stats) d.sqnorm[b] += d.norm_scale * norm;
            float* dxb = d.dx + (long)b * g.C * g.H * g.W;
            if (direct_dx) {
                float* dypad = work.dx_work.data() + (long)K * g.OC + tid * gi.in_plane();
                pad_example(dypad, dyb, gi);
                conv_direct_example(dxb, dypad, work.dx_work.data(), nullptr, !d.dx_assign, gi);
            } else if (need_dx) {
                input_grad_example(dxb, work.dx_work.data() + tid * ws.dx_stride, weight, dyb, g, d.dx_assign);
            }
        }
    }
    reduce_partials(d, work, ws, used, g);
}

}  // namespace

bool conv2d_forward(float* y, const float* x, const float* w, const float* b, const ConvGeom& g, ConvWork& work) {
    if (!enabled()) return false;
    forward(y, x, w, b, g, work);
    return true;
}

void conv2d_backward(const ConvGrads& d, const float* dy, const float* w, const ConvGeom& g, ConvWork& work) {
    const long size = (long)g.OC * g.OHW();
    backward_with(d, w, g, work, [=](int b, int) { return dy + b * size; });
}

// ---- conv2d, ReLU and max pooling as one op -------------------------------------------------
// Each thread convolves one example into its scratch (OC,OH,OW), which stays in
// cache, and pools it from there: the full-size convolution output is never
// written to memory nor read back (cnn's first layer: 3.2 MB a batch). Backward
// unpools each example's gradient into the same scratch and runs conv2d's backward
// from it. Only with the direct kernel (elsewhere the op records conv2d and
// relu_max_pool2d instead).
bool conv2d_relu_max_pool2d_applies(const ConvGeom& g, int pk, int ps) {
    const bool pool_fits = pk >= 1 && ps >= 1 && g.OH() >= pk && g.OW() >= pk;
    return enabled() && direct_conv(g) && pool_fits;
}

void conv2d_relu_max_pool2d_forward(float* y, int* argmax, const float* x, const float* weight, const float* bias,
                                    const ConvGeom& g, int pk, int ps, ConvWork& work) {
    const PoolGeom plane = pool_geom(1, g.OH(), g.OW(), pk, ps);
    const int T = omp_get_max_threads(), OHW = g.OHW(), PHW = plane.OH * plane.OW;
    work.xpad.resize((size_t)g.N * g.in_plane());
    work.wt.resize((size_t)g.K() * g.OC);
    transpose_weights(work.wt.data(), weight, g);
    work.scratch.resize((size_t)T * g.OC * OHW);
#pragma omp parallel num_threads(T)
    {
        float* ys = work.scratch.data() + (long)omp_get_thread_num() * g.OC * OHW;
#pragma omp for schedule(dynamic, 2) nowait  // see forward()
        for (int b = 0; b < g.N; ++b) {
            float* xp = work.xpad.data() + b * g.in_plane();
            pad_example(xp, x + (long)b * g.C * g.H * g.W, g);
            conv_direct_example(ys, xp, work.wt.data(), bias, false, g);
            const long out = (long)b * g.OC * PHW;
            for (int o = 0; o < g.OC; ++o)
                relu_max_pool_plane(y + out + o * PHW, argmax + out + o * PHW, ys + (long)o * OHW, plane);
        }
    }
}

void conv2d_relu_max_pool2d_backward(const ConvGrads& d, const float* dpool, const int* argmax, const float* weight,
                                     const ConvGeom& g, int pk, int ps, ConvWork& work) {
    const PoolGeom plane = pool_geom(1, g.OH(), g.OW(), pk, ps);
    const int OHW = g.OHW(), PHW = plane.OH * plane.OW;
    work.scratch.resize((size_t)omp_get_max_threads() * g.OC * OHW);
    float* scratch = work.scratch.data();
    backward_with(d, weight, g, work, [=](int b, int tid) {
        float* dy = scratch + (long)tid * g.OC * OHW;
        const long in = (long)b * g.OC * PHW;
        for (int o = 0; o < g.OC; ++o)
            max_unpool_plane(dy + (long)o * OHW, dpool + in + o * PHW, argmax + in + o * PHW, plane);
        return static_cast<const float*>(dy);
    });
}

}  // namespace dl::fast
