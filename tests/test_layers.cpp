// Layers and model builders: a gradient check for every layer (inputs and
// parameters), naming, train/eval, initialisation and the builders by name.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>

#include "layers/layers.h"
#include "layers/models.h"
#include "tests/gradcheck.h"

using namespace dl;
using dl::testing::check_gradients;
using dl::testing::random_tensor;

namespace {

// Gradient check of one layer on input x, for the input and all its parameters.
void check_layer(Module& layer, const Tensor& x) {
    check_gradients(layer.describe(), [&](Tape& t, const std::vector<Var>& in) { return layer.forward(t, in[0]); },
                    {x}, layer.parameters());
}

Var run(Module& m, Tape& t, const Tensor& x) { return m.forward(t, t.input(x)); }

}  // namespace

TEST_CASE("layers: gradient check of every layer, inputs and parameters") {
    std::mt19937 rng(1);
    const Tensor flat = random_tensor(Shape{3, 6}, 2);
    const Tensor image = random_tensor(Shape{2, 3, 7, 7}, 3);
    Linear linear(6, 4, rng);
    Linear linear_nobias(6, 4, rng, false);
    Conv2d conv(3, 4, 3, 2, 1, rng);
    Conv2d conv_same(3, 2, 5, 1, 2, rng, false);
    ReLU relu_layer;
    LeakyReLU leaky(0.1f);
    Tanh tanh_layer;
    Sigmoid sigmoid_layer;
    Flatten flatten_layer;
    BatchNorm1d bn1(6);
    BatchNorm2d bn2(3);
    Dropout drop(0.3f, 5);
    for (Module* m : std::initializer_list<Module*>{&linear, &linear_nobias, &relu_layer, &leaky, &tanh_layer,
                                                    &sigmoid_layer, &bn1})
        check_layer(*m, flat);
    for (Module* m : std::initializer_list<Module*>{&conv, &conv_same, &flatten_layer, &bn2}) check_layer(*m, image);
    bn1.eval();
    bn2.eval();
    check_layer(bn1, flat);
    check_layer(bn2, image);
    drop.eval();  // in training the mask changes with every call; the op's own test fixes it
    check_layer(drop, flat);
}

TEST_CASE("layers: pooling layers, overlapping windows, default stride = kernel") {
    MaxPool2d pool(2), overlap(3, 1);
    AvgPool2d avg(2), avg_overlap(3, 2);
    Tape t;
    const Tensor x = random_tensor(Shape{1, 2, 6, 6}, 4);
    CHECK(t.shape(run(pool, t, x)) == Shape{1, 2, 3, 3});
    CHECK(t.shape(run(overlap, t, x)) == Shape{1, 2, 4, 4});
    CHECK(t.shape(run(avg_overlap, t, x)) == Shape{1, 2, 2, 2});
    CHECK(pool.describe() == "MaxPool2d(kernel 2, stride 2)");
    check_layer(avg, x);
    check_layer(avg_overlap, x);
}

