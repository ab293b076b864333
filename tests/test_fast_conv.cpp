// The fast floor's convolution kernels (core/fast/conv_hwy.h) against plain loops, at
// every instruction set this machine runs (core/fast/dispatch.h), on a sweep of shapes:
// channels 1..256, kernels 1/3/5/7 (and non-square), stride 1/2/3, padding 0..4,
// odd sizes, one example.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "core/fast/conv_hwy.h"
#include "core/fast/dispatch.h"
#include "core/fast/winograd_hwy.h"
#include "tests/simd_targets.h"

using namespace dl::fast;
using dl::testing::at_every_target;
using dl::ConvGeom;
using dl::PoolGeom;

namespace {

std::vector<float> random_vector(size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::vector<float> v(n);
    for (float& x : v) x = u(rng);
    return v;
}

// Naive references, accumulated in double.
// y (OC,OH,OW) = bias + conv(x (C,H,W), w (OC,C,KH,KW))
std::vector<float> naive_forward(const std::vector<float>& x, const std::vector<float>& w,
                                 const std::vector<float>& b, const ConvGeom& g) {
    const int OH = g.OH(), OW = g.OW();
    std::vector<float> y((size_t)g.OC * OH * OW);
    for (int o = 0; o < g.OC; ++o)
        for (int oh = 0; oh < OH; ++oh)
            for (int ow = 0; ow < OW; ++ow) {
                double acc = b[o];
                for (int c = 0; c < g.C; ++c)
                    for (int kh = 0; kh < g.KH; ++kh)
                        for (int kw = 0; kw < g.KW; ++kw) {
                            const int h = oh * g.S + kh - g.P, ww = ow * g.S + kw - g.P;
                            if (h < 0 || h >= g.H || ww < 0 || ww >= g.W) continue;
                            acc += (double)x[((size_t)c * g.H + h) * g.W + ww] *
                                   w[(((size_t)o * g.C + c) * g.KH + kh) * g.KW + kw];
                        }
                y[((size_t)o * OH + oh) * OW + ow] = (float)acc;
            }
    return y;
}

// dx (C,H,W) and dw (OC,C,KH,KW) of sum(y * dy)
void naive_backward(std::vector<double>& dx, std::vector<double>& dw, const std::vector<float>& x,
                    const std::vector<float>& w, const std::vector<float>& dy, const ConvGeom& g) {
    const int OH = g.OH(), OW = g.OW();
    dx.assign((size_t)g.C * g.H * g.W, 0.0);
    dw.assign((size_t)g.OC * g.K(), 0.0);
    for (int o = 0; o < g.OC; ++o)
        for (int oh = 0; oh < OH; ++oh)
            for (int ow = 0; ow < OW; ++ow) {
                const double d = dy[((size_t)o * OH + oh) * OW + ow];
                for (int c = 0; c < g.C; ++c)
                    for (int kh = 0; kh < g.KH; ++kh)
                        for (int kw = 0; kw < g.KW; ++kw) {
                            const int h = oh * g.S + kh - g.P, ww = ow * g.S + kw - g.P;
                            if (h < 0 || h >= g.H || ww < 0 || ww >= g.W) continue;
                            const size_t xi = ((size_t)c * g.H + h) * g.W + ww;
                            const size_t wi = (((size_t)o * g.C + c) * g.KH + kh) * g.KW + kw;
                            dx[xi] += d * w[wi];
                            dw[wi] += d * x[xi];
                        }
            }
}

// max |a - ref| / (1 + |ref|)
template <class T>
double max_error(const float* a, const std::vector<T>& ref) {
    double e = 0.0;
    for (size_t i = 0; i < ref.size(); ++i) e = std::max(e, std::fabs(a[i] - (double)ref[i]) / (1.0 + std::fabs((double)ref[i])));
    return e;
}

// max |a - ref| / (1 + max |ref|): Winograd's transforms round relative to the largest values
// of a tile, so its error is bounded by the scale of the whole output, not element by element.
template <class T>
double max_error_of_scale(const float* a, const std::vector<T>& ref) {
    double e = 0.0, scale = 0.0;
    for (size_t i = 0; i < ref.size(); ++i) {
        e = std::max(e, std::fabs(a[i] - (double)ref[i]));
        scale = std::max(scale, std::fabs((double)ref[i]));
    }
    return e / (1.0 + scale);
}

// The forward's and the input gradient's error: element by element for the direct kernels,
// against the output's scale for Winograd's (measured: up to 7.5e-6 of it on these shapes).
template <class T>
bool close(const float* a, const std::vector<T>& ref, bool winograd) {
    return winograd ? max_error_of_scale(a, ref) < 2e-5 : max_error(a, ref) < 1e-4;
}

// Forward, weight gradient and input gradient (assigned, then added) of one shape.
void check_shape(const ConvGeom& g) {
    const bool wino = conv_winograd(g);
    INFO("C " << g.C << " " << g.H << "x" << g.W << " -> OC " << g.OC << ", kernel " << g.KH << "x" << g.KW
              << ", stride " << g.S << ", padding " << g.P << ", target " << simd_target()
              << std::string(wino ? ", Winograd" : ""));
    const unsigned seed = (unsigned)(g.C * 131 + g.OC * 7 + g.KH * 3 + g.S + g.P * 17 + g.H);
    const auto x = random_vector((size_t)g.C * g.H * g.W, seed);
    const auto w = random_vector((size_t)g.OC * g.K(), seed + 1);
    const auto b = random_vector(g.OC, seed + 2);
    const auto dy = random_vector((size_t)g.OC * g.OHW(), seed + 3);
    const int OCp = padded_channels(g.OC);

    std::vector<float> xpad(pad_layout(g).size, -7.0f), wt(conv_forward_weights_size(g), -7.0f);
    std::vector<float> yt((size_t)g.OHW() * OCp, -7.0f), y((size_t)g.OC * g.OHW(), -7.0f);
    conv_pad_input(xpad.data(), x.data(), g);
    conv_prepare_forward_weights(wt.data(), w.data(), b.data(), g);
    std::vector<float> ws(conv_forward_scratch_size(g), -7.0f);
    conv_forward(yt.data(), xpad.data(), wt.data(), ws.data(), g);
    channels_last_to_first(y.data(), yt.data(), g.OC, g.OHW(), OCp, false);
    CHECK(close(y.data(), naive_forward(x, w, b, g), wino));
    for (int p = 0; p < g.OHW(); ++p)  // padded channels come out 0
        for (int o = g.OC; o < OCp; ++o) REQUIRE(yt[(size_t)p * OCp + o] == 0.0f);

    std::vector<double> dx_ref, dw_ref;
    naive_backward(dx_ref, dw_ref, x, w, dy, g);

    std::vector<float> dyt((size_t)g.OHW() * OCp, -7.0f), dwt((size_t)g.K() * OCp, 0.0f);
    channels_first_to_last(dyt.data(), dy.data(), g.OC, g.OHW(), OCp);
    conv_weight_grad(dwt.data(), xpad.data(), dyt.data(), g);
    std::vector<float> dw((size_t)g.OC * g.K());
    channels_last_to_first(dw.data(), dwt.data(), g.OC, g.K(), OCp, false);
    CHECK(max_error(dw.data(), dw_ref) < 1e-4);
    if (wino) {  // Winograd's weight gradient: dU summed over the tiles, then G^T dU G
        const PadLayout l = pad_layout(g);
        const WinogradInput in{xpad.data(), l.plane, l.row_len, 0, 0, g.P, g.P + g.H, g.P, g.P + g.W, g.C};
        std::vector<float> du(winograd_weights_size(g.C, g.OC), -7.0f);
        std::vector<float> ws(winograd_scratch_size(g.C, g.OC, g.OH(), g.OW(), g.KH), -7.0f);
        winograd_weight_grad(du.data(), in, dyt.data(), OCp, g.OC, g.OH(), g.OW(), g.KH, ws.data(), true);
        winograd_weight_grad(du.data(), in, dyt.data(), OCp, g.OC, g.OH(), g.OW(), g.KH, ws.data(), false);  // now 2 dU
        for (float& v : du) v *= 0.5f;
        std::fill(dwt.begin(), dwt.end(), -7.0f);
        winograd_weight_grad_out(dwt.data(), OCp, du.data(), g.C, g.OC, g.KH);
        channels_last_to_first(dw.data(), dwt.data(), g.OC, g.K(), OCp, false);
        // Summed over every tile of the plane in the transformed domain, its error grows with
        // the plane: measured up to 1e-5 of the scale on 14x14, 2.6e-5 on 45x38.
        CHECK(max_error_of_scale(dw.data(), dw_ref) < 5e-5);
    }

    std::vector<float> dypad(grad_pad_layout(g).size, -7.0f), wf(conv_input_grad_weights_size(g), -7.0f);
    std::vector<float> scratch(conv_input_grad_scratch_size(g), -7.0f), dx(x.size(), -7.0f);
    conv_pad_output_grad(dypad.data(), dy.data(), g);
    conv_prepare_input_grad_weights(wf.data(), w.data(), g);
    conv_input_grad(dx.data(), dypad.data(), wf.data(), scratch.data(), g, true);
    CHECK(close(dx.data(), dx_ref, wino));
    conv_input_grad(dx.data(), dypad.data(), wf.data(), scratch.data(), g, false);  // now 2 dx
    for (double& v : dx_ref) v *= 2;
    CHECK(close(dx.data(), dx_ref, wino));
}

}  // namespace

