// The neural-network ops of core/ops_nn.h: conv2d against the naive direct
// convolution, and gradient checks of conv2d, pooling, dropout and batch norm.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <tuple>

#include "core/fast/fast.h"
#include "core/ops_nn.h"
#include "tests/gradcheck.h"

using namespace dl;
using dl::testing::check_gradients;
using dl::testing::random_tensor;

namespace {

struct ConvCase {
    int N, C, H, W, OC, KH, KW, stride, padding;
    bool bias;
};

// Distinct values at least 0.05 apart, shuffled: no two pooling candidates lie
// within the gradient check's step of each other (a near-tie looks like a kink
// at both step sizes and would not be skipped).
Tensor spread_tensor(const Shape& s, unsigned seed) {
    Tensor t(s);
    std::vector<int> order(t.size());
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), std::mt19937(seed));
    for (size_t i = 0; i < t.size(); ++i) t[i] = 0.05f * (float)order[i] - 2.0f;
    return t;
}

std::string describe(const ConvCase& c) {
    return "N" + std::to_string(c.N) + " C" + std::to_string(c.C) + " " + std::to_string(c.H) + "x" +
           std::to_string(c.W) + " OC" + std::to_string(c.OC) + " k" + std::to_string(c.KH) + "x" +
           std::to_string(c.KW) + " s" + std::to_string(c.stride) + " p" + std::to_string(c.padding) +
           (c.bias ? " bias" : "");
}

// Element by element, |a - b| / (1 + |b|) < 1e-4; or, for a layer that takes Winograd's
// method on the fast floor (which rounds relative to the largest values of a tile, see
// core/fast/winograd_hwy.h), max |a - b| / (1 + max |b|) < 2e-5.
void check_close(const Tensor& a, const float* b, const std::string& what, bool winograd = false) {
    float worst = 0.0f, diff = 0.0f, largest = 0.0f;
    for (size_t i = 0; i < a.size(); ++i) {
        worst = std::max(worst, std::fabs(a[i] - b[i]) / (1.0f + std::fabs(b[i])));
        diff = std::max(diff, std::fabs(a[i] - b[i]));
        largest = std::max(largest, std::fabs(b[i]));
    }
    INFO(what << ": worst relative difference " << worst << ", largest difference " << diff << " of scale " << largest);
    if (winograd)
        CHECK(diff / (1.0f + largest) < 2e-5f);
    else
        CHECK(worst < 1e-4f);
}

// The fast conv2d (forward and backward) against the naive kernels.
void check_conv_against_naive(const ConvCase& c) {
    const std::string what = describe(c);
    Tensor x = random_tensor(Shape{c.N, c.C, c.H, c.W}, 1);
    Parameter w("w", Shape{c.OC, c.C, c.KH, c.KW});
    Parameter b("b", Shape{c.OC});
    w.value = random_tensor(w.value.shape(), 2);
    b.value = random_tensor(b.value.shape(), 3);
    Tape tape;
    Var xv = tape.input(x, true);
    Var y = conv2d(tape, xv, w, c.bias ? &b : nullptr, c.stride, c.padding);
    const Tensor dout = random_tensor(tape.shape(y), 4);
    tape.backward(sum(tape, mul(tape, y, tape.input(dout))));

    Tensor y_ref(tape.shape(y));
    conv2d_forward_naive(y_ref.data(), x.data(), w.value.data(), c.bias ? b.value.data() : nullptr, c.N, c.C, c.H,
                         c.W, c.OC, c.KH, c.KW, c.stride, c.padding);
    const bool wino = fast::enabled() && fast::conv_winograd({c.N, c.C, c.H, c.W, c.OC, c.KH, c.KW, c.stride, c.padding});
    check_close(tape.value(y), y_ref.data(), what + " forward", wino);
    Tensor dx(x.shape()), dw(w.value.shape()), db(b.value.shape());
    conv2d_backward_naive(dx.data(), dw.data(), c.bias ? db.data() : nullptr, dout.data(), x.data(),
                          w.value.data(), c.N, c.C, c.H, c.W, c.OC, c.KH, c.KW, c.stride, c.padding);
    check_close(tape.grad(xv), dx.data(), what + " dinp", wino);
    check_close(w.grad, dw.data(), what + " dweight", wino);
    if (c.bias) check_close(b.grad, db.data(), what + " dbias");
}

const ConvCase kCases[] = {
    {2, 1, 8, 8, 3, 5, 5, 1, 2, true},   {3, 2, 7, 9, 4, 3, 3, 2, 1, true}, {1, 3, 6, 5, 2, 2, 3, 1, 0, false},
    {5, 2, 9, 9, 3, 3, 3, 3, 2, true},   {4, 16, 14, 14, 32, 5, 5, 1, 2, true}, {2, 2, 5, 5, 2, 1, 1, 1, 0, true},
};

}  // namespace

TEST_CASE("conv2d: both floors agree with the naive direct convolution") {
    for (const ConvCase& c : kCases) check_conv_against_naive(c);
    fast::ReferenceOnly reference;
    for (const ConvCase& c : kCases) check_conv_against_naive(c);
}

