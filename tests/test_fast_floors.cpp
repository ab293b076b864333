// The fast floor against the reference floor, op by op through the tape, at every
// instruction set this machine runs (tests/simd_targets.h): the output, the gradients
// of the input and the parameters, and with statistics grad_sq and the per-example
// gradient norms (tests/gradcheck.h, compare_floors).
//
// The convolution sweep: channels 1..130 (across and off the 16-channel blocks of the
// kernels), kernels 1/3/5/7, stride 1 and 2, padding 0 and "same", odd image sizes,
// batches of 1 to 3, with and without bias and statistics. The reference floor's
// convolution is im2col + one sgemm (core/ops/conv.cpp), so the sweep stays fast.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "core/ops_nn.h"
#include "tests/gradcheck.h"
#include "tests/simd_targets.h"

using namespace dl;
using dl::testing::at_every_target;
using dl::testing::compare_floors;
using dl::testing::conv_floor_tolerance;
using dl::testing::random_tensor;

namespace {

struct ConvCase {
    int N, C, H, W, OC, K, stride, pad;
    bool bias, stats;
};

std::string describe(const ConvCase& c) {
    return "x (" + std::to_string(c.N) + "," + std::to_string(c.C) + "," + std::to_string(c.H) + "," +
           std::to_string(c.W) + ") -> " + std::to_string(c.OC) + " channels, kernel " + std::to_string(c.K) +
           ", stride " + std::to_string(c.stride) + ", padding " + std::to_string(c.pad) + (c.bias ? "" : ", no bias") +
           (c.stats ? ", statistics" : "") + ", target " + fast::simd_target();
}

// Two cases for every kernel, stride and padding (0 or "same" = K/2): channel pairs
// taken in turn from a list that crosses the 16-channel blocks, odd sizes, batches of
// 1 to 3; the first case without statistics, the second with.
std::vector<ConvCase> conv_sweep() {
    const int channels[] = {1, 2, 3, 5, 8, 15, 16, 17, 31, 33, 64, 65, 130};
    const int n = sizeof(channels) / sizeof(channels[0]);
    std::vector<ConvCase> cases;
    int i = 0;
    for (int K : {1, 3, 5, 7})
        for (int stride : {1, 2})
            for (bool same : {false, true})
                for (bool stats : {false, true}) {
                    const int C = channels[(5 * i) % n], OC = channels[(7 * i + 3) % n];
                    // Odd sizes, small for wide layers (the plane is no test of the channel loop).
                    const int big = C * OC > 2000 ? 0 : 4;
                    const int H = K + 2 + (2 * i) % 6 + big, W = K + (4 * i + 2) % 8 + big + (K % 2 == 0);
                    // No bias for one channel: the softmax loss does not move when every logit
                    // moves by the same bias, so its gradient is 0 up to rounding.
                    const bool bias = i % 4 != 1 && OC > 1;
                    cases.push_back({1 + i % 3, C, H | 1, W | 1, OC, K, stride, same ? K / 2 : 0, bias, stats});
                    ++i;
                }
    return cases;
}

void check_conv(const ConvCase& c) {
    Parameter w("w", Shape{c.OC, c.C, c.K, c.K}), b("b", Shape{c.OC});
    const unsigned seed = (unsigned)(c.C * 131 + c.OC * 7 + c.K);
    w.value = random_tensor(w.value.shape(), seed, -0.5f, 0.5f);
    b.value = random_tensor(b.value.shape(), seed + 1);
    const std::vector<Parameter*> params = c.bias ? std::vector<Parameter*>{&w, &b} : std::vector<Parameter*>{&w};
    const Tensor x = random_tensor(Shape{c.N, c.C, c.H, c.W}, seed + 2);
    compare_floors("conv2d " + describe(c), [&](Tape& t, const std::vector<Var>& in) {
        return conv2d(t, in[0], w, c.bias ? &b : nullptr, c.stride, c.pad);
    }, {x}, params, c.stats, conv_floor_tolerance({c.N, c.C, c.H, c.W, c.OC, c.K, c.K, c.stride, c.pad}));
}

}  // namespace

