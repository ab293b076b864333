// The fast floor's max pooling kernels (core/fast/pool_hwy.h) against plain loops, at
// every instruction set this machine runs: channels-last pooling and its unpooling into
// the convolution's gradient layouts, and plane pooling (the 2x2 vector kernel and any
// other window), with ties, NaN and the ReLU clamp.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/fast/dispatch.h"
#include "tests/simd_targets.h"
#include "core/fast/pool_hwy.h"

using namespace dl::fast;
using dl::testing::at_every_target;
using dl::ConvGeom;
using dl::PoolGeom;

namespace {

// Few distinct values (windows often hold ties), some negative, a few NaN.
std::vector<float> tied_values(size_t n, unsigned seed, bool nan) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> u(-3, 3);
    std::vector<float> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = nan && i % 23 == 5 ? std::numeric_limits<float>::quiet_NaN() : (float)u(rng);
    return v;
}

// The reference: scan the window row by row, a later element takes over if strictly
// greater or the first NaN; the ReLU clamps <= 0 to 0 (argmax -1) and keeps NaN.
void naive_pool(float& best_v, int& best, const std::vector<float>& x, int first, int W, int k, int step,
                bool relu) {
    best = first;
    best_v = x[(size_t)first * step];
    for (int kh = 0; kh < k; ++kh)
        for (int kw = 0; kw < k; ++kw) {
            const int pos = first + kh * W + kw;
            const float v = x[(size_t)pos * step];
            if (v > best_v || (std::isnan(v) && !std::isnan(best_v))) best_v = v, best = pos;
        }
    if (relu && best_v <= 0.0f) best_v = 0.0f, best = -1;
}

bool same(float a, float b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

void check_plane(int H, int W, int k, int s, bool relu) {
    INFO("plane " << H << "x" << W << " window " << k << " stride " << s << (relu ? " relu" : "") << ", target "
                  << simd_target());
    const PoolGeom p = dl::pool_geom(1, H, W, k, s);
    const auto x = tied_values((size_t)H * W, H * 31 + W + k, true);
    std::vector<float> y((size_t)p.OH * p.OW, -9.0f);
    std::vector<int32_t> a(y.size(), -9);
    max_pool_plane(y.data(), a.data(), x.data(), p, relu);
    for (int ph = 0; ph < p.OH; ++ph)
        for (int pw = 0; pw < p.OW; ++pw) {
            float v;
            int i;
            naive_pool(v, i, x, ph * s * W + pw * s, W, k, 1, relu);
            const size_t o = (size_t)ph * p.OW + pw;
            REQUIRE(same(y[o], v));
            REQUIRE(a[o] == i);
        }
    // Unpool: assign, then add.
    const auto dy = tied_values(y.size(), 7, false);
    std::vector<float> dx((size_t)H * W, -9.0f), ref((size_t)H * W, 0.0f);
    for (size_t i = 0; i < y.size(); ++i)
        if (a[i] >= 0) ref[a[i]] += dy[i];
    max_unpool_plane(dx.data(), dy.data(), a.data(), p, true);
    CHECK(dx == ref);
    max_unpool_plane(dx.data(), dy.data(), a.data(), p, false);
    for (float& r : ref) r *= 2;
    CHECK(dx == ref);
}

// Channels-last pooling of a conv output, then unpooling into dyt and the padded dy.
void check_channels_last(int OC, int H, int W, int k, int s, bool relu) {
    INFO("channels last " << OC << " x " << H << "x" << W << " window " << k << " stride " << s
                          << (relu ? " relu" : "") << ", target " << simd_target());
    const ConvGeom g{1, 3, H, W, OC, 3, 3, 1, 1};  // a convolution whose output is (OC, H, W)
    REQUIRE(g.OH() == H);
    const int ld = padded_channels(OC);
    const PoolGeom p = dl::pool_geom(1, H, W, k, s);
    const int PHW = p.OH * p.OW;
    const auto yt = tied_values((size_t)H * W * ld, OC + H + k, true);
    std::vector<float> yp((size_t)PHW * ld, -9.0f);
    std::vector<int32_t> a(yp.size(), -9);
    max_pool_channels_last(yp.data(), a.data(), yt.data(), OC, ld, p, relu);
    for (int o = 0; o < OC; ++o)
        for (int ph = 0; ph < p.OH; ++ph)
            for (int pw = 0; pw < p.OW; ++pw) {
                float v;
                int i;
                std::vector<float> plane((size_t)H * W);
                for (int q = 0; q < H * W; ++q) plane[q] = yt[(size_t)q * ld + o];
                naive_pool(v, i, plane, ph * s * W + pw * s, W, k, 1, relu);
                const size_t at = (size_t)(ph * p.OW + pw) * ld + o;
                REQUIRE(same(yp[at], v));
                REQUIRE(a[at] == i);
            }
    const auto dpool = tied_values((size_t)OC * PHW, 5, false);
    const GradPadLayout l = grad_pad_layout(g);
    std::vector<float> dyt((size_t)H * W * ld, -9.0f), dypad(l.size, -9.0f);
    std::vector<float> ref_dyt(dyt.size(), 0.0f), ref_pad(dypad.size(), 0.0f);
    for (int o = 0; o < OC; ++o)
        for (int i = 0; i < PHW; ++i) {
            const int q = a[(size_t)i * ld + o];
            if (q < 0) continue;
            ref_dyt[(size_t)q * ld + o] += dpool[(size_t)o * PHW + i];
            ref_pad[o * l.plane + (size_t)(q / W + l.top) * l.cols + q % W + l.left] += dpool[(size_t)o * PHW + i];
        }
    max_unpool_to_conv_grads(dyt.data(), dypad.data(), dpool.data(), a.data(), g, p);
    CHECK(dyt == ref_dyt);
    CHECK(dypad == ref_pad);
    max_unpool_to_conv_grads(dyt.data(), nullptr, dpool.data(), a.data(), g, p);
    CHECK(dyt == ref_dyt);
}

}  // namespace

TEST_CASE("fast pool: planes, 2x2 stride 2 and other windows, at every target") {
    at_every_target([] {
        for (bool relu : {false, true}) {
            for (int W : {2, 3, 14, 15, 28, 31, 32, 33, 35, 64})
                for (int H : {2, 5, 14}) check_plane(H, W, 2, 2, relu);
            check_plane(9, 11, 3, 2, relu);
            check_plane(8, 8, 3, 1, relu);  // overlapping windows
            check_plane(7, 7, 2, 1, relu);
            check_plane(10, 13, 3, 3, relu);
        }
    });
}

TEST_CASE("fast pool: channels last and its unpooling, at every target") {
    at_every_target([] {
        for (bool relu : {false, true}) {
            check_channels_last(16, 28, 28, 2, 2, relu);
            check_channels_last(32, 14, 14, 2, 2, relu);
            check_channels_last(5, 7, 9, 3, 2, relu);
            check_channels_last(3, 7, 9, 2, 2, relu);   // the last row and column in no window
            check_channels_last(7, 11, 10, 2, 3, relu);  // gaps between the windows
            check_channels_last(33, 6, 6, 2, 1, relu);  // overlapping windows add up
            check_channels_last(1, 5, 5, 5, 1, relu);
        }
    });
}