TEST_CASE("fast conv: the models' shapes at every target") {
    at_every_target([] {
        check_shape({1, 1, 28, 28, 16, 5, 5, 1, 2});   // cnn, first layer
        check_shape({1, 16, 14, 14, 32, 5, 5, 1, 2});  // cnn, second layer (Winograd)
        check_shape({1, 1, 28, 28, 32, 3, 3, 1, 1});   // cnn-bn
        check_shape({1, 32, 14, 14, 64, 3, 3, 1, 1});
    });
}

// Which layers take Winograd's method, and the shapes it has to get right: sizes that are no
// multiple of the tile (a last tile partly outside), planes of several chunks of tiles, channel
// counts that fill no vector, and wide channels; each also by the direct kernels, switched.
TEST_CASE("fast conv: Winograd's F(2x2, 5x5) and F(4x4, 3x3) and the direct kernels on the same shapes") {
    CHECK(conv_winograd({1, 16, 14, 14, 32, 5, 5, 1, 2}));
    CHECK(conv_winograd({1, 32, 14, 14, 64, 5, 5, 1, 2}));  // fmnist_2c2d's second layer
    CHECK(conv_winograd({1, 32, 14, 14, 64, 3, 3, 1, 1}));  // cnn-bn's second layer
    CHECK_FALSE(conv_winograd({1, 1, 28, 28, 32, 5, 5, 1, 2}));   // one input channel
    CHECK_FALSE(conv_winograd({1, 1, 28, 28, 32, 3, 3, 1, 1}));
    CHECK_FALSE(conv_winograd({1, 16, 14, 14, 4, 5, 5, 1, 2}));   // four output channels
    CHECK_FALSE(conv_winograd({1, 16, 14, 14, 32, 5, 5, 2, 2}));  // stride 2
    CHECK_FALSE(conv_winograd({1, 16, 14, 14, 32, 3, 3, 2, 1}));
    CHECK_FALSE(conv_winograd({1, 16, 14, 14, 32, 5, 5, 1, 1}));  // other paddings
    CHECK_FALSE(conv_winograd({1, 16, 14, 14, 32, 3, 3, 1, 0}));
    CHECK_FALSE(conv_winograd({1, 16, 14, 14, 32, 7, 7, 1, 3}));  // other kernels
    CHECK_FALSE(conv_winograd({1, 16, 14, 14, 32, 1, 1, 1, 0}));
    CHECK_FALSE(conv_winograd({1, 64, 7, 7, 128, 3, 3, 1, 1}));  // planes under 8x8
    CHECK_FALSE(conv_winograd({1, 32, 14, 7, 64, 5, 5, 1, 2}));
    const ConvGeom shapes[] = {{1, 8, 9, 11, 8, 5, 5, 1, 2},    {1, 17, 13, 10, 33, 5, 5, 1, 2},
                               {1, 33, 8, 8, 9, 5, 5, 1, 2},    {1, 8, 8, 23, 16, 5, 5, 1, 2},
                               {1, 12, 45, 38, 20, 5, 5, 1, 2}, {1, 64, 14, 14, 128, 5, 5, 1, 2},
                               {1, 24, 10, 9, 40, 5, 5, 1, 2},  {1, 8, 9, 11, 8, 3, 3, 1, 1},
                               {1, 17, 13, 10, 33, 3, 3, 1, 1}, {1, 33, 8, 8, 9, 3, 3, 1, 1},
                               {1, 8, 8, 23, 16, 3, 3, 1, 1},   {1, 12, 45, 38, 20, 3, 3, 1, 1},
                               {1, 64, 12, 12, 128, 3, 3, 1, 1}, {1, 24, 10, 9, 40, 3, 3, 1, 1},
                               {1, 128, 14, 14, 128, 3, 3, 1, 1}};
    for (bool on : {true, false}) {
        set_winograd_enabled(on);
        at_every_target([&] {
            for (const ConvGeom& g : shapes) {
                CHECK(conv_winograd(g) == on);
                check_shape(g);
            }
            check_shape({1, 16, 14, 14, 32, 5, 5, 1, 2});
            check_shape({1, 32, 14, 14, 64, 5, 5, 1, 2});
            check_shape({1, 32, 14, 14, 64, 3, 3, 1, 1});
        });
    }
    set_winograd_enabled(true);
}

