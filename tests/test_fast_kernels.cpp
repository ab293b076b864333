// The fast paths of core/ against their naive references, on the shapes the
// training models use and on awkward ones (row tails, odd sizes, ties, NaN).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "core/fast/pool.h"
#include "core/ops_nn.h"
#include "tests/gradcheck.h"

using namespace dl;
using dl::testing::random_tensor;

namespace {

// Few distinct values, so windows often hold ties (the first maximum must win).
Tensor tied_tensor(const Shape& s, unsigned seed) {
    Tensor t = random_tensor(s, seed, 0.0f, 4.0f);
    for (size_t i = 0; i < t.size(); ++i) t[i] = std::floor(t[i]);
    return t;
}

// conv2d (forward and backward, through the op) against the naive direct kernels.
void check_conv(int N, int C, int H, int W, int OC, int K, int stride, int padding, bool bias) {
    INFO("conv2d x (" << N << "," << C << "," << H << "," << W << "), " << OC << " channels, kernel " << K
                      << ", stride " << stride << ", padding " << padding << (bias ? "" : ", no bias"));
    const Tensor x = random_tensor(Shape{N, C, H, W}, 5);
    Parameter w("w", Shape{OC, C, K, K}), b("b", Shape{OC});
    w.value = random_tensor(w.value.shape(), 6);
    b.value = random_tensor(b.value.shape(), 7);
    Tape t;
    Var xv = t.input(x, true);
    Var y = conv2d(t, xv, w, bias ? &b : nullptr, stride, padding);
    const Tensor dy = random_tensor(t.shape(y), 8);
    t.backward(sum(t, mul(t, y, t.input(dy))));
    Tensor y_ref(t.shape(y)), dx(x.shape()), dw(w.value.shape()), db(b.value.shape());
    conv2d_forward_naive(y_ref.data(), x.data(), w.value.data(), bias ? b.value.data() : nullptr, N, C, H, W, OC, K,
                         K, stride, padding);
    conv2d_backward_naive(dx.data(), dw.data(), bias ? db.data() : nullptr, dy.data(), x.data(), w.value.data(), N,
                          C, H, W, OC, K, K, stride, padding);
    auto max_err = [](const Tensor& a, const Tensor& ref) {
        float e = 0.0f;
        for (size_t i = 0; i < ref.size(); ++i) e = std::max(e, std::fabs(a[i] - ref[i]) / (1.0f + std::fabs(ref[i])));
        return e;
    };
    CHECK(max_err(t.value(y), y_ref) < 1e-4f);
    CHECK(max_err(t.grad(xv), dx) < 1e-4f);
    CHECK(max_err(w.grad, dw) < 1e-4f);
    if (bias) CHECK(max_err(b.grad, db) < 1e-4f);
}

void check_max_pool(const Shape& s, int kernel, int stride, const Tensor& x) {
    INFO("input " << s.str() << " kernel " << kernel << " stride " << stride);
    const int planes = s[0] * s[1];
    const PoolGeom g = pool_geom(planes, s[2], s[3], kernel, stride);
    std::vector<float> fast((size_t)planes * g.OH * g.OW), ref(fast.size());
    std::vector<int> arg(fast.size()), ref_arg(fast.size());
    REQUIRE(fast::max_pool2d_forward(fast.data(), arg.data(), x.data(), g, false));
    max_pool2d_forward_naive(ref.data(), ref_arg.data(), x.data(), planes, s[2], s[3], kernel, stride);
    bool same = true;
    for (size_t i = 0; i < ref.size(); ++i) {
        const bool both_nan = std::isnan(ref[i]) && std::isnan(fast[i]);
        same = same && (both_nan || ref[i] == fast[i]) && ref_arg[i] == arg[i];
    }
    CHECK(same);
}

}  // namespace

