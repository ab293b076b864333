// Max pooling kernels in Highway; see core/fast/pool_hwy.h.
#include "core/fast/simd_targets.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "core/fast/pool_hwy.cpp"
#include <hwy/foreach_target.h>  // re-includes this file once per target
#include <hwy/highway.h>

#include <algorithm>

#include "core/fast/pool_hwy.h"

HWY_BEFORE_NAMESPACE();
namespace dl::fast::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;
using DI = hn::RebindToSigned<DF>;

// Lanes where v takes over from best as the window's maximum: larger, or the first NaN
// (the reference's takes_over).
HWY_INLINE hn::Mask<DF> TakesOver(hn::Vec<DF> v, hn::Vec<DF> best) {
    return hn::Or(hn::Gt(v, best), hn::AndNot(hn::IsNaN(best), hn::IsNaN(v)));
}

// The ReLU of relu_max_pool2d: where best <= 0, 0 with argmax -1 (NaN stays NaN).
HWY_INLINE void ClampRelu(hn::Vec<DF>& best, hn::Vec<DI>& idx) {
    const DF d;
    const DI di;
    const auto clamp = hn::Le(best, hn::Zero(d));
    best = hn::IfThenZeroElse(clamp, best);
    idx = hn::IfThenElse(hn::RebindMask(di, clamp), hn::Set(di, -1), idx);
}

// ---- channels last ---------------------------------------------------------------------
// One vector of channels at a time: the first element of the window, then each later one
// replaces it (value and position) where it takes over (larger, or the first NaN).
void MaxPoolChannelsLast(float* yp, int32_t* argmax, const float* yt, int C, int ld, const PoolGeom& p,
                         bool relu) {
    const DF d;
    const DI di;
    const int L = (int)hn::Lanes(d), PH = p.OH, PW = p.OW, k = p.K;
    for (int ph = 0; ph < PH; ++ph)
        for (int pw = 0; pw < PW; ++pw) {
            const int first = ph * p.S * p.W + pw * p.S;  // the window's top-left position
            const long out = (long)(ph * PW + pw) * ld;
            for (int c = 0; c < C; c += L) {
                auto best = hn::LoadU(d, yt + (long)first * ld + c);
                auto idx = hn::Set(di, first);
                for (int kh = 0; kh < k; ++kh)
                    for (int kw = 0; kw < k; ++kw) {
                        if (kh == 0 && kw == 0) continue;
                        const int pos = first + kh * p.W + kw;
                        const auto v = hn::LoadU(d, yt + (long)pos * ld + c);
                        const auto gt = TakesOver(v, best);
                        best = hn::IfThenElse(gt, v, best);
                        idx = hn::IfThenElse(hn::RebindMask(di, gt), hn::Set(di, pos), idx);
                    }
                if (relu) ClampRelu(best, idx);
                hn::StoreU(best, d, yp + out + c);
                hn::StoreU(idx, di, argmax + out + c);
            }
        }
}

void MaxUnpoolToConvGrads(float* dyt, float* dypad, const float* dpool, const int32_t* argmax, const ConvGeom& g,
                          const PoolGeom& p) {
    const int OCp = padded_channels(g.OC), OW = g.OW(), PHW = p.OH * p.OW;
    std::fill(dyt, dyt + (long)g.OHW() * OCp, 0.0f);
    GradPadLayout l{};
    if (dypad) {
        l = grad_pad_layout(g);
        std::fill(dypad, dypad + l.size, 0.0f);
    }
    for (int o = 0; o < g.OC; ++o) {
        const float* d = dpool + (long)o * PHW;
        float* dp = dypad ? dypad + o * l.plane + (long)l.top * l.cols + l.left : nullptr;
        for (int i = 0; i < PHW; ++i) {
            const int a = argmax[(long)i * OCp + o];
            if (a < 0) continue;
            dyt[(long)a * OCp + o] += d[i];  // += : windows may overlap
            if (dp) dp[(long)(a / OW) * l.cols + a % OW] += d[i];
        }
    }
}

// ---- planes ------------------------------------------------------------------------------
// The plain loop: any window (the reference's order of comparisons).
void MaxPoolPlaneAny(float* y, int32_t* argmax, const float* x, const PoolGeom& p, bool relu) {
    const int PH = p.OH, PW = p.OW;
    for (int ph = 0; ph < PH; ++ph)
        for (int pw = 0; pw < PW; ++pw) {
            int best = ph * p.S * p.W + pw * p.S;
            float best_v = x[best];
            for (int kh = 0; kh < p.K; ++kh) {
                const int row = (ph * p.S + kh) * p.W + pw * p.S;
                for (int kw = 0; kw < p.K; ++kw)
                    if (x[row + kw] > best_v || (x[row + kw] != x[row + kw] && best_v == best_v))
                        best_v = x[row + kw], best = row + kw;
            }
            if (relu && best_v <= 0.0f) best_v = 0.0f, best = -1;
            y[ph * PW + pw] = best_v;
            argmax[ph * PW + pw] = best;
        }
}