TEST_CASE("conv2d: same result with one thread and with two") {
    const int before = num_threads();
    for (int threads : {1, 2}) {
        set_num_threads(threads);
        check_conv_against_naive({5, 3, 8, 8, 4, 3, 3, 1, 1, true});
    }
    set_num_threads(before);
}

TEST_CASE("conv2d: gradient check with stride 2 and padding, on both floors") {
    Parameter w("w", Shape{3, 2, 3, 3});
    Parameter b("b", Shape{3});
    w.value = random_tensor(w.value.shape(), 5);
    b.value = random_tensor(b.value.shape(), 6);
    for (bool reference : {false, true}) {
        if (reference) fast::set_enabled(false);
        check_gradients(
            "conv2d s2 p1", [&](Tape& t, const std::vector<Var>& in) { return conv2d(t, in[0], w, &b, 2, 1); },
            {random_tensor(Shape{2, 2, 7, 6}, 7)}, {&w, &b});
        fast::set_enabled(true);
    }
}

TEST_CASE("conv2d: errors name the op and both shapes") {
    Tape t;
    Parameter w("conv.weight", Shape{4, 3, 3, 3});
    Parameter b("conv.bias", Shape{5});
    Var x = t.input(Tensor(Shape{2, 2, 8, 8}));
    CHECK_THROWS_WITH_AS(conv2d(t, x, w, nullptr), "conv2d: input (2, 2, 8, 8) does not fit weight 'conv.weight' "
                                                  "(4, 3, 3, 3); expected (N, 3, H, W)", std::invalid_argument);
    Var x3 = t.input(Tensor(Shape{2, 3, 8, 8}));
    CHECK_THROWS_WITH_AS(conv2d(t, x3, w, &b), "conv2d: bias 'conv.bias' has shape (5); expected (4)",
                         std::invalid_argument);
    CHECK_THROWS_WITH_AS(conv2d(t, t.input(Tensor(Shape{1, 3, 2, 2})), w, nullptr),
                         "conv2d: input (1, 3, 2, 2) with padding 0 is smaller than the kernel of weight (4, 3, 3, 3)",
                         std::invalid_argument);
    CHECK_THROWS_WITH_AS(conv2d(t, x3, w, nullptr, 0), "conv2d: stride 0 and padding 0 must be >= 1 and >= 0",
                         std::invalid_argument);
}

TEST_CASE("max_pool2d and avg_pool2d: gradient checks, also with overlapping windows") {
    const Tensor x = spread_tensor(Shape{2, 3, 7, 7}, 8);
    for (int k : {2, 3})
        for (int s : {1, 2}) {
            const std::string sz = " k" + std::to_string(k) + " s" + std::to_string(s);
            check_gradients("max_pool2d" + sz, [&](Tape& t, const std::vector<Var>& in) {
                return max_pool2d(t, in[0], k, s);
            }, {x});
            check_gradients("avg_pool2d" + sz, [&](Tape& t, const std::vector<Var>& in) {
                return avg_pool2d(t, in[0], k, s);
            }, {x});
        }
}

// relu_max_pool2d against max_pool2d(relu(x)): the same values and the same input
// gradient, bit for bit, with ties at 0 and windows without a positive value.
void check_relu_pool(const Tensor& x, int k, int s) {
    INFO("kernel " << k << " stride " << s);
    const Shape ys{x.dim(0), x.dim(1), (x.dim(2) - k) / s + 1, (x.dim(3) - k) / s + 1};
    const Tensor r = random_tensor(ys, 12);
    Tape fused, ref;
    Var xf = fused.input(x, true), xr = ref.input(x, true);
    Var yf = relu_max_pool2d(fused, xf, k, s), yr = max_pool2d(ref, relu(ref, xr), k, s);
    fused.backward(sum(fused, mul(fused, yf, fused.input(r))));
    ref.backward(sum(ref, mul(ref, yr, ref.input(r))));
    const Tensor &vf = fused.value(yf), &vr = ref.value(yr), &gf = fused.grad(xf), &gr = ref.grad(xr);
    CHECK(std::equal(vf.data(), vf.data() + vf.size(), vr.data()));
    CHECK(std::equal(gf.data(), gf.data() + gf.size(), gr.data()));
}

TEST_CASE("relu_max_pool2d: the same numbers as max_pool2d(relu(x)), and gradient checks") {
    Tensor x = spread_tensor(Shape{2, 3, 8, 8}, 13);
    for (size_t i = 0; i < x.size(); ++i) x[i] -= 2.8f;  // about half negative
    for (size_t i = 0; i < x.size(); i += 7) x[i] = 0.0f;  // ties at 0
    for (int k : {2, 3})
        for (int s : {1, 2}) check_relu_pool(x, k, s);
    const Tensor spread = spread_tensor(Shape{2, 3, 7, 7}, 14);
    check_gradients("relu_max_pool2d", [&](Tape& t, const std::vector<Var>& in) {
        return relu_max_pool2d(t, add(t, in[0], -5.32f), 2, 2);  // half negative, none near 0
    }, {spread});
}