TEST_CASE("fast conv: user-sized shapes at every target") {
    at_every_target([] {
        check_shape({1, 32, 14, 14, 64, 5, 5, 1, 2});
        check_shape({1, 64, 7, 7, 128, 3, 3, 1, 1});
        check_shape({1, 32, 14, 14, 64, 3, 3, 2, 1});   // stride 2
        check_shape({1, 3, 32, 32, 16, 7, 7, 2, 3});    // a 7x7 stride-2 stem
    });
}

TEST_CASE("fast conv: a sweep of channels, kernels, strides, paddings and odd sizes at every target") {
    const int channels[] = {1, 3, 8, 16, 17, 33};
    const int kernels[] = {1, 3, 5, 7};
    at_every_target([&] {
        int i = 0;
        for (int C : channels)
            for (int OC : channels)
                for (int K : kernels)
                    for (int S = 1; S <= 2; ++S) {
                        ++i;
                        const int P = (i % 3 == 0) ? 0 : (i % 3 == 1 ? K / 2 : K - 1);
                        const int H = 5 + i % 7, W = 4 + (i * 5) % 9;
                        if (H + 2 * P < K || W + 2 * P < K) continue;
                        check_shape({1, C, H, W, OC, K, K, S, P});
                    }
    });
}

TEST_CASE("fast conv: wide channels, non-square kernels, stride 3, padding beyond the kernel") {
    at_every_target([] {
        check_shape({1, 256, 5, 5, 256, 3, 3, 1, 1});
        check_shape({1, 100, 6, 7, 200, 1, 1, 1, 0});
        check_shape({1, 5, 9, 11, 7, 2, 6, 1, 1});
        check_shape({1, 4, 11, 13, 9, 5, 3, 3, 2});
        check_shape({1, 3, 6, 6, 5, 3, 3, 1, 4});  // padding wider than the kernel
        check_shape({1, 2, 1, 1, 3, 1, 1, 1, 0});  // 1x1 image
        check_shape({1, 3, 9, 9, 4, 4, 4, 2, 1});  // even kernel, stride 2
    });
}