TEST_CASE("fast floor sweep: conv2d at every target against the reference floor (values, gradients, statistics)") {
    const std::vector<ConvCase> cases = conv_sweep();
    CHECK(cases.size() == 32);
    at_every_target([&] {
        for (const ConvCase& c : cases) check_conv(c);
        // The models' and users' shapes, and the corners: 1x1 image, padding wider than
        // the kernel, batch 1 with 130 channels both sides.
        check_conv({2, 16, 14, 14, 32, 5, 1, 2, true, true});
        check_conv({2, 32, 14, 14, 64, 5, 1, 2, true, true});
        check_conv({2, 64, 7, 7, 128, 3, 1, 1, true, true});
        check_conv({2, 32, 14, 14, 64, 3, 2, 1, true, false});
        check_conv({2, 3, 1, 1, 5, 1, 1, 0, true, true});
        check_conv({2, 3, 5, 5, 4, 3, 1, 4, false, true});
        check_conv({1, 130, 5, 7, 130, 3, 2, 1, true, true});
    });
}

TEST_CASE("fast floor sweep: conv2d_relu_max_pool2d at every target against the reference floor") {
    struct Case {
        int N, C, H, OC, K, pad, pool_k, pool_s;
        bool stats;
    };
    // Pooling windows 2/2 (the models'), 3/2 (overlapping) and 3/3; odd conv outputs,
    // where the last row and column of the plane belong to no window.
    const Case cases[] = {
        {3, 1, 28, 16, 5, 2, 2, 2, true},  {2, 16, 14, 32, 5, 2, 2, 2, true}, {2, 3, 11, 17, 3, 1, 2, 2, false},
        {1, 33, 9, 5, 3, 0, 2, 2, true},   {2, 2, 13, 40, 5, 2, 3, 2, true},  {2, 7, 10, 9, 1, 0, 3, 3, true},
        {2, 65, 7, 20, 7, 3, 2, 2, true},
    };
    at_every_target([&] {
        for (const Case& c : cases) {
            Parameter w("w", Shape{c.OC, c.C, c.K, c.K}), b("b", Shape{c.OC});
            w.value = random_tensor(w.value.shape(), 71, -0.5f, 0.5f);
            b.value = random_tensor(b.value.shape(), 72, -1.0f, 0.3f);  // some windows with no positive value
            const Tensor x = random_tensor(Shape{c.N, c.C, c.H, c.H}, 73);
            const std::string what = "conv " + std::to_string(c.C) + "->" + std::to_string(c.OC) + " k" +
                                     std::to_string(c.K) + " on " + std::to_string(c.H) + "x" + std::to_string(c.H) +
                                     ", pool " + std::to_string(c.pool_k) + "/" + std::to_string(c.pool_s) +
                                     (c.stats ? ", statistics" : "") + ", target " + fast::simd_target();
            compare_floors(what, [&](Tape& t, const std::vector<Var>& in) {
                return conv2d_relu_max_pool2d(t, in[0], w, &b, 1, c.pad, c.pool_k, c.pool_s);
            }, {x}, {&w, &b}, c.stats, conv_floor_tolerance({c.N, c.C, c.H, c.H, c.OC, c.K, c.K, 1, c.pad}));
        }
    });
}

TEST_CASE("fast floor sweep: max pooling and linear's statistics at every target against the reference floor") {
    at_every_target([] {
        for (const Shape& s : {Shape{2, 3, 9, 33}, Shape{1, 5, 14, 14}, Shape{2, 2, 7, 16}})
            for (int k : {2, 3})
                for (int stride : {1, 2}) {
                    const std::string what = s.str() + " k" + std::to_string(k) + " s" + std::to_string(stride) +
                                             ", target " + fast::simd_target();
                    const Tensor x = random_tensor(s, 81);
                    compare_floors("max_pool2d " + what, [&](Tape& t, const std::vector<Var>& in) {
                        return max_pool2d(t, in[0], k, stride);
                    }, {x}, {}, false, 0.0, true);
                    compare_floors("relu_max_pool2d " + what, [&](Tape& t, const std::vector<Var>& in) {
                        return relu_max_pool2d(t, in[0], k, stride);
                    }, {x}, {}, false, 0.0, true);
                }
        // linear's per-example statistics square the rows of the per-example gradients
        // with the fast floor's row kernel: widths across the vector lengths.
        for (int in_features : {1, 7, 16, 33, 130}) {
            Parameter w("w", Shape{11, in_features}), b("b", Shape{11});
            w.value = random_tensor(w.value.shape(), 91);
            b.value = random_tensor(b.value.shape(), 92);
            compare_floors("linear " + std::to_string(in_features) + " -> 11, statistics, target " + fast::simd_target(),
                           [&](Tape& t, const std::vector<Var>& in) { return linear(t, in[0], w, &b); },
                           {random_tensor(Shape{5, in_features}, 93)}, {&w, &b}, true);
        }
    });
}