namespace {

// conv2d_relu_max_pool2d against relu_max_pool2d(conv2d(x)): the same values and
// the same gradients (x, weight, bias), bit for bit; with `stats` also the same
// per-example statistics (grad_sq and the per-example gradient norms).
void check_conv_pool(int N, int C, int H, int OC, int k, int pad, int pk, int ps, bool bias, bool stats) {
    INFO("x (" << N << "," << C << "," << H << "," << H << "), " << OC << " channels, kernel " << k << ", pool " << pk
               << "/" << ps << (bias ? "" : ", no bias") << (stats ? ", statistics" : ""));
    Tensor x = random_tensor(Shape{N, C, H, H}, 21);
    Parameter w("w", Shape{OC, C, k, k}), b("b", Shape{OC});
    w.value = random_tensor(w.value.shape(), 22);
    b.value = random_tensor(b.value.shape(), 23, -2.0f, 0.5f);  // many windows with no positive value
    std::vector<int> labels(N);
    for (int i = 0; i < N; ++i) labels[i] = i % 3;
    struct Out {
        Tensor y, dx, dw, db, sq_w, sq_b;
        std::vector<float> norms;
    };
    auto run = [&](bool fused) {
        w.zero_grad(), b.zero_grad();
        w.grad_sq = Tensor(), b.grad_sq = Tensor(), w.stats_batch = b.stats_batch = 0;
        Tape t;
        t.set_statistics(stats);
        Var xv = t.input(x, true);
        Parameter* bp = bias ? &b : nullptr;
        Var y = fused ? conv2d_relu_max_pool2d(t, xv, w, bp, 1, pad, pk, ps)
                      : relu_max_pool2d(t, conv2d(t, xv, w, bp, 1, pad), pk, ps);
        t.backward(softmax_cross_entropy(t, mul(t, flatten(t, y), 0.1f), labels));
        Out o{t.value(y), t.grad(xv), w.grad, b.grad, w.grad_sq, b.grad_sq, {}};
        if (stats) o.norms = t.per_example_grad_norms();
        return o;
    };
    const Out f = run(true), r = run(false);
    auto same = [](const Tensor& a, const Tensor& c) {
        return a.shape() == c.shape() && std::equal(a.data(), a.data() + a.size(), c.data());
    };
    CHECK(same(f.y, r.y));
    CHECK(same(f.dx, r.dx));
    CHECK(same(f.dw, r.dw));
    if (bias) CHECK(same(f.db, r.db));
    if (stats) {
        CHECK(same(f.sq_w, r.sq_w));
        if (bias) CHECK(same(f.sq_b, r.sq_b));
        CHECK(f.norms == r.norms);
    }
}

}  // namespace

TEST_CASE("conv2d_relu_max_pool2d: the same numbers as relu_max_pool2d(conv2d(x)), with and without statistics") {
    for (bool stats : {false, true}) {
        check_conv_pool(3, 1, 28, 16, 5, 2, 2, 2, true, stats);   // cnn's first layer
        check_conv_pool(2, 16, 14, 32, 5, 2, 2, 2, true, stats);  // cnn's second layer
        check_conv_pool(2, 3, 9, 8, 3, 1, 2, 2, false, stats);    // odd plane: the general unpooling
        check_conv_pool(2, 2, 11, 8, 3, 1, 3, 2, true, stats);    // overlapping 3x3 windows
        check_conv_pool(2, 2, 8, 4, 3, 1, 2, 2, true, stats);     // 4 channels
    }
    Tape t;  // the fused op is one node (any channel count); on the reference floor, two
    Parameter w8("w", Shape{8, 2, 3, 3}), w4("w", Shape{4, 2, 3, 3});
    Var x = t.input(random_tensor(Shape{1, 2, 6, 6}, 24));
    conv2d_relu_max_pool2d(t, x, w8, nullptr, 1, 1, 2, 2);
    CHECK(t.size() == 2);
    conv2d_relu_max_pool2d(t, x, w4, nullptr, 1, 1, 2, 2);
    CHECK(t.size() == 3);
    fast::ReferenceOnly reference;
    conv2d_relu_max_pool2d(t, x, w4, nullptr, 1, 1, 2, 2);
    CHECK(t.size() == 5);
}

TEST_CASE("max_pool2d: 2x2 windows tiling an even plane (the backward that writes each window once)") {
    // 36 columns: 18 windows a row, 16 + 2 in the vector loop; values at least 0.05 apart
    const Tensor x = spread_tensor(Shape{2, 2, 6, 36}, 15);
    check_gradients("max_pool2d 2x2 even", [&](Tape& t, const std::vector<Var>& in) {
        return max_pool2d(t, in[0], 2, 2);
    }, {x});
    check_gradients("relu_max_pool2d 2x2 even", [&](Tape& t, const std::vector<Var>& in) {
        return relu_max_pool2d(t, add(t, in[0], -10.82f), 2, 2);  // about half negative, none near 0
    }, {x});
}

