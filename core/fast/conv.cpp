// The fast convolution over a batch; see core/fast/conv.h.
//
// Per example e, on thread tid (with its own scratch):
//   forward:  xpad_e = pad(x_e), kept for backward;  yt (OH*OW, OCp) = conv(xpad_e)  [channels last]
//             plain: y_e = yt transposed;  fused: y_e = max pool of relu(yt), transposed
//   backward: dyt (OH*OW, OCp) and dypad = dy_e in the two layouts the kernels read
//             (fused: unpooled straight into both);
//             partial dW^T (K, OCp) += taps(xpad_e) . dyt  (Winograd's shapes: its transformed
//             dU, core/fast/winograd_hwy.h);  partial db += column sums of dyt;
//             dx_e (+)= the transposed convolution of dypad
//   then the threads' partials are added into dw and db in thread order.
// Forward hands out examples as threads come free (each example's output is its own);
// backward gives each thread a fixed range of examples, so that the partial sums, and the
// order they are added in, are the same on every run with the same thread count.
#include "core/fast/conv.h"

#include <omp.h>

#include <algorithm>
#include <cstdint>

#include "core/fast/conv_hwy.h"
#include "core/fast/dispatch.h"
#include "core/fast/fast.h"
#include "core/fast/parallel.h"
#include "core/fast/pool_hwy.h"
#include "core/fast/winograd_hwy.h"