// ---- the batch level (core/fast/conv.h) -----------------------------------------------------
#include "core/fast/conv.h"

#include <omp.h>

namespace {

// relu then max pool of one plane (the reference's scan order), for the fused op.
std::vector<float> naive_relu_pool(const std::vector<float>& y, int planes, int H, int W, int k, int s,
                                   std::vector<int>& argmax) {
    const int PH = (H - k) / s + 1, PW = (W - k) / s + 1;
    std::vector<float> out((size_t)planes * PH * PW);
    argmax.assign(out.size(), -1);
    for (int p = 0; p < planes; ++p)
        for (int ph = 0; ph < PH; ++ph)
            for (int pw = 0; pw < PW; ++pw) {
                int best = ph * s * W + pw * s;
                float v = y[(size_t)p * H * W + best];
                for (int kh = 0; kh < k; ++kh)
                    for (int kw = 0; kw < k; ++kw) {
                        const int i = (ph * s + kh) * W + pw * s + kw;
                        const float c = y[(size_t)p * H * W + i];
                        if (c > v || (std::isnan(c) && !std::isnan(v))) v = c, best = i;
                    }
                const size_t o = ((size_t)p * PH + ph) * PW + pw;
                out[o] = v <= 0 ? 0.0f : v;
                argmax[o] = v <= 0 ? -1 : best;
            }
    return out;
}

// g.N examples through the batch functions of core/fast/conv.h (plain or fused with ReLU
// and max pooling, with or without statistics) against the per-example references.
void check_batch(const ConvGeom& g, int pool_k, bool stats, bool need_dx) {
    const int N = g.N;
    INFO("batch " << N << ", C " << g.C << " " << g.H << "x" << g.W << " -> OC " << g.OC << ", kernel " << g.KH
                  << ", stride " << g.S << ", padding " << g.P << ", pool " << pool_k << (stats ? ", statistics" : "")
                  << ", target " << simd_target() << ", threads " << omp_get_max_threads());
    const int pk = pool_k ? pool_k : 1;  // (unused without pooling)
    const dl::PoolGeom pool = dl::pool_geom(g.OC, g.OH(), g.OW(), pk, pk);
    const long xs = (long)g.C * g.H * g.W, ys = (long)g.OC * g.OHW();
    const long outs = pool_k ? (long)g.OC * pool.OH * pool.OW : ys;
    const auto x = random_vector(N * xs, 11), w = random_vector((size_t)g.OC * g.K(), 12), b = random_vector(g.OC, 13);
    const auto dout = random_vector(N * outs, 14);

    ConvWork work;
    std::vector<float> y(N * outs);
    if (pool_k) {
        REQUIRE(conv2d_relu_max_pool2d_applies(g, pool_k, pool_k));
        conv2d_relu_max_pool2d_forward(y.data(), x.data(), w.data(), b.data(), g, pool_k, pool_k, work);
    } else {
        REQUIRE(conv2d_forward(y.data(), x.data(), w.data(), b.data(), g, work));
    }

    ConvGrads out;
    std::vector<float> dx(N * xs, 5.0f), dw(w.size(), 0.0f), db(g.OC, 0.0f), dw_sq(w.size(), 0.0f), db_sq(g.OC, 0.0f),
        sqnorm(N, 0.0f);
    out.dx = need_dx ? dx.data() : nullptr, out.dx_assign = true, out.dw = dw.data(), out.db = db.data();
    if (stats) out.dw_sq = dw_sq.data(), out.db_sq = db_sq.data(), out.sqnorm = sqnorm.data(), out.sq_scale = 0.5f,
               out.norm_scale = 2.0f;
    if (pool_k) conv2d_relu_max_pool2d_backward(out, dout.data(), w.data(), g, pool_k, pool_k, work);
    else conv2d_backward(out, dout.data(), w.data(), g, work);

    std::vector<double> dw_ref(w.size(), 0.0), db_ref(g.OC, 0.0), dw_sq_ref(w.size(), 0.0), db_sq_ref(g.OC, 0.0);
    for (int e = 0; e < N; ++e) {
        const std::vector<float> xe(x.begin() + e * xs, x.begin() + (e + 1) * xs);
        const auto ye = naive_forward(xe, w, b, g);
        std::vector<float> dye(dout.begin() + e * outs, dout.begin() + (e + 1) * outs);
        if (pool_k) {  // forward through the pool; dy of the conv from the unpooled gradient
            std::vector<int> am;
            const auto pe = naive_relu_pool(ye, g.OC, g.OH(), g.OW(), pool_k, pool_k, am);
            CHECK(max_error(y.data() + e * outs, pe) < 1e-4);
            std::vector<float> dconv(ys, 0.0f);
            const int PHW = pool.OH * pool.OW;
            for (size_t i = 0; i < pe.size(); ++i)
                if (am[i] >= 0) dconv[(i / PHW) * g.OHW() + am[i]] += dye[i];
            dye = dconv;
        } else {
            CHECK(max_error(y.data() + e * outs, ye) < 1e-4);
        }
        std::vector<double> dxe, dwe;
        naive_backward(dxe, dwe, xe, w, dye, g);
        if (need_dx) CHECK(max_error(dx.data() + e * xs, dxe) < 1e-4);
        double norm = 0.0;
        for (int o = 0; o < g.OC; ++o) {
            double dbe = 0.0;
            for (int q = 0; q < g.OHW(); ++q) dbe += dye[(size_t)o * g.OHW() + q];
            db_ref[o] += dbe, db_sq_ref[o] += 0.5 * dbe * dbe, norm += dbe * dbe;
        }
        for (size_t i = 0; i < dwe.size(); ++i) dw_ref[i] += dwe[i], dw_sq_ref[i] += 0.5 * dwe[i] * dwe[i], norm += dwe[i] * dwe[i];
        if (stats) CHECK(std::fabs(sqnorm[e] - 2.0 * norm) <= 1e-4 * (1.0 + 2.0 * norm));
    }
    CHECK(max_error(dw.data(), dw_ref) < 1e-4);
    CHECK(max_error(db.data(), db_ref) < 1e-4);
    if (stats) {
        CHECK(max_error(dw_sq.data(), dw_sq_ref) < 1e-4);
        CHECK(max_error(db_sq.data(), db_sq_ref) < 1e-4);
    }
}

}  // namespace

TEST_CASE("fast conv batch: plain and fused with pooling, with and without statistics, at every target") {
    at_every_target([] {
        check_batch({3, 1, 12, 12, 16, 5, 5, 1, 2}, 2, false, false);  // cnn's first layer, smaller
        check_batch({3, 16, 14, 14, 32, 5, 5, 1, 2}, 2, true, true);
        check_batch({2, 5, 9, 7, 6, 3, 3, 2, 1}, 0, true, true);  // stride 2, odd sizes
        check_batch({1, 8, 7, 7, 20, 3, 3, 1, 1}, 3, true, true);  // batch 1, pool 3
        check_batch({4, 3, 8, 8, 17, 1, 1, 1, 0}, 0, false, true);
    });
}

