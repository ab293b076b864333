// Core: tensors, the tape, every op's gradient, matmul against a naive loop,
// error messages, and a tiny program that fits y = 3x + 1.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <stdexcept>

#include "core/core.h"
#include "tests/gradcheck.h"

using namespace dl;
using dl::testing::check_gradients;
using dl::testing::random_tensor;

TEST_CASE("tensor: shape, resize keeps capacity, reshape checks size") {
    Tensor t(Shape{2, 3, 4});
    CHECK(t.size() == 24);
    CHECK(t.shape().str() == "(2, 3, 4)");
    const float* before = t.data();
    t.resize(Shape{4, 6});
    CHECK(t.data() == before);
    CHECK_THROWS_WITH_AS(t.reshape(Shape{5, 5}), "reshape: cannot view (4, 6) as (5, 5) (24 vs 25 elements)",
                         std::invalid_argument);
    CHECK_THROWS_WITH_AS(Shape({1, 2, 3, 4, 5}), "Shape: rank 5 is not supported (at most 4 dimensions)",
                         std::invalid_argument);
}

TEST_CASE("gradcheck: elementwise ops") {
    Tensor a = random_tensor(Shape{3, 4}, 1), b = random_tensor(Shape{3, 4}, 2);
    check_gradients("add", [](Tape& t, const std::vector<Var>& v) { return add(t, v[0], v[1]); }, {a, b});
    check_gradients("sub", [](Tape& t, const std::vector<Var>& v) { return sub(t, v[0], v[1]); }, {a, b});
    check_gradients("mul", [](Tape& t, const std::vector<Var>& v) { return mul(t, v[0], v[1]); }, {a, b});
    check_gradients("mul scalar", [](Tape& t, const std::vector<Var>& v) { return mul(t, v[0], -2.5f); }, {a});
    check_gradients("add scalar", [](Tape& t, const std::vector<Var>& v) { return add(t, v[0], 0.7f); }, {a});
    check_gradients("relu", [](Tape& t, const std::vector<Var>& v) { return relu(t, v[0]); }, {a});
    check_gradients("leaky_relu", [](Tape& t, const std::vector<Var>& v) { return leaky_relu(t, v[0], 0.1f); }, {a});
    check_gradients("tanh", [](Tape& t, const std::vector<Var>& v) { return dl::tanh(t, v[0]); }, {a});
    check_gradients("sigmoid", [](Tape& t, const std::vector<Var>& v) { return sigmoid(t, v[0]); }, {a});
    check_gradients("exp", [](Tape& t, const std::vector<Var>& v) { return dl::exp(t, v[0]); }, {a});
    Tensor pos = random_tensor(Shape{3, 4}, 3, 0.5f, 2.0f);
    check_gradients("log", [](Tape& t, const std::vector<Var>& v) { return dl::log(t, v[0]); }, {pos});
}

TEST_CASE("gradcheck: reductions, reshapes, bias, matmul, softmax, losses") {
    Tensor a = random_tensor(Shape{4, 5}, 4), w = random_tensor(Shape{5, 3}, 5), bias = random_tensor(Shape{5}, 6);
    check_gradients("sum", [](Tape& t, const std::vector<Var>& v) { return sum(t, v[0]); }, {a});
    check_gradients("mean", [](Tape& t, const std::vector<Var>& v) { return mean(t, v[0]); }, {a});
    check_gradients("reshape", [](Tape& t, const std::vector<Var>& v) { return reshape(t, v[0], Shape{2, 10}); }, {a});
    check_gradients("flatten", [](Tape& t, const std::vector<Var>& v) { return flatten(t, v[0]); },
                    {random_tensor(Shape{2, 3, 2, 2}, 7)});
    check_gradients("add_bias", [](Tape& t, const std::vector<Var>& v) { return add_bias(t, v[0], v[1]); }, {a, bias});
    check_gradients("matmul", [](Tape& t, const std::vector<Var>& v) { return matmul(t, v[0], v[1]); }, {a, w});
    check_gradients("log_softmax", [](Tape& t, const std::vector<Var>& v) { return log_softmax(t, v[0]); }, {a});
    const std::vector<int> labels{0, 4, 2, 1};
    for (Reduction r : {Reduction::Mean, Reduction::Sum}) {
        check_gradients("cross_entropy",
                        [&](Tape& t, const std::vector<Var>& v) { return softmax_cross_entropy(t, v[0], labels, r); }, {a});
        check_gradients("mse", [&](Tape& t, const std::vector<Var>& v) { return mse_loss(t, v[0], v[1], r); },
                        {a, random_tensor(Shape{4, 5}, 8)});
    }
}