TEST_CASE("max_pool2d: picks the window maximum") {
    Tape t;
    Var x = t.input(Tensor(Shape{1, 1, 2, 4}, {1, 5, 2, 0, 3, 4, 7, 8}));
    const Tensor& y = t.value(max_pool2d(t, x, 2, 2));
    CHECK(y.shape() == Shape{1, 1, 1, 2});
    CHECK(y[0] == 5.0f);
    CHECK(y[1] == 8.0f);
    CHECK_THROWS_WITH_AS(max_pool2d(t, t.input(Tensor(Shape{4, 4})), 2, 2),
                         "max_pool2d: input (4, 4) must be (N, C, H, W)", std::invalid_argument);
}

TEST_CASE("dropout: inverted scaling, seeded mask, identity in eval") {
    Tape t;
    const Tensor ones(Shape{64, 100}, 1.0f);
    Var x = t.input(ones);
    std::uint64_t state = 7, again = 7;
    const Tensor y1 = t.value(dropout(t, x, 0.25f, true, state));
    const Tensor y2 = t.value(dropout(t, x, 0.25f, true, again));
    CHECK(state == again);
    CHECK(state != 7u);
    int kept = 0;
    for (size_t i = 0; i < y1.size(); ++i) {
        CHECK(y1[i] == y2[i]);
        CHECK((y1[i] == 0.0f || std::fabs(y1[i] - 1.0f / 0.75f) < 1e-6f));
        kept += y1[i] != 0.0f;
    }
    CHECK(std::abs(kept - 4800) < 300);  // about 75% kept
    const Tensor y3 = t.value(dropout(t, x, 0.25f, true, state));
    CHECK(y3.vec() != y1.vec());  // the state advanced: a new mask
    CHECK(dropout(t, x, 0.25f, false, state).id == x.id);
    CHECK_THROWS_WITH_AS(dropout(t, x, 1.0f, true, state), "dropout: probability 1.000000 must be in [0, 1)",
                         std::invalid_argument);
    std::uint64_t s = 3;
    check_gradients("dropout", [&](Tape& tp, const std::vector<Var>& in) {
        std::uint64_t fixed = s;  // the same mask in every evaluation
        return dropout(tp, in[0], 0.5f, true, fixed);
    }, {random_tensor(Shape{4, 10}, 9)});
}

TEST_CASE("batch_norm: gradient checks in training and eval mode, (N,F) and (N,C,H,W)") {
    for (bool training : {true, false})
        for (bool spatial : {false, true}) {
            const int C = 3;
            Parameter gamma("gamma", Shape{C}), beta("beta", Shape{C});
            gamma.value = random_tensor(Shape{C}, 10, 0.5f, 1.5f);
            beta.value = random_tensor(Shape{C}, 11);
            Tensor rm = random_tensor(Shape{C}, 12), rv = random_tensor(Shape{C}, 13, 0.5f, 2.0f);
            const Shape sx = spatial ? Shape{4, C, 3, 2} : Shape{6, C};
            const std::string what = std::string("batch_norm ") + (training ? "train " : "eval ") + sx.str();
            check_gradients(what, [&](Tape& t, const std::vector<Var>& in) {
                return batch_norm(t, in[0], gamma, beta, rm, rv, training);
            }, {random_tensor(sx, 14)}, {&gamma, &beta});
        }
}

TEST_CASE("batch_norm: running statistics like PyTorch (momentum 0.1, unbiased variance)") {
    Parameter gamma("gamma", Shape{1}), beta("beta", Shape{1});
    gamma.value[0] = 2.0f;
    beta.value[0] = 0.5f;
    Tensor rm(Shape{1}, 0.0f), rv(Shape{1}, 1.0f);
    Tape t;
    Var x = t.input(Tensor(Shape{4, 1}, {1, 2, 3, 6}));
    const Tensor y = t.value(batch_norm(t, x, gamma, beta, rm, rv, true));
    // mean 3, biased var 3.5, unbiased var 14/3
    CHECK(rm[0] == doctest::Approx(0.3));
    CHECK(rv[0] == doctest::Approx(0.9 + 0.1 * 14.0 / 3.0));
    CHECK(y[0] == doctest::Approx(2.0 * (1 - 3) / std::sqrt(3.5 + 1e-5) + 0.5).epsilon(1e-5));
    const Tensor ye = t.value(batch_norm(t, x, gamma, beta, rm, rv, false));
    CHECK(ye[3] == doctest::Approx(2.0 * (6 - rm[0]) / std::sqrt(rv[0] + 1e-5) + 0.5).epsilon(1e-5));
    CHECK(t.node(Var{t.size() - 2}).mixes_examples);
    CHECK_FALSE(t.node(Var{t.size() - 1}).mixes_examples);
    Tensor rm3(Shape{3});
    CHECK_THROWS_WITH_AS(batch_norm(t, x, gamma, beta, rm3, rv, true),
                         "batch_norm: running_mean has shape (3) but input (4, 1) has 1 channels; expected (1)",
                         std::invalid_argument);
    CHECK_THROWS_WITH_AS(batch_norm(t, t.input(Tensor(Shape{1, 1})), gamma, beta, rm, rv, true),
                         "batch_norm: input (1, 1) has one value per channel; training needs more than one",
                         std::invalid_argument);
}