TEST_CASE("conv2d: single-channel direct kernel and stride-1 row copies against the naive kernels") {
    check_conv(3, 1, 28, 28, 16, 5, 1, 2, true);   // cnn's first layer (direct kernel)
    check_conv(2, 1, 33, 20, 8, 3, 1, 1, false);   // row tails of 16 + 4 and 1 + 16 + 16
    check_conv(2, 1, 9, 40, 24, 5, 1, 0, true);    // 36 columns, three channel blocks
    check_conv(2, 1, 12, 12, 6, 3, 1, 1, true);    // 6 channels: the im2col path
    check_conv(2, 16, 14, 14, 32, 5, 1, 2, true);  // cnn's second layer (direct forward and dx)
    check_conv(2, 16, 10, 10, 8, 3, 1, 1, true);   // direct dx with fewer output than input channels
    check_conv(2, 10, 7, 9, 32, 3, 1, 1, true);    // direct dW: K = 90, 32 channels, rows of 9
    check_conv(2, 1, 12, 12, 32, 3, 1, 1, true);   // direct dW with K = 9 < 32 channels (cnn-bn's first layer)
    check_conv(2, 4, 9, 11, 64, 3, 1, 1, false);   // direct dW for 64 channels (cnn-bn's second layer)
    check_conv(2, 8, 9, 7, 16, 3, 1, 0, false);    // no padding: dy padded by 2 for dx
    check_conv(2, 2, 11, 13, 16, 5, 1, 2, true);   // direct dW for 16 channels; dy's transpose ends in 15 positions
    check_conv(2, 3, 17, 33, 4, 3, 1, 1, true);    // rows of 33: 16 + 16 + 1
    check_conv(2, 2, 16, 16, 3, 3, 2, 1, true);    // stride 2: the plain loops
}

namespace {

// x (2,C,H,H) feeds two convolutions (OC1 and OC2 channels, k x k, padding k/2): the
// second input gradient adds to the first.
void check_two_consumers(int C, int H, int OC1, int OC2, int k) {
    INFO("C " << C << " H " << H << " OC " << OC1 << " and " << OC2 << " kernel " << k);
    const Tensor x = random_tensor(Shape{2, C, H, H}, 11);
    Parameter w1("w1", Shape{OC1, C, k, k}), w2("w2", Shape{OC2, C, k, k});
    w1.value = random_tensor(w1.value.shape(), 12);
    w2.value = random_tensor(w2.value.shape(), 13);
    Tape t;
    Var xv = t.input(x, true);
    Var y1 = conv2d(t, xv, w1, nullptr, 1, k / 2), y2 = conv2d(t, xv, w2, nullptr, 1, k / 2);
    const Tensor d1 = random_tensor(t.shape(y1), 14), d2 = random_tensor(t.shape(y2), 15);
    t.backward(add(t, sum(t, mul(t, y1, t.input(d1))), sum(t, mul(t, y2, t.input(d2)))));
    Tensor dx(x.shape()), dw1(w1.value.shape()), dw2(w2.value.shape());
    conv2d_backward_naive(dx.data(), dw1.data(), nullptr, d1.data(), x.data(), w1.value.data(), 2, C, H, H, OC1, k, k,
                          1, k / 2);
    conv2d_backward_naive(dx.data(), dw2.data(), nullptr, d2.data(), x.data(), w2.value.data(), 2, C, H, H, OC2, k, k,
                          1, k / 2);
    float err = 0.0f;
    for (size_t i = 0; i < dx.size(); ++i) err = std::max(err, std::fabs(t.grad(xv)[i] - dx[i]) / (1.0f + std::fabs(dx[i])));
    CHECK(err < 1e-4f);
}

}  // namespace

TEST_CASE("conv2d: the input gradient adds up when one input feeds two convolutions") {
    check_two_consumers(8, 9, 8, 16, 3);
    check_two_consumers(16, 14, 32, 16, 5);  // cnn's second layer: the direct input gradient, adding
}

TEST_CASE("max_pool2d: the 2x2 stride-2 kernel gives the reference's values and argmax, ties included") {
    const Shape shapes[] = {{2, 3, 28, 28}, {2, 3, 14, 14}, {1, 2, 5, 7}, {1, 1, 2, 2}, {1, 2, 33, 34},
                            {1, 1, 64, 65}, {3, 1, 9, 31}};
    for (const Shape& s : shapes) {
        check_max_pool(s, 2, 2, random_tensor(s, 1));
        check_max_pool(s, 2, 2, tied_tensor(s, 2));
    }
    Tensor x = random_tensor(Shape{1, 1, 6, 6}, 3);
    x[0] = x[7] = x[15] = std::numeric_limits<float>::quiet_NaN();  // NaN first in a window, and later
    check_max_pool(x.shape(), 2, 2, x);
    check_max_pool(Shape{2, 3, 28, 28}, 3, 2, random_tensor(Shape{2, 3, 28, 28}, 4));  // the general path
}