TEST_CASE("gradcheck: linear, inputs and parameters") {
    Parameter W("W", Shape{3, 5}), b("b", Shape{3});
    W.value = random_tensor(Shape{3, 5}, 9);
    b.value = random_tensor(Shape{3}, 10);
    check_gradients("linear", [&](Tape& t, const std::vector<Var>& v) { return linear(t, v[0], W, &b); },
                    {random_tensor(Shape{4, 5}, 11)}, {&W, &b});
    check_gradients("linear without bias", [&](Tape& t, const std::vector<Var>& v) { return linear(t, v[0], W, nullptr); },
                    {random_tensor(Shape{2, 5}, 12)}, {&W});
}

TEST_CASE("sgemm matches the naive triple loop in every transpose case") {
    const int M = 7, N = 5, K = 9;
    for (bool ta : {false, true})
        for (bool tb : {false, true}) {
            Tensor A = random_tensor(ta ? Shape{K, M} : Shape{M, K}, 20);
            Tensor B = random_tensor(tb ? Shape{N, K} : Shape{K, N}, 21);
            Tensor C1 = random_tensor(Shape{M, N}, 22), C2 = C1;
            const int lda = ta ? M : K, ldb = tb ? K : N;
            sgemm(ta, tb, M, N, K, 0.5f, A.data(), lda, B.data(), ldb, 2.0f, C1.data(), N);
            sgemm_naive(ta, tb, M, N, K, 0.5f, A.data(), lda, B.data(), ldb, 2.0f, C2.data(), N);
            for (size_t i = 0; i < C1.size(); ++i) CHECK(C1[i] == doctest::Approx(C2[i]).epsilon(1e-5));
        }
}

TEST_CASE("error messages name the op and the shapes") {
    Tape t;
    Var a = t.input(Tensor(Shape{2, 3}), true);
    Var b = t.input(Tensor(Shape{3, 2}), true);
    CHECK_THROWS_WITH_AS(add(t, a, b), "add: shapes (2, 3) and (3, 2) differ", std::invalid_argument);
    CHECK_THROWS_WITH_AS(mul(t, a, b), "mul: shapes (2, 3) and (3, 2) differ", std::invalid_argument);
    CHECK_THROWS_WITH_AS(matmul(t, a, a), "matmul: shapes (2, 3) and (2, 3) do not fit; expected (M, K) and (K, N)",
                         std::invalid_argument);
    Parameter W("fc.weight", Shape{4, 784});
    Var x = t.input(Tensor(Shape{8, 783}));
    CHECK_THROWS_WITH_AS(linear(t, x, W, nullptr),
                         "linear: input (8, 783) has 783 features, weight 'fc.weight' (4, 784) expects 784",
                         std::invalid_argument);
    CHECK_THROWS_WITH_AS(softmax_cross_entropy(t, a, {0, 3}),
                         "softmax_cross_entropy: label 3 at index 1 is outside [0, 3)", std::invalid_argument);
    CHECK_THROWS_WITH_AS(softmax_cross_entropy(t, a, {0}),
                         "softmax_cross_entropy: 1 labels for 2 rows of logits (2, 3)", std::invalid_argument);
    CHECK_THROWS_WITH_AS(t.backward(a), "backward: the loss must be a scalar, got shape (2, 3) from op 'input'",
                         std::invalid_argument);
    CHECK_THROWS_WITH_AS(t.backward(Var{999}), doctest::Contains("variable 999 is not on this tape"),
                         std::invalid_argument);
}

namespace {

struct ProbeSaved {  // a saved state for the test op below
    int calls = 0;
    std::vector<float> buffer;
};
struct OtherSaved {
    float x = 0.0f;
};

}  // namespace