#if HWY_TARGET != HWY_SCALAR
// 2x2 windows, stride 2, one output row from input rows r0 and r1 = r0 + W (row0 = index
// of r0 in the plane), L outputs at a time: the even and odd columns of each input row are
// split (ConcatEven/ConcatOdd), then the four candidates are compared in the reference's
// order (same ties, same NaN). Loads and stores past the row's end are masked.
void MaxPool2x2Row(float* y, int32_t* argmax, const float* r0, const float* r1, int row0, int W, int PW,
                   bool relu) {
    const DF d;
    const DI di;
    const int L = (int)hn::Lanes(d);
    const auto even = hn::Mul(hn::Iota(di, 0), hn::Set(di, 2));  // 0 2 4 ...
    for (int pw = 0; pw < PW; pw += L) {
        const int n = std::min(L, PW - pw), cols = std::min(2 * L, W - 2 * pw);
        const auto lo = hn::FirstN(d, std::min(cols, L)), hi = hn::FirstN(d, std::max(cols - L, 0));
        const float* a = r0 + 2 * pw;
        const float* b = r1 + 2 * pw;
        const auto a0 = hn::MaskedLoad(lo, d, a), a1 = hn::MaskedLoad(hi, d, a + L);
        const auto b0 = hn::MaskedLoad(lo, d, b), b1 = hn::MaskedLoad(hi, d, b + L);
        const auto base = hn::Add(hn::Set(di, row0 + 2 * pw), even);  // index of each window's top-left
        auto best = hn::ConcatEven(d, a1, a0);
        auto idx = base;
        const hn::Vec<DF> cand[3] = {hn::ConcatOdd(d, a1, a0), hn::ConcatEven(d, b1, b0), hn::ConcatOdd(d, b1, b0)};
        const int offset[3] = {1, W, W + 1};
        for (int c = 0; c < 3; ++c) {
            const auto gt = TakesOver(cand[c], best);
            best = hn::IfThenElse(gt, cand[c], best);
            idx = hn::IfThenElse(hn::RebindMask(di, gt), hn::Add(base, hn::Set(di, offset[c])), idx);
        }
        if (relu) ClampRelu(best, idx);
        if (n == L) {
            hn::StoreU(best, d, y + pw);
            hn::StoreU(idx, di, argmax + pw);
        } else {
            hn::BlendedStore(best, hn::FirstN(d, n), d, y + pw);
            hn::BlendedStore(idx, hn::FirstN(di, n), di, argmax + pw);
        }
    }
}

void MaxPoolPlane(float* y, int32_t* argmax, const float* x, const PoolGeom& p, bool relu) {
    if (p.K != 2 || p.S != 2) return MaxPoolPlaneAny(y, argmax, x, p, relu);
    const int PW = p.OW;
    for (int ph = 0; ph < p.OH; ++ph)
        MaxPool2x2Row(y + ph * PW, argmax + ph * PW, x + 2 * ph * p.W, x + (2 * ph + 1) * p.W, 2 * ph * p.W, p.W,
                      PW, relu);
}
#else
void MaxPoolPlane(float* y, int32_t* argmax, const float* x, const PoolGeom& p, bool relu) {
    MaxPoolPlaneAny(y, argmax, x, p, relu);
}
#endif

void MaxUnpoolPlane(float* dx, const float* dy, const int32_t* argmax, const PoolGeom& p, bool assign) {
    if (assign) std::fill(dx, dx + (long)p.H * p.W, 0.0f);
    const int n = p.OH * p.OW;
    for (int i = 0; i < n; ++i)
        if (argmax[i] >= 0) dx[argmax[i]] += dy[i];
}

}  // namespace dl::fast::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "core/fast/dispatch.h"

namespace dl::fast {

HWY_EXPORT(MaxPoolChannelsLast);
HWY_EXPORT(MaxUnpoolToConvGrads);
HWY_EXPORT(MaxPoolPlane);
HWY_EXPORT(MaxUnpoolPlane);

void max_pool_channels_last(float* yp, int32_t* argmax, const float* yt, int C, int ld, const PoolGeom& p,
                            bool relu) {
    simd_init();
    HWY_DYNAMIC_DISPATCH(MaxPoolChannelsLast)(yp, argmax, yt, C, ld, p, relu);
}

void max_unpool_to_conv_grads(float* dyt, float* dypad, const float* dpool, const int32_t* argmax,
                              const ConvGeom& g, const PoolGeom& p) {
    simd_init();
    HWY_DYNAMIC_DISPATCH(MaxUnpoolToConvGrads)(dyt, dypad, dpool, argmax, g, p);
}

void max_pool_plane(float* y, int32_t* argmax, const float* x, const PoolGeom& p, bool relu) {
    simd_init();
    HWY_DYNAMIC_DISPATCH(MaxPoolPlane)(y, argmax, x, p, relu);
}

void max_unpool_plane(float* dx, const float* dy, const int32_t* argmax, const PoolGeom& p, bool assign) {
    simd_init();
    HWY_DYNAMIC_DISPATCH(MaxUnpoolPlane)(dx, dy, argmax, p, assign);
}

}  // namespace dl::fast
#endif  // HWY_ONCE
