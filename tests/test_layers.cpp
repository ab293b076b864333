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
    GroupNorm gn(3, 3), gn1(1, 3);
    LayerNorm ln(6), ln_image(Shape{3, 7, 7});
    for (Module* m : std::initializer_list<Module*>{&gn, &gn1, &ln, &ln_image}) {  // away from gamma 1, beta 0
        m->parameters()[0]->value = random_tensor(m->parameters()[0]->value.shape(), 7, 0.5f, 1.5f);
        m->parameters()[1]->value = random_tensor(m->parameters()[1]->value.shape(), 8);
    }
    for (Module* m : std::initializer_list<Module*>{&linear, &linear_nobias, &relu_layer, &leaky, &tanh_layer,
                                                    &sigmoid_layer, &bn1, &ln})
        check_layer(*m, flat);
    for (Module* m : std::initializer_list<Module*>{&conv, &conv_same, &flatten_layer, &bn2, &gn, &gn1, &ln_image})
        check_layer(*m, image);
    bn1.eval();
    bn2.eval();
    check_layer(bn1, flat);
    check_layer(bn2, image);
    drop.eval();  // in training the mask changes with every call; the op's own test fixes it
    check_layer(drop, flat);
}

TEST_CASE("layers: GroupNorm and LayerNorm start as the identity affine map, check their arguments") {
    GroupNorm gn(2, 4);
    LayerNorm ln({4, 3, 3});
    CHECK(gn.describe() == "GroupNorm(2 groups, 4 channels)");
    CHECK(ln.describe() == "LayerNorm((4, 3, 3))");
    CHECK(gn.parameters()[0]->name == "weight");
    CHECK(gn.parameters()[0]->value.vec() == std::vector<float>(4, 1.0f));
    CHECK(ln.parameters()[1]->value.vec() == std::vector<float>(36, 0.0f));
    CHECK_THROWS_WITH_AS(GroupNorm(3, 4), "GroupNorm: 3 groups must divide the 4 channels", std::invalid_argument);
    Tape t;
    const Tensor x = random_tensor(Shape{2, 4, 3, 3}, 9);
    const Tensor y = t.value(run(gn, t, x));
    double mean = 0.0;  // example 0, group 0 (channels 0 and 1): mean 0 after normalising
    for (int i = 0; i < 18; ++i) mean += y[i];
    CHECK(std::fabs(mean) < 1e-5);
    CHECK(t.shape(run(ln, t, x)) == x.shape());
    CHECK_THROWS_WITH_AS(run(ln, t, random_tensor(Shape{2, 4, 2, 2}, 1)),
                         "layer_norm: gamma 'weight' has shape (4, 3, 3) but input (2, 4, 2, 2) needs (4, 2, 2)",
                         std::invalid_argument);
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

TEST_CASE("Sequential is a plain list: every layer's forward runs, ReLU included") {
    std::mt19937 rng(3);
    Sequential m;
    m.add<Conv2d>(2, 8, 3, 1, 1, rng);
    m.add<ReLU>();
    m.add<MaxPool2d>(2);
    m.add<Flatten>();
    Tape t;
    run(m, t, random_tensor(Shape{3, 2, 6, 6}, 5));
    REQUIRE(t.size() == 5);  // the input and one node per layer
    CHECK(std::string(t.node(1).op) == "conv2d");
    CHECK(std::string(t.node(2).op) == "relu");
    CHECK(std::string(t.node(3).op) == "max_pool2d");
}

namespace {

// conv (8 or 4 channels), ReLU, pool, conv, batch norm, ReLU, pool, flatten, linear.
std::unique_ptr<Sequential> fusable_model(int channels) {
    std::mt19937 rng(3);
    auto m = std::make_unique<Sequential>();
    m->add<Conv2d>(2, channels, 3, 1, 1, rng);
    m->add<ReLU>();
    m->add<MaxPool2d>(2);
    m->add<Conv2d>(channels, 8, 3, 1, 1, rng, false);
    m->add<BatchNorm2d>(8);
    m->add<ReLU>();
    m->add<MaxPool2d>(2);
    m->add<Flatten>();
    m->add<Linear>(8 * 2 * 2, 3, rng);
    return m;
}

struct Outcome {
    Tensor y;
    std::vector<Tensor> grads;
    int nodes;
};

Outcome train_step(Module& m, const Tensor& x) {
    for (Parameter* p : m.parameters()) p->zero_grad();
    Tape t;
    Var y = run(m, t, x);
    t.backward(softmax_cross_entropy(t, y, {0, 1, 2}));
    Outcome o{t.value(y), {}, t.size()};
    for (Parameter* p : m.parameters()) o.grads.push_back(p->grad);
    return o;
}

bool same(const Tensor& a, const Tensor& b) {
    return a.shape() == b.shape() && std::equal(a.data(), a.data() + a.size(), b.data());
}

}  // namespace

TEST_CASE("fuse: Conv2d, ReLU, MaxPool2d and ReLU, MaxPool2d as one op each, the same numbers and names") {
    for (int channels : {8, 4}) {  // 4: no fused kernel, the op records the two ops instead
        INFO(channels << " channels");
        auto plain = fusable_model(channels), fused = fusable_model(channels);
        CHECK(fuse(*fused) == 2);
        CHECK(fused->size() == plain->size() - 3);
        CHECK(fused->describe().find("ConvReluMaxPool(Conv2d(2, " + std::to_string(channels)) != std::string::npos);
        CHECK(fused->describe().find("ReluMaxPool(ReLU, MaxPool2d(kernel 2, stride 2))") != std::string::npos);
        const ParameterList pp = plain->parameters(), pf = fused->parameters();
        REQUIRE(pp.size() == pf.size());
        for (size_t i = 0; i < pp.size(); ++i) CHECK(pp[i]->name == pf[i]->name);
        CHECK(pf[0]->name == "0.weight");
        CHECK(fused->buffers()[0]->name == "4.running_mean");
        const Tensor x = random_tensor(Shape{3, 2, 8, 8}, 5);
        const Outcome a = train_step(*plain, x), b = train_step(*fused, x);
        CHECK(same(a.y, b.y));
        for (size_t i = 0; i < a.grads.size(); ++i) CHECK(same(a.grads[i], b.grads[i]));
        CHECK(b.nodes < a.nodes);
        fused->eval();
        auto* crp = dynamic_cast<ConvReluMaxPool*>(&(*fused)[0]);
        REQUIRE(crp != nullptr);
        CHECK_FALSE(crp->conv().training());
    }
    auto m = fusable_model(8);
    fuse(*m);
    std::mt19937 rng(1);
    m->add<Linear>(3, 3, rng);  // after fusing: the next index, not the shorter size
    CHECK(m->parameters().back()->name == "9.bias");
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