TEST_CASE("tape: typed saved state is kept across reset; record checks its inputs") {
    Tape t;
    const float* buffer = nullptr;
    for (int step = 0; step < 3; ++step) {
        t.reset();
        Var x = t.input(Tensor(Shape{2}, 1.0f));
        Node& n = t.record("probe", Shape{2}, {x}, nullptr);
        ProbeSaved& s = n.save<ProbeSaved>();
        CHECK(s.calls == step);  // the state of the last step, as it was
        ++s.calls;
        s.buffer.resize(100);
        if (step == 0) buffer = s.buffer.data();
        CHECK(s.buffer.data() == buffer);  // its buffer too: no new allocation
        CHECK(&n.saved<ProbeSaved>() == &s);
        CHECK_THROWS_AS(n.saved<OtherSaved>(), std::logic_error);
    }
    t.reset();
    Var x = t.input(Tensor(Shape{2}, 1.0f));
    Node& n = t.record("other", Shape{2}, {x}, nullptr);
    CHECK(n.save<OtherSaved>().x == 0.0f);  // another op at that position: a fresh state
    CHECK_THROWS_AS(n.saved<ProbeSaved>(), std::logic_error);
    CHECK_THROWS_WITH_AS(t.record("four", Shape{2}, {x, x, x, x}, nullptr),
                         "tape: op 'four' has 4 inputs; a node holds at most 3", std::invalid_argument);
}

TEST_CASE("a NaN in a loss names the op that produced it") {
    Tape t;
    Tensor x(Shape{2, 2}, 1.0f);
    x[1] = -1.0f;  // log(-1) = NaN
    Var l = dl::log(t, t.input(x, true));
    CHECK_THROWS_WITH_AS(mse_loss(t, l, t.input(Tensor(Shape{2, 2}))),
                         doctest::Contains("first produced by op 'log'"), std::runtime_error);
    Tape t2;
    Tensor huge(Shape{1, 2}, 3e38f);
    Var y = mul(t2, t2.input(huge, true), 10.0f);  // overflows to inf
    CHECK_THROWS_WITH_AS(mse_loss(t2, y, t2.input(Tensor(Shape{1, 2}))),
                         doctest::Contains("op 'mul_scalar'"), std::runtime_error);
}

TEST_CASE("inference mode records no backward; backward refuses a graph without gradients") {
    Tape t;
    Parameter W("W", Shape{2, 2});
    {
        NoGrad ng(t);
        Var y = linear(t, t.input(Tensor(Shape{1, 2}, 1.0f)), W, nullptr);
        CHECK_FALSE(t.node(y).needs_grad);
        CHECK_THROWS_WITH_AS(t.backward(sum(t, y)), doctest::Contains("nothing to differentiate"),
                             std::invalid_argument);
    }
    CHECK(t.grad_enabled());
}

TEST_CASE("reset reuses buffers: the second step allocates no new tensor storage") {
    Tape t;
    Parameter W("W", Shape{3, 4});
    W.value = random_tensor(Shape{3, 4}, 30);
    Tensor x = random_tensor(Shape{5, 4}, 31);
    const float* first = nullptr;
    for (int step = 0; step < 3; ++step) {
        t.reset();
        Var y = relu(t, linear(t, t.input(x), W, nullptr));
        if (step == 0) first = t.value(y).data();
        CHECK(t.value(y).data() == first);
        t.backward(softmax_cross_entropy(t, y, {0, 1, 2, 0, 1}));
    }
}

TEST_CASE("linear statistics equal a brute-force loop over examples") {
    const int B = 5, in = 4, out = 3;
    Parameter W("W", Shape{out, in}), b("b", Shape{out});
    W.value = random_tensor(W.value.shape(), 40);
    b.value = random_tensor(b.value.shape(), 41);
    Tensor x = random_tensor(Shape{B, in}, 42);
    const std::vector<int> labels{0, 2, 1, 1, 0};
    Tape t;
    t.set_statistics(true);
    W.zero_grad();
    b.zero_grad();
    t.backward(softmax_cross_entropy(t, linear(t, t.input(x), W, &b), labels));
    const Tensor grad = W.grad, grad_sq = W.grad_sq, bsq = b.grad_sq;
    const std::vector<float> norms = t.per_example_grad_norms();
    CHECK(W.stats_batch == B);
    // Brute force: B separate backward passes with batch size 1.
    Tensor sum_g(W.value.shape()), sum_g2(W.value.shape()), sum_b2(b.value.shape());
    for (int e = 0; e < B; ++e) {
        Tape one;
        Tensor xe(Shape{1, in}, std::vector<float>(x.data() + e * in, x.data() + (e + 1) * in));
        W.zero_grad();
        b.zero_grad();
        one.backward(softmax_cross_entropy(one, linear(one, one.input(xe), W, &b), {labels[e]}));
        double sq = 0.0;
        for (size_t i = 0; i < W.grad.size(); ++i) {
            sum_g[i] += W.grad[i] / B;
            sum_g2[i] += W.grad[i] * W.grad[i] / B;
            sq += W.grad[i] * W.grad[i];
        }
        for (size_t i = 0; i < b.grad.size(); ++i) {
            sum_b2[i] += b.grad[i] * b.grad[i] / B;
            sq += b.grad[i] * b.grad[i];
        }
        CHECK(norms[e] == doctest::Approx(std::sqrt(sq)).epsilon(1e-4));
    }
    for (size_t i = 0; i < grad.size(); ++i) {
        CHECK(grad[i] == doctest::Approx(sum_g[i]).epsilon(1e-4));
        CHECK(grad_sq[i] == doctest::Approx(sum_g2[i]).epsilon(1e-4));
    }
    for (size_t i = 0; i < bsq.size(); ++i) CHECK(bsq[i] == doctest::Approx(sum_b2[i]).epsilon(1e-4));
}