namespace dl::fast {

namespace {

constexpr long kAlign = 16;  // floats: 64 bytes, a cache line and an AVX-512 vector
long aligned(long n) { return (n + kAlign - 1) / kAlign * kAlign; }

// The first 64-byte aligned float of v, after growing v to n floats past it.
float* aligned_buffer(std::vector<float>& v, long n) {
    if ((long)v.size() < n + kAlign) v.resize(n + kAlign);
    const auto a = reinterpret_cast<std::uintptr_t>(v.data());
    return reinterpret_cast<float*>((a + 4 * kAlign - 1) / (4 * kAlign) * (4 * kAlign));
}

long pooled(const PoolGeom* pool) { return pool ? (long)pool->OH * pool->OW : 0; }

// The pooling of one example's convolution output (OH, OW) per channel.
PoolGeom plane_pool(const ConvGeom& g, int pk, int ps) { return pool_geom(g.OC, g.OH(), g.OW(), pk, ps); }

// ---- forward ------------------------------------------------------------------------------
// Scratch per thread: yt (OH*OW, OCp) | yp (PH*PW, OCp) for the fused op | the kernels' scratch.
void forward(float* y, const float* x, const float* w, const float* b, const ConvGeom& g, const PoolGeom* pool,
             ConvWork& work) {
    const int T = omp_get_max_threads(), OCp = padded_channels(g.OC), OHW = g.OHW();
    const long PHW = pooled(pool), out_size = (long)g.OC * (pool ? PHW : OHW);
    const long xs = aligned(pad_layout(g).size), yt_size = aligned((long)OHW * OCp);
    const long per_thread = yt_size + aligned(PHW * OCp) + aligned(conv_forward_scratch_size(g));
    float* xpad = aligned_buffer(work.xpad, g.N * xs);
    float* wt = aligned_buffer(work.weights, conv_forward_weights_size(g));
    float* scratch = aligned_buffer(work.scratch, T * per_thread);
    if (pool) work.argmax.resize((size_t)g.N * PHW * OCp);
    conv_prepare_forward_weights(wt, w, b, g);
#pragma omp parallel num_threads(T)
    {
        float* yt = scratch + omp_get_thread_num() * per_thread;
        float* yp = yt + yt_size;
        float* ws = yp + aligned(PHW * OCp);  // the kernels' own scratch
        const auto example = [&](int e) {
            float* xp = xpad + e * xs;
            conv_pad_input(xp, x + (long)e * g.C * g.H * g.W, g);
            conv_forward(yt, xp, wt, ws, g);
            float* ye = y + e * out_size;
            if (!pool) {
                channels_last_to_first(ye, yt, g.OC, OHW, OCp, false);
                return;
            }
            max_pool_channels_last(yp, work.argmax.data() + e * PHW * OCp, yt, g.OC, OCp, *pool, true);
            channels_last_to_first(ye, yp, g.OC, (int)PHW, OCp, false);
        };
        // Every thread takes one example first, so that each builds its kernels' per-thread tap
        // lists in the first step (a thread left out would build them, allocating, in a later
        // one); the others are handed out two at a time as threads come free: a thread slowed
        // down (the cores are shared) does not hold up the other.
        const int first = std::min(g.N, omp_get_num_threads());
#pragma omp for schedule(static, 1) nowait
        for (int e = 0; e < first; ++e) example(e);
#pragma omp for schedule(dynamic, 2) nowait
        for (int e = first; e < g.N; ++e) example(e);
    }
}

// ---- backward -----------------------------------------------------------------------------
// Scratch per thread: dyt | dypad | the input gradient's scratch | Winograd's scratch and, with
// statistics, one example's transformed weight gradient dU | partials. The partials:
// dW^T (K, OCp) then db (OCp); with statistics the same again for the sums of squares, and
// once more for the current example's contribution c_b. For Winograd's shapes without
// statistics the partial weight gradient is the transformed dU (36, C, OCp) instead
// (dU_sums), taken back to dW once, after the threads' sums are added.
struct BwdLayout {
    bool wino, dU_sums;
    long dyt, dypad, ig, wg, dU, dw_floats, wsize, part, per_thread;
    BwdLayout(const ConvGeom& g, bool stats, bool need_dx) {
        const long OCp = padded_channels(g.OC);
        wino = conv_winograd(g);
        dU_sums = wino && !stats;
        dyt = aligned(g.OHW() * OCp);
        dypad = need_dx ? aligned(grad_pad_layout(g).size) : 0;
        ig = need_dx ? aligned(conv_input_grad_scratch_size(g)) : 0;
        wg = wino ? aligned(winograd_scratch_size(g.C, g.OC, g.OH(), g.OW(), g.KH)) : 0;
        dU = wino && stats ? aligned(winograd_weights_size(g.C, g.OC)) : 0;
        dw_floats = dU_sums ? winograd_weights_size(g.C, g.OC) : g.K() * OCp;
        wsize = aligned(dw_floats + OCp);
        part = wsize * (stats ? 3 : 1);
        per_thread = dyt + dypad + ig + wg + dU + part;
    }
    float* partials(float* scratch, int tid) const { return scratch + tid * per_thread + dyt + dypad + ig + wg + dU; }
};

// Adds the threads' partials, in thread order, into the gradients (and statistics).
void reduce_partials(const ConvGrads& d, float* scratch, const BwdLayout& l, int nt, const ConvGeom& g,
                     ConvWork& work) {
    const int K = g.K(), OCp = padded_channels(g.OC);
    if (l.dU_sums) {  // the threads' dU into the first's, then dW^T = G^T dU G once
        float* sum = l.partials(scratch, 0);
        for (int tid = 1; tid < nt; ++tid) {
            const float* part = l.partials(scratch, tid);
            for (long i = 0; i < l.dw_floats + OCp; ++i) sum[i] += part[i];
        }
        float* dwt = aligned_buffer(work.reduced, (long)K * OCp);
        winograd_weight_grad_out(dwt, OCp, sum, g.C, g.OC, g.KH);
        channels_last_to_first(d.dw, dwt, g.OC, K, OCp, true);
        if (d.db)
            for (int o = 0; o < g.OC; ++o) d.db[o] += sum[l.dw_floats + o];
        return;
    }
    for (int tid = 0; tid < nt; ++tid) {
        const float* part = l.partials(scratch, tid);
        channels_last_to_first(d.dw, part, g.OC, K, OCp, true);
        if (d.db)
            for (int o = 0; o < g.OC; ++o) d.db[o] += part[(long)K * OCp + o];
        if (!d.dw_sq) continue;
        const float* sq = part + l.wsize;
        for (int o = 0; o < g.OC; ++o)
            for (int k = 0; k < K; ++k) d.dw_sq[(long)o * K + k] += d.sq_scale * sq[(long)k * OCp + o];
        if (d.db_sq)
            for (int o = 0; o < g.OC; ++o) d.db_sq[o] += d.sq_scale * sq[(long)K * OCp + o];
    }
}

void backward(const ConvGrads& d, const float* dy, const float* w, const ConvGeom& g, const PoolGeom* pool,
              ConvWork& work) {
    const bool stats = d.dw_sq != nullptr, need_dx = d.dx != nullptr, has_bias = d.db != nullptr;
    const BwdLayout l(g, stats, need_dx);
    const int T = omp_get_max_threads(), K = g.K(), OCp = padded_channels(g.OC), OHW = g.OHW();
    const long PHW = pooled(pool), dy_size = (long)g.OC * (pool ? PHW : OHW);
    const PadLayout pad = pad_layout(g);
    const long xs = aligned(pad.size);
    const float* xpad = aligned_buffer(work.xpad, g.N * xs);  // as forward left it
    float* wf = need_dx ? aligned_buffer(work.weights, conv_input_grad_weights_size(g)) : nullptr;
    float* scratch = aligned_buffer(work.scratch, T * l.per_thread);
    if (need_dx) conv_prepare_input_grad_weights(wf, w, g);
    int used = 1;
#pragma omp parallel num_threads(T)
    {
        const int tid = omp_get_thread_num(), nt = omp_get_num_threads();
        if (tid == 0) used = nt;
        float* dyt = scratch + tid * l.per_thread;
        float* dypad = dyt + l.dyt;
        float* ig = dypad + l.dypad;
        float* wg = ig + l.ig;
        float* dU = wg + l.wg;
        float* part = l.partials(scratch, tid);
        std::fill(part, part + l.part, 0.0f);
        int first, last;
        thread_range(g.N, tid, nt, first, last);
        for (int e = first; e < last; ++e) {
            const float* xp = xpad + e * xs;
            const float* dye = dy + e * dy_size;
            if (pool) {
                max_unpool_to_conv_grads(dyt, need_dx ? dypad : nullptr, dye, work.argmax.data() + e * PHW * OCp, g,
                                         *pool);
            } else {
                channels_first_to_last(dyt, dye, g.OC, OHW, OCp);
                if (need_dx) conv_pad_output_grad(dypad, dye, g);
            }
            const WinogradInput win{xp, pad.plane, pad.row_len, 0, 0, g.P, g.P + g.H, g.P, g.P + g.W, g.C};
            if (!stats) {
                if (l.wino)
                    winograd_weight_grad(part, win, dyt, OCp, g.OC, g.OH(), g.OW(), g.KH, wg, false);
                else
                    conv_weight_grad(part, xp, dyt, g);
                if (has_bias) add_column_sums(part + l.dw_floats, dyt, OHW, OCp);
            } else {
                float* c = part + 2 * l.wsize;  // this example's contribution: (K, OCp) then (OCp)
                if (l.wino) {  // c's weight rows written, the rest zeroed
                    winograd_weight_grad(dU, win, dyt, OCp, g.OC, g.OH(), g.OW(), g.KH, wg, true);
                    winograd_weight_grad_out(c, OCp, dU, g.C, g.OC, g.KH);
                    std::fill(c + (long)K * OCp, c + l.wsize, 0.0f);
                } else {
                    std::fill(c, c + l.wsize, 0.0f);
                    conv_weight_grad(c, xp, dyt, g);
                }
                if (has_bias) add_column_sums(c + (long)K * OCp, dyt, OHW, OCp);
                d.sqnorm[e] += d.norm_scale * add_and_square(part, part + l.wsize, c, l.wsize);
            }
            if (need_dx) conv_input_grad(d.dx + (long)e * g.C * g.H * g.W, dypad, wf, ig, g, d.dx_assign);
        }
    }
    work.threads_used = used;
    reduce_partials(d, scratch, l, used, g, work);
}

}  // namespace

const char* conv2d_fallback_reason(const ConvGeom& g) {
    if (!enabled()) return "the fast floor is switched off";
    simd_init();  // reads DL_SIMD here, where a bad value can throw (not inside a parallel region)
    winograd_enabled();  // and DL_WINOGRAD
    return conv_unsupported_reason(g);
}

bool conv2d_applies(const ConvGeom& g) { return conv2d_fallback_reason(g) == nullptr; }

bool conv2d_forward(float* y, const float* x, const float* w, const float* b, const ConvGeom& g, ConvWork& work) {
    if (!conv2d_applies(g)) return false;
    forward(y, x, w, b, g, nullptr, work);
    return true;
}

void conv2d_backward(const ConvGrads& d, const float* dy, const float* w, const ConvGeom& g, ConvWork& work) {
    backward(d, dy, w, g, nullptr, work);
}

bool conv2d_relu_max_pool2d_applies(const ConvGeom& g, int pk, int ps) {
    return conv2d_applies(g) && pk >= 1 && ps >= 1 && g.OH() >= pk && g.OW() >= pk;
}

void conv2d_relu_max_pool2d_forward(float* y, const float* x, const float* w, const float* b, const ConvGeom& g,
                                    int pk, int ps, ConvWork& work) {
    const PoolGeom p = plane_pool(g, pk, ps);
    forward(y, x, w, b, g, &p, work);
}

void conv2d_relu_max_pool2d_backward(const ConvGrads& d, const float* dy, const float* w, const ConvGeom& g, int pk,
                                     int ps, ConvWork& work) {
    const PoolGeom p = plane_pool(g, pk, ps);
    backward(d, dy, w, g, &p, work);
}

}  // namespace dl::fast
