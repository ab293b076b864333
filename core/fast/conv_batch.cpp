// The fast convolution over a batch; see core/fast/conv_batch.h.
//
// Per example b, on thread tid (its scratch: xpad, yt or dyt, ...):
//   forward:  xpad = pad(x_b);  yt (OH*OW, OCp) = conv(xpad)    [channels last]
//             plain: y_b = yt transposed;  fused: y_b = max pool of relu(yt), transposed
//   backward: xpad = pad(x_b) again (cheaper than keeping N padded inputs);
//             dyt (OH*OW, OCp) and dypad = dy_b in the two layouts the kernels read
//             (fused: unpooled straight into both);
//             partial dW^T (K, OCp) += taps(xpad) . dyt;  partial db += column sums of dyt;
//             dx_b (+)= the transposed convolution of dypad
//   then the threads' partials are added into dw and db in thread order.
#include "core/fast/conv_batch.h"

#include <omp.h>

#include <algorithm>
#include <cstdint>

namespace dl::fast {

namespace {

constexpr long kAlign = 16;  // floats: 64 bytes, a cache line and an AVX-512 vector
long aligned(long n) { return (n + kAlign - 1) / kAlign * kAlign; }
float* align_ptr(float* p) {
    const auto a = reinterpret_cast<std::uintptr_t>(p);
    return reinterpret_cast<float*>((a + 4 * kAlign - 1) / (4 * kAlign) * (4 * kAlign));
}

// The examples [first, last) thread tid of nt handles in backward: a fixed split.
void thread_range(int N, int tid, int nt, int& first, int& last) {
    first = (int)((long)N * tid / nt);
    last = (int)((long)N * (tid + 1) / nt);
}

long pooled_size(const PoolShape* pool) { return pool ? (long)pool->PH() * pool->PW() : 0; }

// ---- forward scratch: wt, then per thread xpad | yt | yp (fused) ----------------------------
struct FwdScratch {
    long wt, xpad, yt, yp, per_thread;
    FwdScratch(const ConvShape& g, const PoolShape* pool) {
        const long OCp = padded_channels(g.OC);
        wt = aligned(conv_forward_weights_size(g));
        xpad = aligned(pad_layout(g).size);
        yt = aligned(g.OHW() * OCp);
        yp = aligned(pooled_size(pool) * OCp);
        per_thread = xpad + yt + yp;
    }
};

}  // namespace

long conv_forward_scratch_size(const ConvShape& g, const PoolShape* pool, int threads) {
    const FwdScratch s(g, pool);
    return s.wt + threads * s.per_thread + kAlign;
}

void conv_forward_batch(float* y, int32_t* argmax, const float* x, const float* w, const float* b, float* scratch,
                        int N, const ConvShape& g, const PoolShape* pool) {
    const FwdScratch s(g, pool);
    const int T = omp_get_max_threads(), OCp = padded_channels(g.OC), OHW = g.OHW();
    const long PHW = pooled_size(pool), out_size = (long)g.OC * (pool ? PHW : OHW);
    float* base = align_ptr(scratch);
    float* wt = base;
    conv_prepare_forward_weights(wt, w, b, g);
#pragma omp parallel num_threads(T)
    {
        float* xpad = base + s.wt + omp_get_thread_num() * s.per_thread;
        float* yt = xpad + s.xpad;
        float* yp = yt + s.yt;
        // Examples are handed out two at a time as threads come free: a thread slowed down
        // (the cores are shared) does not hold up the other.
#pragma omp for schedule(dynamic, 2) nowait
        for (int e = 0; e < N; ++e) {
            conv_pad_input(xpad, x + (long)e * g.C * g.H * g.W, g);
            conv_forward(yt, xpad, wt, g);
            float* ye = y + e * out_size;
            if (!pool) {
                channels_last_to_first(ye, yt, g.OC, OHW, OCp, false);
                continue;
            }
            max_pool_channels_last(yp, argmax + e * PHW * OCp, yt, g.OC, OCp, {g.OH(), g.OW(), pool->kernel, pool->stride},
                                   true);
            channels_last_to_first(ye, yp, g.OC, (int)PHW, OCp, false);
        }
    }
}

namespace {

// ---- backward scratch: wf, then per thread xpad | dyt | dypad | ig scratch | partials ------
// The partials of a thread: dW^T (K, OCp) then db (OCp); with statistics, the same again
// for the sums of squares, and once more for the current example's g_b.
struct BwdScratch {
    long wf, xpad, dyt, dypad, ig, wsize, part, per_thread;
    BwdScratch(const ConvShape& g, bool stats, bool need_dx) {
        const long OCp = padded_channels(g.OC);
        wf = need_dx ? aligned(conv_input_grad_weights_size(g)) : 0;
        xpad = aligned(pad_layout(g).size);
        dyt = aligned(g.OHW() * OCp);
        dypad = need_dx ? aligned(grad_pad_layout(g).size) : 0;
        ig = need_dx ? aligned(conv_input_grad_scratch_size(g)) : 0;
        wsize = aligned((g.K() + 1) * OCp);
        part = wsize * (stats ? 3 : 1);
        per_thread = xpad + dyt + dypad + ig + part;
    }
};

// Adds the threads' partials, in thread order, into the gradients (and statistics).
void reduce_partials(const ConvGrads& out, float* base, const BwdScratch& s, int nt, const ConvShape& g) {
    const int K = g.K(), OCp = padded_channels(g.OC);
    for (int tid = 0; tid < nt; ++tid) {
        const float* part = base + s.wf + tid * s.per_thread + s.xpad + s.dyt + s.dypad + s.ig;
        channels_last_to_first(out.dw, part, g.OC, K, OCp, true);
        if (out.db)
            for (int o = 0; o < g.OC; ++o) out.db[o] += part[(long)K * OCp + o];
        if (!out.dw_sq) continue;
        const float* sq = part + s.wsize;
        for (int o = 0; o < g.OC; ++o)
            for (int k = 0; k < K; ++k) out.dw_sq[(long)o * K + k] += out.sq_scale * sq[(long)k * OCp + o];
        if (out.db_sq)
            for (int o = 0; o < g.OC; ++o) out.db_sq[o] += out.sq_scale * sq[(long)K * OCp + o];
    }
}

}  // namespace

long conv_backward_scratch_size(const ConvShape& g, int threads, bool stats, bool need_dx) {
    const BwdScratch s(g, stats, need_dx);
    return s.wf + threads * s.per_thread + kAlign;
}

void conv_backward_batch(const ConvGrads& out, const float* dy, const int32_t* argmax, const float* x,
                         const float* w, float* scratch, int N, const ConvShape& g, const PoolShape* pool) {
    const bool stats = out.dw_sq != nullptr, need_dx = out.dx != nullptr, has_bias = out.db != nullptr;
    const BwdScratch s(g, stats, need_dx);
    const int T = omp_get_max_threads(), K = g.K(), OCp = padded_channels(g.OC), OHW = g.OHW();
    const long PHW = pooled_size(pool), dy_size = (long)g.OC * (pool ? PHW : OHW);
    const PoolShape p = pool ? PoolShape{g.OH(), g.OW(), pool->kernel, pool->stride} : PoolShape{};
    float* base = align_ptr(scratch);
    float* wf = base;
    if (need_dx) conv_prepare_input_grad_weights(wf, w, g);
    int used = 1;
#pragma omp parallel num_threads(T)
    {
        const int tid = omp_get_thread_num(), nt = omp_get_num_threads();
        if (tid == 0) used = nt;
        float* xpad = base + s.wf + tid * s.per_thread;
        float* dyt = xpad + s.xpad;
        float* dypad = dyt + s.dyt;
        float* ig = dypad + s.dypad;
        float* part = ig + s.ig;
        std::fill(part, part + s.part, 0.0f);
        int first, last;
        thread_range(N, tid, nt, first, last);
        for (int e = first; e < last; ++e) {
            conv_pad_input(xpad, x + (long)e * g.C * g.H * g.W, g);
            const float* dye = dy + e * dy_size;
            if (pool) {
                max_unpool_to_conv_grads(dyt, need_dx ? dypad : nullptr, dye, argmax + e * PHW * OCp, g, p);
            } else {
                channels_first_to_last(dyt, dye, g.OC, OHW, OCp);
                if (need_dx) conv_pad_output_grad(dypad, dye, g);
            }
            if (!stats) {
                conv_weight_grad(part, xpad, dyt, g);
                if (has_bias) add_column_sums(part + (long)K * OCp, dyt, OHW, OCp);
            } else {
                float* gb = part + 2 * s.wsize;  // this example's g_b: (K, OCp) then (OCp)
                std::fill(gb, gb + s.wsize, 0.0f);
                conv_weight_grad(gb, xpad, dyt, g);
                if (has_bias) add_column_sums(gb + (long)K * OCp, dyt, OHW, OCp);
                out.sqnorm[e] += out.norm_scale * add_and_square(part, part + s.wsize, gb, s.wsize);
            }
            if (need_dx) conv_input_grad(out.dx + (long)e * g.C * g.H * g.W, dypad, wf, ig, g, out.dx_assign);
        }
    }
    reduce_partials(out, base, s, used, g);
}

}  // namespace dl::fast