TEST_CASE("statistics errors: non-per-example loss, generic op on a parameter, shared parameter") {
    Parameter W("W", Shape{2, 3});
    Tensor x = random_tensor(Shape{4, 3}, 50);
    Tape t;
    t.set_statistics(true);
    Var y = linear(t, t.input(x), W, nullptr);
    CHECK_THROWS_WITH_AS(t.backward(sum(t, y)), doctest::Contains("must start from a per-example loss"),
                         std::invalid_argument);
    t.reset();
}

TEST_CASE("statistics errors: a parameter in a generic op, a parameter used twice") {
    Parameter W("W", Shape{3, 3});
    W.value = random_tensor(W.value.shape(), 51);
    Tensor x = random_tensor(Shape{4, 3}, 52);
    const std::vector<int> labels{0, 1, 2, 0};
    Tape t;
    t.set_statistics(true);
    Var y = matmul(t, t.input(x), t.param(W));
    CHECK_THROWS_WITH_AS(t.backward(softmax_cross_entropy(t, y, labels)),
                         "statistics: parameter 'W' is used by a generic op; per-example statistics are "
                         "computed only by linear and conv2d",
                         std::invalid_argument);
    t.reset();
    Var h = linear(t, linear(t, t.input(x), W, nullptr), W, nullptr);
    CHECK_THROWS_WITH_AS(t.backward(softmax_cross_entropy(t, h, labels)),
                         doctest::Contains("parameter 'W' is used by two ops"), std::invalid_argument);
}

// A whole training program in ten lines: fit y = 3x + 1 by gradient descent with core/ only.
TEST_CASE("a 10-line program fits y = 3x + 1") {
    Parameter w("w", Shape{1, 1}), b("b", Shape{1});
    Tensor x(Shape{16, 1}), y(Shape{16, 1});
    for (int i = 0; i < 16; ++i) { x[i] = i / 8.0f - 1.0f; y[i] = 3.0f * x[i] + 1.0f; }
    Tape tape;
    for (int step = 0; step < 300; ++step) {
        tape.reset();
        w.zero_grad(); b.zero_grad();
        tape.backward(mse_loss(tape, linear(tape, tape.input(x), w, &b), tape.input(y)));
        w.value[0] -= 0.1f * w.grad[0];
        b.value[0] -= 0.1f * b.grad[0];
    }
    CHECK(w.value[0] == doctest::Approx(3.0f).epsilon(1e-3));
    CHECK(b.value[0] == doctest::Approx(1.0f).epsilon(1e-3));
}

TEST_CASE("thread count is settable and results do not depend on it for elementwise ops") {
    Tensor big = random_tensor(Shape{256, 512}, 60);
    auto run = [&](int threads) {
        set_num_threads(threads);
        Tape t;
        Var v = t.input(big, true);
        t.backward(mse_loss(t, dl::tanh(t, v), t.input(Tensor(big.shape()))));
        return t.grad(v);
    };
    Tensor g1 = run(1), g2 = run(2);
    CHECK(num_threads() == 2);
    for (size_t i = 0; i < g1.size(); i += 97) CHECK(g1[i] == g2[i]);
    CHECK_THROWS_WITH_AS(set_num_threads(0), "set_num_threads: need at least 1 thread, got 0", std::invalid_argument);
}