TEST_CASE("Sequential: names parameters by index, propagates train/eval") {
    std::mt19937 rng(2);
    Sequential m;
    m.add<Linear>(4, 3, rng);
    m.add<ReLU>();
    m.add<BatchNorm1d>(3);
    m.add<Dropout>(0.5f, 1);
    m.add<Linear>(3, 2, rng);
    std::vector<std::string> names;
    for (Parameter* p : m.parameters()) names.push_back(p->name);
    CHECK(names == std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"});
    CHECK(m.buffers().size() == 2);
    CHECK(m.buffers()[0]->name == "2.running_mean");
    CHECK(m.buffers()[1]->name == "2.running_var");
    CHECK(count_parameters(m) == 4 * 3 + 3 + 3 + 3 + 3 * 2 + 2);
    m.eval();
    CHECK_FALSE(m[3].training());
    check_layer(m, random_tensor(Shape{5, 4}, 3));  // in eval: dropout's mask would change per call
    m.train();
    CHECK(m[2].training());
}

namespace {

// Layer by layer against Sequential's fused ops: with 8 output channels Conv2d, ReLU
// and MaxPool2d are one node (conv2d_relu_max_pool2d); with 4 (no direct kernel)
// the ReLU and the pool are (relu_max_pool2d). The same numbers either way.
void check_fused_sequential(int channels, int nodes_saved) {
    INFO(channels << " channels");
    std::mt19937 rng(3);
    Sequential m;
    m.add<Conv2d>(2, channels, 3, 1, 1, rng);
    m.add<ReLU>();
    m.add<MaxPool2d>(2);
    m.add<Flatten>();
    const Tensor x = random_tensor(Shape{3, 2, 6, 6}, 5);
    Tape fused, ref;
    Var yf = run(m, fused, x);
    Var yr = ref.input(x);
    for (size_t i = 0; i < m.size(); ++i) yr = m[i].forward(ref, yr);
    CHECK(fused.size() == ref.size() - nodes_saved);
    const Tensor &a = fused.value(yf), &b = ref.value(yr);
    CHECK(std::equal(a.data(), a.data() + a.size(), b.data()));
    Parameter& w = *m.parameters()[0];
    fused.backward(sum(fused, yf));
    const Tensor grad_fused = w.grad;
    w.zero_grad();
    ref.backward(sum(ref, yr));
    CHECK(std::equal(w.grad.data(), w.grad.data() + w.grad.size(), grad_fused.data()));
}

}  // namespace

TEST_CASE("Sequential: Conv2d, ReLU, MaxPool2d run fused, with the same numbers as layer by layer") {
    check_fused_sequential(8, 2);
    check_fused_sequential(4, 1);
}

TEST_CASE("initialisation: PyTorch's default bounds, the same seed gives the same values") {
    std::mt19937 a(7), b(7), c(8);
    Conv2d ca(4, 8, 3, 1, 1, a), cb(4, 8, 3, 1, 1, b), cc(4, 8, 3, 1, 1, c);
    const float bound = 1.0f / std::sqrt(36.0f);
    float largest = 0.0f;
    for (float v : ca.weight().value.vec()) largest = std::max(largest, std::fabs(v));
    CHECK(largest <= bound);
    CHECK(largest > 0.9f * bound);
    CHECK(ca.weight().value.vec() == cb.weight().value.vec());
    CHECK(ca.bias().value.vec() == cb.bias().value.vec());
    CHECK(ca.weight().value.vec() != cc.weight().value.vec());
}

TEST_CASE("make_model: shapes from the data set, same seed same model") {
    Tape t;
    for (const std::string& name : model_names()) {
        auto m = make_model(name, 1, 28, 28, 10, 3);
        m->eval();
        const Tensor x = random_tensor(Shape{2, 1, 28, 28}, 5);
        CHECK(t.shape(run(*m, t, x)) == Shape{2, 10});
        auto again = make_model(name, 1, 28, 28, 10, 3);
        auto other = make_model(name, 1, 28, 28, 10, 4);
        const ParameterList pa = m->parameters(), pb = again->parameters(), pc = other->parameters();
        REQUIRE(pa.size() == pb.size());
        for (size_t i = 0; i < pa.size(); ++i) {
            CHECK(pa[i]->name == pb[i]->name);
            CHECK(pa[i]->value.vec() == pb[i]->value.vec());
        }
        CHECK(pa[0]->value.vec() != pc[0]->value.vec());
    }
    auto cnn = make_model("cnn", 1, 28, 28, 10, 1);
    CHECK(cnn->parameters()[4]->value.shape() == Shape{128, 1568});
    auto color = make_model("cnn", 3, 32, 32, 5, 1);
    CHECK(t.shape(run(*color, t, random_tensor(Shape{2, 3, 32, 32}, 6))) == Shape{2, 5});
    auto mlp = make_model("mlp", 1, 28, 28, 10, 1);
    CHECK(count_parameters(*mlp) == 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10);
    CHECK_THROWS_WITH_AS(make_model("cnn", 1, 2, 28, 10, 1),
                         "model spec, column 58 (layer 5, 'maxpool 2'): its input (an image of 32x1x14) is smaller "
                         "than the 2x2 window",
                         std::invalid_argument);  // more bad models in tests/test_spec.cpp
}

TEST_CASE("cnn-bn: batch norm in training and eval, dropout only in training") {
    auto m = make_model("cnn-bn", 1, 12, 12, 3, 9);
    const Tensor x = random_tensor(Shape{4, 1, 12, 12}, 10);
    Tape t;
    const Tensor train1 = t.value(run(*m, t, x));
    const Tensor train2 = t.value(run(*m, t, x));
    CHECK(train1.vec() != train2.vec());  // a new dropout mask
    m->eval();
    const Tensor eval1 = t.value(run(*m, t, x));
    const Tensor eval2 = t.value(run(*m, t, x));
    CHECK(eval1.vec() == eval2.vec());
    CHECK(m->buffers().size() == 6);  // running mean and variance of 3 batch norms
    CHECK(m->buffers()[0]->value[0] != 0.0f);  // running mean moved during training
}