TEST_CASE("group_norm and layer_norm: gradient checks, inputs and parameters") {
    struct Case {
        Shape x;
        int groups;  // 0: layer_norm
    };
    const Case cases[] = {{{3, 4, 3, 2}, 2}, {{3, 4, 3, 2}, 1}, {{3, 4, 3, 2}, 4}, {{4, 6}, 2},
                          {{4, 6}, 0},       {{2, 3, 2, 2}, 0}};
    for (const Case& c : cases) {
        Shape affine{c.x[1]};
        if (c.groups == 0) affine = c.x.rank == 4 ? Shape{c.x[1], c.x[2], c.x[3]} : Shape{c.x[1]};
        Parameter gamma("gamma", affine), beta("beta", affine);
        gamma.value = random_tensor(affine, 61, 0.5f, 1.5f);
        beta.value = random_tensor(affine, 62);
        const std::string what = (c.groups ? "group_norm " + std::to_string(c.groups) + " " : "layer_norm ") + c.x.str();
        check_gradients(what, [&](Tape& t, const std::vector<Var>& in) {
            return c.groups ? group_norm(t, in[0], gamma, beta, c.groups) : layer_norm(t, in[0], gamma, beta);
        }, {random_tensor(c.x, 63)}, {&gamma, &beta});
    }
}

TEST_CASE("group_norm and layer_norm: values by hand, and errors") {
    // One example, two channels of two values, one group: mean 2.5, var 1.25.
    Parameter gamma("g.weight", Shape{2}), beta("g.bias", Shape{2});
    gamma.value = Tensor(Shape{2}, {2.0f, 1.0f});
    beta.value = Tensor(Shape{2}, {0.5f, -1.0f});
    Tape t;
    Var x = t.input(Tensor(Shape{1, 2, 1, 2}, {1, 2, 3, 4}));
    const Tensor y = t.value(group_norm(t, x, gamma, beta, 1, 0.0f));
    const float inv = 1.0f / std::sqrt(1.25f);
    CHECK(y[0] == doctest::Approx(2.0f * -1.5f * inv + 0.5f));
    CHECK(y[3] == doctest::Approx(1.0f * 1.5f * inv - 1.0f));
    // Two groups: each channel on its own (mean 1.5 and 3.5, var 0.25).
    const Tensor y2 = t.value(group_norm(t, x, gamma, beta, 2, 0.0f));
    CHECK(y2[0] == doctest::Approx(2.0f * -0.5f / 0.5f + 0.5f));
    CHECK(y2[3] == doctest::Approx(1.0f * 0.5f / 0.5f - 1.0f));
    // layer_norm: gamma and beta per value.
    Parameter lg("l.weight", Shape{4}), lb("l.bias", Shape{4});
    lg.value = Tensor(Shape{4}, {1, 2, 3, 4});
    lb.value = Tensor(Shape{4}, {0, 0, 0, 1});
    const Tensor z = t.value(layer_norm(t, t.input(Tensor(Shape{1, 4}, {1, 2, 3, 4})), lg, lb, 0.0f));
    CHECK(z[1] == doctest::Approx(2.0f * -0.5f * inv));
    CHECK(z[3] == doctest::Approx(4.0f * 1.5f * inv + 1.0f));
    CHECK_FALSE(t.node(Var{t.size() - 1}).mixes_examples);
    CHECK_THROWS_WITH_AS(group_norm(t, x, gamma, beta, 3), "group_norm: 3 groups do not divide the 2 channels of input "
                                                           "(1, 2, 1, 2)", std::invalid_argument);
    CHECK_THROWS_WITH_AS(layer_norm(t, x, lg, lb), "layer_norm: gamma 'l.weight' has shape (4) but input (1, 2, 1, 2) "
                                                   "needs (2, 1, 2)", std::invalid_argument);
    CHECK_THROWS_WITH_AS(group_norm(t, x, lg, lb, 1), "group_norm: gamma 'l.weight' has shape (4) but input "
                                                      "(1, 2, 1, 2) needs (2)", std::invalid_argument);
}

// ---- the fast floor against the reference floor, op by op -----------------------------------

