// The fast paths of core/ against their naive references, on the shapes the
// training models use and on awkward ones (row tails, odd sizes, ties, NaN).
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

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

void check_max_pool(const Shape& s, int kernel, int stride, const Tensor& x) {
    INFO("input " << s.str() << " kernel " << kernel << " stride " << stride);
    Tape t;
    Var y = max_pool2d(t, t.input(x), kernel, stride);
    const Tensor& fast = t.value(y);
    const int planes = s[0] * s[1];
    std::vector<float> ref(fast.size());
    std::vector<int> ref_arg(fast.size());
    max_pool2d_forward_naive(ref.data(), ref_arg.data(), x.data(), planes, s[2], s[3], kernel, stride);
    const std::vector<int>& arg = t.node(y).ints;
    bool same = true;
    for (size_t i = 0; i < ref.size(); ++i) {
        const bool both_nan = std::isnan(ref[i]) && std::isnan(fast[i]);
        same = same && (both_nan || ref[i] == fast[i]) && ref_arg[i] == arg[i];
    }
    CHECK(same);
}

}  // namespace

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