TEST_CASE("fast floor: conv2d and conv2d_relu_max_pool2d against the reference, values, gradients, statistics") {
    using dl::testing::compare_floors;
    struct Case {
        int N, C, H, OC, k, stride, pad;
        bool bias;
    };
    const Case cases[] = {
        {3, 1, 28, 16, 5, 1, 2, true},   // cnn's first layer (direct kernels)
        {2, 16, 14, 32, 5, 1, 2, true},  // cnn's second layer (Winograd)
        {2, 1, 12, 32, 3, 1, 1, false},  // cnn-bn's first layer
        {2, 4, 9, 64, 3, 1, 1, false},   // cnn-bn's second layer (64 channels)
        {2, 3, 10, 6, 3, 1, 1, true},    // 6 channels: the fast floor's im2col + GEMM
        {2, 2, 16, 3, 3, 2, 1, true},    // stride 2
        {2, 8, 9, 16, 3, 1, 0, false},   // no padding
    };
    for (const Case& c : cases)
        for (bool stats : {false, true}) {
            Parameter w("w", Shape{c.OC, c.C, c.k, c.k}), b("b", Shape{c.OC});
            w.value = random_tensor(w.value.shape(), 31);
            b.value = random_tensor(b.value.shape(), 32, -1.0f, 0.3f);
            const std::vector<Parameter*> params = c.bias ? std::vector<Parameter*>{&w, &b} : std::vector<Parameter*>{&w};
            Parameter* bp = c.bias ? &b : nullptr;
            const Tensor x = random_tensor(Shape{c.N, c.C, c.H, c.H}, 33);
            const std::string what = "conv " + std::to_string(c.C) + "->" + std::to_string(c.OC) + " k" +
                                     std::to_string(c.k) + " s" + std::to_string(c.stride) + (stats ? " stats" : "");
            const double tol = dl::testing::conv_floor_tolerance({c.N, c.C, c.H, c.H, c.OC, c.k, c.k, c.stride, c.pad});
            compare_floors(what, [&](Tape& t, const std::vector<Var>& in) {
                return conv2d(t, in[0], w, bp, c.stride, c.pad);
            }, {x}, params, stats, tol);
            compare_floors(what + " + relu + max pool", [&](Tape& t, const std::vector<Var>& in) {
                return conv2d_relu_max_pool2d(t, in[0], w, bp, c.stride, c.pad, 2, 2);
            }, {x}, params, stats, tol);
        }
}

TEST_CASE("fast floor: pooling, batch norm, dropout, linear and elementwise ops against the reference") {
    using dl::testing::compare_floors;
    using dl::testing::Forward;
    // Large enough that the fast floor splits the loops over the threads.
    const Tensor image = spread_tensor(Shape{4, 8, 32, 32}, 41);
    for (int k : {2, 3})
        for (int s : {1, 2}) {
            const std::string sz = " k" + std::to_string(k) + " s" + std::to_string(s);
            compare_floors("max_pool2d" + sz, [&](Tape& t, const std::vector<Var>& in) {
                return max_pool2d(t, in[0], k, s);
            }, {image}, {}, false, 0.0, true);
            compare_floors("relu_max_pool2d" + sz, [&](Tape& t, const std::vector<Var>& in) {
                return relu_max_pool2d(t, add(t, in[0], -100.0f), k, s);  // half negative
            }, {image}, {}, false, 0.0, true);
            compare_floors("avg_pool2d" + sz, [&](Tape& t, const std::vector<Var>& in) {
                return avg_pool2d(t, in[0], k, s);
            }, {image}, {}, false, 0.0, true);
        }
    compare_floors("max_pool2d odd plane", [&](Tape& t, const std::vector<Var>& in) {
        return max_pool2d(t, in[0], 2, 2);
    }, {spread_tensor(Shape{2, 3, 9, 33}, 42)}, {}, false, 0.0, true);
    for (bool training : {true, false}) {
        Parameter gamma("gamma", Shape{8}), beta("beta", Shape{8});
        gamma.value = random_tensor(Shape{8}, 43, 0.5f, 1.5f);
        beta.value = random_tensor(Shape{8}, 44);
        Tensor rm(Shape{8}), rv(Shape{8}, 1.0f);
        compare_floors(std::string("batch_norm ") + (training ? "train" : "eval"),
                       [&](Tape& t, const std::vector<Var>& in) {
                           return batch_norm(t, in[0], gamma, beta, rm, rv, training);
                       }, {random_tensor(Shape{16, 8, 16, 16}, 45)}, {&gamma, &beta}, !training, 0.0);
    }
    Parameter gn_gamma("gamma", Shape{8}), gn_beta("beta", Shape{8});
    gn_gamma.value = random_tensor(Shape{8}, 50, 0.5f, 1.5f);
    for (bool stats : {false, true})
        compare_floors("group_norm", [&](Tape& t, const std::vector<Var>& in) {
            return group_norm(t, in[0], gn_gamma, gn_beta, 4);
        }, {random_tensor(Shape{16, 8, 16, 16}, 51)}, {&gn_gamma, &gn_beta}, stats, 0.0);
    std::uint64_t seed = 9;
    compare_floors("dropout", [&](Tape& t, const std::vector<Var>& in) {
        std::uint64_t state = seed;
        return dropout(t, in[0], 0.3f, true, state);
    }, {random_tensor(Shape{64, 1024}, 46)}, {}, false, 0.0, true);
    const Tensor big = random_tensor(Shape{64, 1024}, 47);
    const std::vector<std::pair<const char*, Forward>> unary = {
        {"relu", [](Tape& t, const std::vector<Var>& in) { return relu(t, in[0]); }},
        {"tanh", [](Tape& t, const std::vector<Var>& in) { return dl::tanh(t, in[0]); }},
        {"add and mul", [](Tape& t, const std::vector<Var>& in) { return mul(t, add(t, in[0], in[0]), in[0]); }},
    };
    for (const auto& [name, f] : unary) compare_floors(name, f, {big}, {}, false, 0.0, true);
    Parameter W("W", Shape{32, 1024}), b("b", Shape{32});
    W.value = random_tensor(W.value.shape(), 48);
    b.value = random_tensor(b.value.shape(), 49);
    for (bool stats : {false, true})
        compare_floors("linear", [&](Tape& t, const std::vector<Var>& in) { return linear(t, in[0], W, &b); }, {big},
                       {&W, &b}, stats);
}

// ---- NaN propagates as IEEE arithmetic does ------------------------------------------------

namespace {

const float kNaN = std::numeric_limits<float>::quiet_NaN();

int count_nan(const Tensor& t) {
    int n = 0;
    for (size_t i = 0; i < t.size(); ++i) n += std::isnan(t[i]);
    return n;
}

// x with a NaN at `at` (and otherwise values in [1, 2), so a NaN that a max dropped
// would leave only numbers).
Tensor with_nan(const Shape& s, size_t at, unsigned seed) {
    Tensor t = random_tensor(s, seed, 1.0f, 2.0f);
    t[at] = kNaN;
    return t;
}

}  // namespace

TEST_CASE("NaN in an input or a weight reaches the output of every op, on both floors") {
    using Op = std::function<Var(Tape&)>;
    const Tensor image = with_nan(Shape{2, 8, 6, 6}, 7, 51);  // not first in its 2x2 window
    const Tensor flat = with_nan(Shape{4, 6}, 9, 52);
    Parameter w8("w", Shape{8, 8, 3, 3}), b8("b", Shape{8}), wnan("w", Shape{8, 8, 3, 3});
    w8.value = random_tensor(w8.value.shape(), 53);
    b8.value = random_tensor(b8.value.shape(), 54);
    wnan.value = w8.value;
    wnan.value[5] = kNaN;  // output channel 0
    Parameter W("W", Shape{3, 6}), Wnan("W", Shape{3, 6}), bias("b", Shape{3});
    W.value = random_tensor(W.value.shape(), 55);
    Wnan.value = W.value;
    Wnan.value[4] = kNaN;
    Parameter gamma("gamma", Shape{8}), beta("beta", Shape{8});
    gamma.value.fill(1.0f);
    Tensor rm(Shape{8}), rv(Shape{8}, 1.0f);
    Parameter ln_gamma("gamma", Shape{6}), ln_beta("beta", Shape{6});
    ln_gamma.value.fill(1.0f);
    std::uint64_t rng = 3;
    // Each op with a NaN in one input or weight, and the least number of NaN outputs.
    const std::vector<std::tuple<const char*, Op, int>> ops = {
        {"add", [&](Tape& t) { return add(t, t.input(flat), t.input(Tensor(flat.shape(), 1.0f))); }, 1},
        {"sub", [&](Tape& t) { return sub(t, t.input(Tensor(flat.shape(), 1.0f)), t.input(flat)); }, 1},
        {"mul", [&](Tape& t) { return mul(t, t.input(flat), t.input(Tensor(flat.shape(), 0.0f))); }, 1},
        {"mul scalar", [&](Tape& t) { return mul(t, t.input(flat), 0.0f); }, 1},
        {"add scalar", [&](Tape& t) { return add(t, t.input(flat), 1.0f); }, 1},
        {"relu", [&](Tape& t) { return relu(t, t.input(flat)); }, 1},
        {"leaky_relu", [&](Tape& t) { return leaky_relu(t, t.input(flat)); }, 1},
        {"tanh", [&](Tape& t) { return dl::tanh(t, t.input(flat)); }, 1},
        {"sigmoid", [&](Tape& t) { return sigmoid(t, t.input(flat)); }, 1},
        {"exp", [&](Tape& t) { return dl::exp(t, t.input(flat)); }, 1},
        {"log", [&](Tape& t) { return dl::log(t, t.input(flat)); }, 1},
        {"sum", [&](Tape& t) { return sum(t, t.input(flat)); }, 1},
        {"mean", [&](Tape& t) { return mean(t, t.input(flat)); }, 1},
        {"flatten", [&](Tape& t) { return flatten(t, t.input(image)); }, 1},
        {"add_bias", [&](Tape& t) {
             return add_bias(t, t.input(Tensor(Shape{4, 6})), t.input(Tensor(Shape{6}, {1, 2, kNaN, 3, 4, 5}))); }, 4},
        {"matmul", [&](Tape& t) { return matmul(t, t.input(flat), t.input(random_tensor(Shape{6, 2}, 56))); }, 2},
        {"linear (input)", [&](Tape& t) { return linear(t, t.input(flat), W, &bias); }, 3},
        {"linear (weight)", [&](Tape& t) { return linear(t, t.input(random_tensor(Shape{4, 6}, 57)), Wnan, &bias); }, 4},
        {"log_softmax", [&](Tape& t) { return log_softmax(t, t.input(flat)); }, 6},
        {"conv2d (input)", [&](Tape& t) { return conv2d(t, t.input(image), w8, &b8, 1, 1); }, 8},
        // Output channel 0 everywhere (72) on the reference floor, where the NaN tap (kh 1, kw 2)
        // meets the zero padding too (NaN * 0 is NaN); the fast floor skips the taps that read
        // padding, so the 12 outputs of the last column, whose tap kw 2 reads only padding, stay finite.
        {"conv2d (weight)", [&](Tape& t) {
             return conv2d(t, t.input(random_tensor(image.shape(), 58)), wnan, &b8, 1, 1); }, 60},
        {"conv2d_relu_max_pool2d (input)", [&](Tape& t) {
             return conv2d_relu_max_pool2d(t, t.input(image), w8, &b8, 1, 1, 2, 2); }, 8},
        {"conv2d_relu_max_pool2d (weight)", [&](Tape& t) {
             return conv2d_relu_max_pool2d(t, t.input(random_tensor(image.shape(), 58)), wnan, &b8, 1, 1, 2, 2); }, 18},
        {"max_pool2d", [&](Tape& t) { return max_pool2d(t, t.input(image), 2, 2); }, 1},
        {"max_pool2d 3x3", [&](Tape& t) { return max_pool2d(t, t.input(image), 3, 1); }, 4},
        {"relu_max_pool2d", [&](Tape& t) { return relu_max_pool2d(t, t.input(image), 2, 2); }, 1},
        {"relu_max_pool2d of negatives", [&](Tape& t) {
             return relu_max_pool2d(t, mul(t, t.input(image), -1.0f), 2, 2); }, 1},
        {"avg_pool2d", [&](Tape& t) { return avg_pool2d(t, t.input(image), 2, 2); }, 1},
        {"dropout", [&](Tape& t) { std::uint64_t s = rng; return dropout(t, t.input(flat), 0.5f, true, s); }, 1},
        {"batch_norm train", [&](Tape& t) { return batch_norm(t, t.input(image), gamma, beta, rm, rv, true); }, 72},
        {"batch_norm eval", [&](Tape& t) { return batch_norm(t, t.input(image), gamma, beta, rm, rv, false); }, 1},
        {"group_norm", [&](Tape& t) { return group_norm(t, t.input(image), gamma, beta, 4); }, 72},
        {"layer_norm", [&](Tape& t) { return layer_norm(t, t.input(flat), ln_gamma, ln_beta); }, 6},
    };
    for (bool reference : {false, true}) {
        fast::set_enabled(!reference);
        for (const auto& [name, op, least] : ops) {
            Tape t;
            const std::string what = std::string(name) + (reference ? " (reference floor)" : " (fast floor)");
            INFO(what);
            CHECK(count_nan(t.value(op(t))) >= least);
        }
        {  // exactly: channel 0 everywhere on the reference floor; with the direct kernels all but
           // the 12 outputs of the last column, where the NaN tap reads only padding and is skipped
            Tape t;
            INFO("conv2d (weight), exact count" << (reference ? " (reference floor)" : " (fast floor)"));
            CHECK_FALSE(fast::conv_winograd({2, 8, 6, 6, 8, 3, 3, 1, 1}));
            const Var y = conv2d(t, t.input(random_tensor(image.shape(), 58)), wnan, &b8, 1, 1);
            CHECK(count_nan(t.value(y)) == (reference ? 72 : 60));
        }
        {  // on an 8x8 plane, which takes Winograd's method when it is on: the NaN spreads through
           // the transformed kernel to every output of its tiles, channel 0 everywhere (128); the
           // direct kernels: all but the last column (112)
            for (bool wino : {true, false}) {
                fast::set_winograd_enabled(wino);
                Tape t;
                INFO("conv2d (weight) on 8x8, exact count" << (reference ? " (reference floor)" : " (fast floor)")
                                                           << (wino ? ", Winograd on" : ", Winograd off"));
                CHECK(fast::conv_winograd({2, 8, 8, 8, 8, 3, 3, 1, 1}) == wino);
                const Var y = conv2d(t, t.input(random_tensor(Shape{2, 8, 8, 8}, 59)), wnan, &b8, 1, 1);
                CHECK(count_nan(t.value(y)) == (reference || wino ? 128 : 112));
            }
            fast::set_winograd_enabled(true);
        }
        // The losses refuse a NaN, naming the first op whose output holds one.
        Tape t;
        CHECK_THROWS_WITH_AS(softmax_cross_entropy(t, relu(t, t.input(flat)), {0, 1, 2, 3}),
                             doctest::Contains("non-finite value (nan) first produced by op 'input'"),
                             std::runtime_error);
        CHECK_THROWS_WITH_AS(mse_loss(t, t.input(flat), t.input(Tensor(flat.shape()))),
                             doctest::Contains("non-finite"), std::runtime_error);
        fast::set_enabled(true);
    }
}
