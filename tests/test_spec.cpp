// Model specs (layers/spec.h), named models (layers/models.h) and initialisers
// (layers/init.h): parsing, the bad specs and their messages, the named models
// built exactly as the hand-written builders they replaced, round trips through a
// checkpoint, initialisers, and the newcomer API (add's handle, a Linear that
// learns its input size, "same" padding).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <stdexcept>

#include "layers/checkpoint.h"
#include "layers/layers.h"
#include "layers/models.h"
#include "core/fields.h"
#include "layers/spec.h"
#include "layers/summary.h"
#include "optim/optim.h"
#include "tests/gradcheck.h"
#include "tests/run_program.h"

using namespace dl;
using dl::testing::random_tensor;
using dl::testing::run_program;
using dl::testing::TempDir;

namespace {

Tensor eval_output(Module& m, const Tensor& x) {
    Tape t;
    NoGrad ng(t);
    m.eval();
    return t.value(m.forward(t, t.input(x)));
}

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const std::exception& e) {
        return e.what();
    }
    return "";
}

bool same_parameters(Module& a, Module& b) {
    const ParameterList pa = a.parameters(), pb = b.parameters();
    if (pa.size() != pb.size()) return false;
    for (size_t i = 0; i < pa.size(); ++i)
        if (pa[i]->name != pb[i]->name || pa[i]->value.shape() != pb[i]->value.shape() ||
            pa[i]->value.vec() != pb[i]->value.vec())
            return false;
    return true;
}

// The builders the named specs replaced, as they were written by hand (same calls,
// same order of draws): the specs must give the same models bit for bit, so that
// the seeded runs in README still reproduce.
std::uint64_t seed64(std::mt19937& rng) {
    const std::uint64_t high = rng();
    return high << 32 | rng();
}

std::unique_ptr<Sequential> old_mlp(int c, int h, int w, int classes, std::mt19937& rng) {
    auto m = std::make_unique<Sequential>();
    m->add<Flatten>();
    m->add<Linear>(c * h * w, 256, rng);
    m->add<ReLU>();
    m->add<Linear>(256, 128, rng);
    m->add<ReLU>();
    m->add<Linear>(128, classes, rng);
    return m;
}

std::unique_ptr<Sequential> old_cnn(int c, int h, int w, int classes, std::mt19937& rng) {
    auto m = std::make_unique<Sequential>();
    m->add<Conv2d>(c, 16, 5, 1, 2, rng);
    m->add<ReLU>();
    m->add<MaxPool2d>(2);
    m->add<Conv2d>(16, 32, 5, 1, 2, rng);
    m->add<ReLU>();
    m->add<MaxPool2d>(2);
    m->add<Flatten>();
    m->add<Linear>(32 * (h / 4) * (w / 4), 128, rng);
    m->add<ReLU>();
    m->add<Linear>(128, classes, rng);
    return m;
}

std::unique_ptr<Sequential> old_cnn_bn(int c, int h, int w, int classes, std::mt19937& rng) {
    auto m = std::make_unique<Sequential>();
    m->add<Conv2d>(c, 32, 3, 1, 1, rng, false);
    m->add<BatchNorm2d>(32);
    m->add<ReLU>();
    m->add<MaxPool2d>(2);
    m->add<Conv2d>(32, 64, 3, 1, 1, rng, false);
    m->add<BatchNorm2d>(64);
    m->add<ReLU>();
    m->add<MaxPool2d>(2);
    m->add<Flatten>();
    m->add<Linear>(64 * (h / 4) * (w / 4), 256, rng, false);
    m->add<BatchNorm1d>(256);
    m->add<ReLU>();
    m->add<Dropout>(0.25f, seed64(rng));
    m->add<Linear>(256, classes, rng);
    return m;
}

// Specs of the tests: one of each layer and option, in a dozen models.
const char* const kSpecs[] = {
    "flatten, linear",
    "flatten, linear 32 nobias, tanh, linear",
    "flatten, linear 16, sigmoid, dropout 0.5, linear",
    "flatten, linear 16 weight normal 0.1 bias const -0.5, leakyrelu 0.2, linear weight zeros",
    "conv 4 3, relu, flatten, linear",
    "conv 4 3 stride 2 pad 1, relu, avgpool 3 stride 2, flatten, linear",
    "conv 8 5 pad same nobias, batchnorm, relu, maxpool 2, flatten, linear",
    "conv 4 3 pad 1 weight uniform 0.3 bias zeros, leakyrelu, maxpool 3 stride 1, flatten, batchnorm, linear",
    "init weight truncnormal 0.05 bias const 0.05, conv 8 5 pad same, relu, maxpool 2, flatten, linear 20, relu, "
    "linear",
    "init weight normal 0.02, conv 4 1, relu, init bias zeros, conv 4 3 pad same bias default, flatten, linear",
    "conv 8 3, tanh, conv 8 3 pad 1, sigmoid, maxpool 2 stride 1, flatten, dropout 0.1, linear 12, relu, linear",
    "# a comment\nFLATTEN,  # line breaks are spaces\n  Linear 24, ReLU,\n  linear",
    "conv 8 3 pad same nobias, groupnorm 4, relu, maxpool 2, layernorm, flatten, linear 16, groupnorm 2, relu, linear",
};

}  // namespace

TEST_CASE("spec: every layer and option parses, and prints back to the same model") {
    const Spec s = parse_spec("conv 32 5 stride 2 pad 1 nobias weight truncnormal 0.05, batchnorm, leakyrelu 0.2, "
                              "avgpool 3 stride 2, maxpool 2, dropout 0.25, flatten, linear 10 bias const 0.1, tanh, "
                              "sigmoid, relu, linear");
    REQUIRE(s.layers.size() == 12);
    const SpecLayer& conv = s.layers[0];
    CHECK(conv.kind == "conv");
    CHECK(conv.size == 32);
    CHECK(conv.kernel == 5);
    CHECK(conv.stride == 2);
    CHECK(conv.pad == 1);
    CHECK_FALSE(conv.bias);
    CHECK(conv.weight_init == Init::truncated_normal(0.05f));
    CHECK(conv.where == "column 1");
    CHECK(s.layers[2].value == doctest::Approx(0.2f));
    CHECK(s.layers[3].stride == 2);
    CHECK(s.layers[5].value == doctest::Approx(0.25f));
    CHECK(s.layers[7].bias_init == Init::constant(0.1f));
    CHECK(s.layers[7].weight_init == Init::pytorch_default());
    CHECK(s.layers[7].text == "linear 10 bias const 0.1");
    CHECK(s.layers[11].size == 0);  // the class count
    CHECK(spec_string(s) == "conv 32 5 stride 2 pad 1 nobias weight truncnormal 0.05, batchnorm, leakyrelu 0.2, "
                            "avgpool 3 stride 2, maxpool 2, dropout 0.25, flatten, linear 10 bias const 0.1, tanh, "
                            "sigmoid, relu, linear");
    // An init item applies to the conv and linear layers after it; a layer's own wins.
    const Spec i = parse_spec("conv 4 3, init weight zeros bias const 1, conv 4 3 bias normal 0.5, init bias uniform 2, "
                              "flatten, linear");
    CHECK(i.layers[0].weight_init == Init::pytorch_default());
    CHECK(i.layers[1].weight_init == Init::zeros());
    CHECK(i.layers[1].bias_init == Init::normal(0.5f));
    CHECK(i.layers[3].weight_init == Init::zeros());
    CHECK(i.layers[3].bias_init == Init::uniform(2.0f));
    // Comments, line breaks and capitals; positions by line in a multi-line spec.
    const Spec f = parse_spec("# fmnist\nconv 8 3 PAD Same,   # first\n\trelu");
    CHECK(f.layers[0].pad_same);
    CHECK(f.layers[1].where == "line 3, column 2");
    CHECK(parse_spec("conv 8  # eight\n 3, flatten, linear").layers[0].text == "conv 8 3");  // messages stay one line
    for (const char* text : kSpecs) {
        const Spec a = parse_spec(text), b = parse_spec(spec_string(a));
        CHECK(spec_string(b) == spec_string(a));
        std::mt19937 ra(3), rb(3);
        auto ma = build_model(a, 1, 9, 9, 3, ra), mb = build_model(b, 1, 9, 9, 3, rb);
        CHECK(same_parameters(*ma, *mb));
    }
}

TEST_CASE("spec: the named models are the hand-written builders they replaced, bit for bit") {
    for (const auto& [c, h, w, classes] : std::vector<std::array<int, 4>>{{1, 28, 28, 10}, {3, 32, 30, 5}, {1, 5, 7, 2}}) {
        for (unsigned seed : {1u, 7u}) {
            std::mt19937 r1(seed), r2(seed), r3(seed);
            auto mlp = make_model("mlp", c, h, w, classes, seed);
            auto cnn = make_model("cnn", c, h, w, classes, seed);
            auto cnn_bn = make_model("cnn-bn", c, h, w, classes, seed);
            auto old1 = old_mlp(c, h, w, classes, r1), old2 = old_cnn(c, h, w, classes, r2);
            auto old3 = old_cnn_bn(c, h, w, classes, r3);
            CHECK(same_parameters(*mlp, *old1));
            CHECK(same_parameters(*cnn, *old2));
            CHECK(same_parameters(*cnn_bn, *old3));
            // make_model fuses (layers/fused.h); the spec alone builds the plain list.
            for (const auto& [name, old] : {std::pair<const char*, Sequential*>{"mlp", old1.get()},
                                            {"cnn", old2.get()}, {"cnn-bn", old3.get()}}) {
                std::mt19937 r(seed);
                CHECK(build_model(parse_spec(model_layers(name)), c, h, w, classes, r)->describe() == old->describe());
            }
            // Dropout's seed is drawn in the same place: the same masks in training.
            const Tensor x = random_tensor(Shape{4, c, h, w}, 5);
            Tape ta, tb;
            const Tensor ya = ta.value(cnn_bn->forward(ta, ta.input(x)));
            const Tensor yb = tb.value(old3->forward(tb, tb.input(x)));
            CHECK(ya.vec() == yb.vec());
        }
    }
}

TEST_CASE("spec: DeepOBS's fmnist_2c2d and fmnist_mlp") {
    auto c2d = make_model("fmnist_2c2d", 1, 28, 28, 10, 1);
    CHECK(count_parameters(*c2d) == 3274634);  // DeepOBS's count
    const ParameterList p = c2d->parameters();
    REQUIRE(p.size() == 8);
    const Shape shapes[] = {{32, 1, 5, 5}, {32}, {64, 32, 5, 5}, {64}, {1024, 3136}, {1024}, {10, 1024}, {10}};
    for (size_t i = 0; i < 8; ++i) {
        CHECK(p[i]->value.shape() == shapes[i]);
        if (i % 2 == 1) {  // biases: 0.05
            for (float v : p[i]->value.vec()) CHECK(v == 0.05f);
            continue;
        }
        // weights: N(0, 0.05^2) cut at 2 std, whose std is 0.05 * 0.8796
        double sum = 0, sq = 0, largest = 0;
        for (float v : p[i]->value.vec()) {
            sum += v;
            sq += double(v) * v;
            largest = std::max(largest, double(std::fabs(v)));
        }
        const double n = p[i]->size(), mean = sum / n, sd = std::sqrt(sq / n - mean * mean);
        CHECK(largest <= 0.1);
        if (n > 10000) {
            CHECK(std::fabs(mean) < 0.001);
            CHECK(sd == doctest::Approx(0.05 * 0.8796).epsilon(0.01));
            CHECK(largest > 0.099);
        }
    }
    auto mlp = make_model("fmnist_mlp", 1, 28, 28, 10, 1);
    CHECK(count_parameters(*mlp) == 784 * 1000 + 1000 + 1000 * 500 + 500 + 500 * 100 + 100 + 100 * 10 + 10);
    for (Parameter* q : mlp->parameters()) {
        if (q->value.rank() == 1) {
            for (float v : q->value.vec()) CHECK(v == 0.0f);
        } else {
            float largest = 0;
            for (float v : q->value.vec()) largest = std::max(largest, std::fabs(v));
            CHECK(largest <= 0.06f);
            CHECK(largest > 0.05f);
        }
    }
    CHECK(mlp->describe().find("Linear(100, 10)") != std::string::npos);
}

TEST_CASE("spec: bad specs and specs that do not fit the data get one line naming where and what") {
    const std::pair<const char*, const char*> cases[] = {
        {"", "model spec, column 1: found the end of the spec, expected a layer (conv, linear, maxpool, avgpool, relu, "
             "leakyrelu, tanh, sigmoid, flatten, dropout, batchnorm, groupnorm, layernorm) or 'init'"},
        {"conv 32, relu", "model spec, column 8: found ',', expected the kernel size of conv (an integer from 1 to 4096)"},
        {"conv 32 5 pad x", "model spec, column 15: found 'x', expected the padding of conv ('same' or an integer from "
                            "0 to 4096)"},
        {"conv -3 5", "model spec, column 6: found '-3', expected the number of output channels of conv (an integer "
                      "from 1 to 1048576)"},
        {"flatten linear", "model spec, column 9: found 'linear', expected ',' or the end of the spec"},
        {"flatten, linear 10 5", "model spec, column 20: found '5', expected ',' or the end of the spec (or an option "
                                 "of linear: nobias, weight, bias)"},
        {"flatten,, linear", "model spec, column 9: found ',', expected a layer (conv, linear, maxpool, avgpool, relu, "
                             "leakyrelu, tanh, sigmoid, flatten, dropout, batchnorm, groupnorm, layernorm) or 'init'"},
        {"flatten, linear, relu", "model spec, column 16: found ',', expected the number of outputs of linear (only the "
                                  "last layer may leave it out: it then has one output per class)"},
        {"flatten, linear 3.5, linear", "model spec, column 17: found '3.5', expected the number of outputs of linear "
                                        "(an integer from 1 to 1048576)"},
        {"flatten, dropout 1.5, linear", "model spec, column 18: found '1.5', expected the dropout probability (a number "
                                         "from 0 to below 1)"},
        {"flatten, linear weight truncnormal -1", "model spec, column 36: found '-1', expected the standard deviation "
                                                  "of truncnormal (a number > 0)"},
        {"flatten, linear weight gaussian 1", "model spec, column 24: found 'gaussian', expected an initialiser for the "
                                              "weight (default, zeros, const V, normal STD, truncnormal STD, uniform A)"},
        {"flatten, linear nobias bias zeros", "model spec, column 24: found 'bias', expected no bias initialiser after "
                                              "'nobias'"},
        {"conv 8 3 pad 1 pad 2", "model spec, column 16: found 'pad', expected each option of conv at most once"},
        {"init, flatten, linear", "model spec, column 5: found ',', expected 'weight' or 'bias' after init"},
        {"flatten, linear 10, init bias zeros", "model spec, column 21: 'init bias zeros' applies to no layer: put it "
                                             "before the conv and linear layers it initialises"},
        {"flatten, linear $", "model spec, column 17: found '$', expected ',' or the end of the spec (or an option of "
                              "linear: nobias, weight, bias)"},
        {"conv 8 3,\nrelu,\n  maxpol 2", "model spec, line 3, column 3: found 'maxpol', expected a layer (conv, linear, "
                                         "maxpool, avgpool, relu, leakyrelu, tanh, sigmoid, flatten, dropout, batchnorm, "
                                         "groupnorm, layernorm) or 'init'"},
    };
    for (const auto& [spec, message] : cases) {
        INFO(std::string(spec));
        CHECK_THROWS_WITH_AS(parse_spec(spec), message, std::invalid_argument);
    }
    // Specs that parse but do not fit 1x28x28 images of 10 classes: the layer and the shapes.
    const std::pair<const char*, const char*> fits[] = {
        {"conv 32 5 pad 2, relu, maxpool 2, conv 64 5 pad 2, relu, maxpool 2, linear 1024, relu, linear",
         "model spec, column 69 (layer 6, 'linear 1024'): its input is an image of 64x7x7; linear takes flat vectors "
         "(put 'flatten' before it)"},
        {"conv 8 5, maxpool 8, maxpool 4", "model spec, column 22 (layer 2, 'maxpool 4'): its input (an image of 8x3x3) "
                                           "is smaller than the 4x4 window"},
        {"conv 8 29", "model spec, column 1 (layer 0, 'conv 8 29'): its input (an image of 1x28x28, padded by 0) is "
                      "smaller than the 29x29 kernel"},
        {"flatten, conv 8 3, linear", "model spec, column 10 (layer 1, 'conv 8 3'): its input is 784 values; conv takes "
                                      "an image (put it before 'flatten')"},
        {"conv 8 4 pad same, flatten, linear", "model spec, column 1 (layer 0, 'conv 8 4 pad same'): 'pad same' needs an "
                                               "odd kernel and stride 1 (padding is the same on both sides here)"},
        {"conv 8 3, relu", "model spec: the model ends with an image of 8x26x26; it must end with 10 values, one per "
                           "class (end with 'flatten, linear')"},
        {"flatten, linear 5", "model spec: the model ends with 5 values, but the data has 10 classes (end with a bare "
                              "'linear': it has one output per class)"},
        {"flatten, linear 1048576, linear", "model spec, column 10 (layer 1, 'linear 1048576'): it would have 822083584 "
                                            "weights; at most 268435456 per layer"},
    };
    for (const auto& [spec, message] : fits) {
        INFO(std::string(spec));
        CHECK_THROWS_WITH_AS(make_model(spec, 1, 28, 28, 10, 1), message, std::invalid_argument);
    }
    CHECK_THROWS_WITH_AS(make_model("resnet", 1, 28, 28, 10, 1),
                         "unknown model 'resnet' (named models: mlp, cnn, cnn-bn, cnn-gn, fmnist_2c2d, fmnist_mlp; or a spec "
                         "such as 'flatten, linear 128, relu, linear', or @FILE)",
                         std::invalid_argument);
    CHECK_THROWS_WITH_AS(make_model("@/nonexistent/net.spec", 1, 28, 28, 10, 1),
                         "model spec file '/nonexistent/net.spec': cannot open it for reading", std::invalid_argument);
}

TEST_CASE("spec: a spec in a file, its messages name the file and the line") {
    TempDir tmp;
    const std::string path = tmp / "net.spec";
    std::ofstream(path) << "# two layers\nflatten,\nlinear 32, relu,\nlinear\n";
    CHECK(model_layers("@" + path) == "# two layers\nflatten,\nlinear 32, relu,\nlinear\n");
    CHECK(model_label("@" + path) == "net");
    CHECK(model_label("cnn") == "cnn");
    CHECK(model_label("flatten, linear") == "custom");
    auto m = make_model("@" + path, 1, 4, 4, 3, 1);
    CHECK(count_parameters(*m) == 16 * 32 + 32 + 32 * 3 + 3);
    std::ofstream(path) << "flatten,\nlinear 32 relu,\nlinear\n";
    CHECK(error_of([&] { model_layers("@" + path); }) ==
          "model spec " + path + ", line 2, column 11: found 'relu', expected ',' or the end of the spec (or an option "
          "of linear: nobias, weight, bias)");
}

TEST_CASE("spec: every named model and the test specs round-trip through a checkpoint bit for bit") {
    TempDir tmp;
    std::vector<ModelSpec> specs;
    for (const std::string& name : model_names()) specs.push_back(ModelSpec{name, 1, 28, 28, 10, model_layers(name)});
    for (const char* text : kSpecs) specs.push_back(ModelSpec{text, 2, 11, 9, 4, text});
    for (const ModelSpec& spec : specs) {
        INFO(spec.name);
        auto model = make_model(spec, 5);
        const Tensor x = random_tensor(Shape{3, spec.channels, spec.height, spec.width}, 6);
        {  // one training step moves batch norm's running statistics: they must survive too
            Tape t;
            t.value(model->forward(t, t.input(x)));
        }
        const Tensor before = eval_output(*model, x);
        const std::string path = tmp / "m.ckpt";
        save_checkpoint(path, spec, *model);
        const Checkpoint ck = read_checkpoint(path);
        CHECK(ck.spec.layers == spec.layers);
        auto rebuilt = make_model(ck.spec, 99);  // another seed: every value comes from the file
        load_state(*rebuilt, ck, path);
        CHECK(same_parameters(*model, *rebuilt));
        CHECK(eval_output(*rebuilt, x).vec() == before.vec());
        CHECK(rebuilt->describe() == model->describe());
    }
}

TEST_CASE("initialisers: each draws what it says, seeded, on a layer or a whole model by role") {
    std::mt19937 a(1), b(1);
    Tensor t(Shape{200, 100}), u(Shape{200, 100});
    init_tensor(t, Init::truncated_normal(0.5f), 10, a);
    init_tensor(u, Init::truncated_normal(0.5f), 10, b);
    CHECK(t.vec() == u.vec());
    double sq = 0, largest = 0;
    for (float v : t.vec()) {
        sq += double(v) * v;
        largest = std::max(largest, double(std::fabs(v)));
    }
    CHECK(largest <= 1.0);
    CHECK(largest > 0.99);
    CHECK(std::sqrt(sq / t.size()) == doctest::Approx(0.5 * 0.8796).epsilon(0.02));
    init_tensor(t, Init::normal(2.0f), 10, a);
    sq = 0;
    largest = 0;
    for (float v : t.vec()) {
        sq += double(v) * v;
        largest = std::max(largest, double(std::fabs(v)));
    }
    CHECK(std::sqrt(sq / t.size()) == doctest::Approx(2.0).epsilon(0.02));
    CHECK(largest > 6.0);  // 20000 draws reach beyond 3 std: not truncated
    init_tensor(t, Init::pytorch_default(), 25, a);
    largest = 0;
    for (float v : t.vec()) largest = std::max(largest, double(std::fabs(v)));
    CHECK(largest <= 0.2);
    CHECK(largest > 0.199);
    init_tensor(t, Init::uniform(3.0f), 25, a);
    for (float v : t.vec()) CHECK(std::fabs(v) <= 3.0f);
    init_tensor(t, Init::constant(0.25f), 1, a);
    CHECK(t[123] == 0.25f);
    init_tensor(t, Init::zeros(), 1, a);
    CHECK(t[77] == 0.0f);
    CHECK_THROWS_WITH_AS(Init::normal(0.0f), "init: 'normal 0' is not valid (expected a finite standard deviation > 0)",
                         std::invalid_argument);
    CHECK_THROWS_WITH_AS(Init::uniform(-1.0f), "init: 'uniform -1' is not valid (expected a finite bound >= 0)",
                         std::invalid_argument);
    CHECK(Init::truncated_normal(0.05f).str() == "truncnormal 0.05");

    // A whole model by role: every Linear and Conv2d, not the batch norm's gamma and beta.
    std::mt19937 rng(2);
    Sequential m;
    auto& conv = m.add<Conv2d>(1, 4, 3, 1, 1, rng);
    auto& bn = m.add<BatchNorm2d>(4);
    m.add<Flatten>();
    auto& fc = m.add<Linear>(4 * 5 * 5, 3, rng, false);
    initialize(m, Role::Weight, Init::constant(0.5f), rng);
    initialize(m, Role::Bias, Init::constant(-1.0f), rng);
    for (float v : conv.weight().value.vec()) CHECK(v == 0.5f);
    for (float v : conv.bias().value.vec()) CHECK(v == -1.0f);
    for (float v : fc.weight().value.vec()) CHECK(v == 0.5f);
    CHECK(bn.parameters()[0]->value[0] == 1.0f);
    CHECK(bn.parameters()[1]->value[0] == 0.0f);
    // One layer only.
    initialize(conv, Role::Weight, Init::zeros(), rng);
    for (float v : conv.weight().value.vec()) CHECK(v == 0.0f);
    for (float v : fc.weight().value.vec()) CHECK(v == 0.5f);
    // The spec's initialisers are the same functions on the same generator.
    std::mt19937 r1(8), r2(8);
    auto spec_model = build_model(parse_spec("flatten, linear 7 weight truncnormal 0.1 bias const 0.2, linear"), 1, 3,
                                  3, 2, r1);
    Sequential hand;
    hand.add<Flatten>();
    auto& l1 = hand.add<Linear>(9, 7, r2);
    init_tensor(l1.weight().value, Init::truncated_normal(0.1f), 9, r2);
    init_tensor(l1.bias().value, Init::constant(0.2f), 9, r2);
    hand.add<Linear>(7, 2, r2);
    CHECK(same_parameters(*spec_model, hand));
}

TEST_CASE("newcomer API: add returns the layer, Linear learns its input size, 'same' padding") {
    std::mt19937 rng(3);
    Sequential m;
    auto& conv = m.add<Conv2d>(1, 4, 5, 1, Conv2d::same, rng);
    CHECK(conv.describe() == "Conv2d(1, 4, kernel 5, stride 1, padding 2)");
    m.add<ReLU>();
    m.add<MaxPool2d>(2);
    m.add<Flatten>();
    auto& fc = m.add<Linear>(6, rng);
    CHECK(fc.describe() == "Linear(?, 6)");
    CHECK(fc.weight().name == "4.weight");
    // An optimizer made now would hold an empty parameter: refused.
    CHECK_THROWS_WITH_AS(make_optimizer("sgd", m.parameters()),
                         "sgd: parameter '4.weight' has no values yet; run one example through the model "
                         "(summary(model, shape) does) before making the optimizer",
                         std::invalid_argument);
    CHECK(error_of([&] { initialize(m, Role::Weight, Init::zeros(), rng); }).find("does not know its input size") !=
          std::string::npos);
    const Tensor x = random_tensor(Shape{2, 1, 8, 8}, 4);
    Tape t;
    CHECK(t.shape(m.forward(t, t.input(x))) == Shape{2, 6});
    CHECK(fc.describe() == "Linear(64, 6)");
    CHECK(fc.weight().value.shape() == Shape{6, 64});
    CHECK(fc.in_features() == 64);
    const float bound = 1.0f / 8.0f;
    float largest = 0;
    for (float v : fc.weight().value.vec()) largest = std::max(largest, std::fabs(v));
    CHECK(largest <= bound);
    CHECK(largest > 0.9f * bound);
    CHECK(make_optimizer("sgd", m.parameters())->parameters().size() == 4);
    // The same seed gives the same lazy layer.
    std::mt19937 r1(5), r2(5);
    Linear a(3, r1), b(3, r2);
    Tape ta, tb;
    a.forward(ta, ta.input(random_tensor(Shape{1, 10}, 1)));
    b.forward(tb, tb.input(random_tensor(Shape{1, 10}, 1)));
    CHECK(a.weight().value.vec() == b.weight().value.vec());
    CHECK(a.bias().value.vec() == b.bias().value.vec());
    Linear c(3, r1);
    CHECK_THROWS_WITH_AS(c.forward(ta, ta.input(random_tensor(Shape{1, 2, 5}, 1))),
                         "Linear(?, 3): input (1, 2, 5) must be (N, features); put a Flatten before it",
                         std::invalid_argument);
    // "same" padding keeps the size; it needs an odd kernel and stride 1.
    Conv2d same(2, 3, 3, 1, Conv2d::same, rng);
    CHECK(t.shape(same.forward(t, t.input(random_tensor(Shape{1, 2, 7, 9}, 2)))) == Shape{1, 3, 7, 9});
    CHECK_THROWS_WITH_AS(Conv2d(2, 3, 4, 1, Conv2d::same, rng),
                         "Conv2d: 'same' padding needs an odd kernel and stride 1, got kernel 4, stride 1",
                         std::invalid_argument);
}

TEST_CASE("spec: statistics with a layer that mixes examples are refused with the tape's message") {
    auto model = make_model("cnn-bn", 1, 8, 8, 3, 1);
    Tape t;
    t.set_statistics(true);
    const std::vector<int> labels{0, 1};
    Var loss = softmax_cross_entropy(t, model->forward(t, t.input(random_tensor(Shape{2, 1, 8, 8}, 1))), labels);
    const std::string tape_message = error_of([&] { t.backward(loss); });
    REQUIRE(!tape_message.empty());
    const std::string early = error_of([] { check_statistics_allowed(parse_spec(model_layers("cnn-bn"))); });
    CHECK(early.rfind(tape_message, 0) == 0);
    CHECK(early.find("layer 1 ('batchnorm')") != std::string::npos);
    check_statistics_allowed(parse_spec(model_layers("cnn")));
    CHECK(spec_statistics_note() == "Layers that allow them: conv, linear, maxpool, avgpool, relu, leakyrelu, tanh, "
                                    "sigmoid, flatten, dropout, groupnorm, layernorm; not batchnorm in training (it "
                                    "mixes the examples of a batch).");
}

TEST_CASE("train: bad specs give one line and a non-zero exit before writing anything") {
    TempDir tmp;
    const std::string specs[] = {
        "resnet",
        "conv 32, relu",
        "conv 32 5 pad x, relu",
        "flatten, linear, relu",
        "flatten, linear 10 5",
        "flatten, dropout 1.5, linear",
        "flatten, linear weight truncnormal -1",
        "flatten, linear 10, init bias zeros",
        "flatten,, linear",
        "conv 8 3 pad 1 pad 2, flatten, linear",
        "conv 32 5 pad 2, relu, maxpool 2, conv 64 5 pad 2, relu, maxpool 2, linear 1024, relu, linear",
        "conv 8 5, maxpool 8, maxpool 4, flatten, linear",
        "conv 8 3, relu",
        "flatten, linear 5",
        "@" + tmp.str() + "/missing.spec",
    };
    for (const std::string& spec : specs) {
        INFO(spec);
        const std::string out = tmp / "run";
        dl::testing::ProgramResult r =
            run_program("build/train --limit 64 --epochs 1 --out " + out + " --model '" + spec + "'", tmp.str());
        CHECK(r.status == 1);
        CHECK(r.err.rfind("train: ", 0) == 0);
        CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
        CHECK((r.err.find("model spec") != std::string::npos || r.err.find("unknown model") != std::string::npos));
        CHECK(r.out.empty());
        CHECK_FALSE(std::filesystem::exists(out));
    }
    // Statistics with train-mode batch norm are refused before the data loads (the
    // data directory does not exist, and that is not what the message is about).
    dl::testing::ProgramResult bn = run_program(
        "build/train --model cnn-bn --optimizer rmsprop-per-example --data /nonexistent --out " + tmp.str() + "/bn",
        tmp.str());
    CHECK(bn.status == 1);
    CHECK(bn.err.rfind("train: statistics: op 'batch_norm' mixes the examples of a batch", 0) == 0);
    CHECK_FALSE(std::filesystem::exists(tmp / "bn"));
    dl::testing::ProgramResult help = run_program("build/train --help", tmp.str());
    CHECK(help.out.find("Per-example statistics are needed by rmsprop-per-example, langevin-precond, adaptive "
                        "--per-example-sigma true") != std::string::npos);
    CHECK(help.out.find("not batchnorm in training") != std::string::npos);
}

TEST_CASE("train: a spec from a file trains, resumes without the file, and predict rebuilds it") {
    TempDir tmp;
    const std::string path = tmp / "small.spec";
    std::ofstream(path) << "# a small convnet\nconv 4 3 pad same, relu, maxpool 2,\nflatten, linear 16, relu, linear\n";
    const std::string run = tmp / "run", other = tmp / "other";
    dl::testing::ProgramResult r = run_program("build/train --model @" + path + " --limit 256 --epochs 1 --max-steps 2 --out " +
                                                   run,
                                               tmp.str());
    INFO(r.err);
    CHECK(r.status == 130);  // stopped as if interrupted: resumable
    std::remove(path.c_str());
    r = run_program("build/train --resume " + run + "/model.ckpt", tmp.str());
    INFO(r.err);
    REQUIRE(r.status == 0);
    CHECK(read_checkpoint(run + "/model.ckpt").spec.layers ==
          "# a small convnet\nconv 4 3 pad same, relu, maxpool 2,\nflatten, linear 16, relu, linear\n");
    REQUIRE(run_program("build/train --model 'flatten, linear 8 weight normal 0.1, tanh, linear' --limit 256 --epochs 1 "
                        "--out " + other,
                        tmp.str())
                .status == 0);
    dl::testing::ProgramResult p =
        run_program("build/predict --ensemble " + run + "/model.ckpt " + other + "/model.ckpt --data", tmp.str());
    INFO(p.err);
    REQUIRE(p.status == 0);
    CHECK(p.out.find("with an ensemble of 2") != std::string::npos);
}

TEST_CASE("summary: each layer's output shape, parameters, FLOPs and ops; nothing moves") {
    std::mt19937 rng(1);
    auto plain = build_model(parse_spec(model_layers("cnn")), 1, 28, 28, 10, rng);
    const std::vector<LayerSummary> rows = summarize(*plain, Shape{1, 28, 28});
    REQUIRE(rows.size() == 10);
    CHECK(rows[0].layer == "Conv2d(1, 16, kernel 5, stride 1, padding 2)");
    CHECK(rows[0].output == Shape{16, 28, 28});
    CHECK(rows[0].parameters == 16 * 25 + 16);
    CHECK(rows[0].flops == 16.0 * 28 * 28 * (2 * 25 + 1));
    CHECK(rows[0].ops == "conv2d");
    CHECK(rows[1].flops == 16.0 * 28 * 28);
    CHECK(rows[2].output == Shape{16, 14, 14});
    CHECK(rows[2].ops == "max_pool2d");
    CHECK(rows[6].output == Shape{1568});
    CHECK(rows[7].flops == 128.0 * (2 * 1568 + 1));
    CHECK(rows[9].output == Shape{10});
    size_t params = 0;
    double flops = 0;
    for (const LayerSummary& r : rows) {
        params += r.parameters;
        flops += r.flops;
    }
    CHECK(params == count_parameters(*plain));
    const std::string text = summary(*plain, Shape{1, 28, 28});
    const size_t row7 = text.find("(7) Linear(1568, 128)");
    REQUIRE(row7 != std::string::npos);
    const std::string line7 = text.substr(row7, text.find('\n', row7) - row7);
    CHECK(line7.find(" 128 ") != std::string::npos);
    CHECK(line7.find(" 200,832 ") != std::string::npos);
    CHECK(line7.find(" 402k ") != std::string::npos);
    CHECK(line7.substr(line7.size() - 6) == "linear");
    CHECK(text.find("215,370") != std::string::npos);

    // make_model fuses: conv, relu, maxpool are one layer that records one op where the
    // fast floor fuses (two where it does not), with the same shapes and FLOPs.
    auto fused = make_model("cnn", 1, 28, 28, 10, 1);
    const std::vector<LayerSummary> frows = summarize(*fused, Shape{1, 28, 28});
    REQUIRE(frows.size() == 6);
    CHECK(frows[0].layer.rfind("ConvReluMaxPool(Conv2d(1, 16, kernel 5", 0) == 0);
    CHECK((frows[0].ops == "conv2d_relu_max_pool2d" || frows[0].ops == "conv2d, relu_max_pool2d"));
    CHECK(frows[0].output == Shape{16, 14, 14});
    CHECK(frows[0].flops == rows[0].flops + rows[1].flops + rows[2].flops);
    double fused_flops = 0;
    for (const LayerSummary& r : frows) fused_flops += r.flops;
    CHECK(fused_flops == flops);
    // The ops of the rows are what the model's own forward records.
    Tape t;
    NoGrad ng(t);
    fused->eval();
    fused->forward(t, t.input(Tensor(Shape{1, 1, 28, 28})));
    std::string ops, row_ops;
    for (int i = 1; i < t.size(); ++i) ops += (ops.empty() ? "" : ", ") + std::string(t.node(i).op);
    for (const LayerSummary& r : frows) row_ops += (row_ops.empty() ? "" : ", ") + r.ops;
    CHECK(row_ops == ops);
    auto bn_fused = make_model("cnn-bn", 1, 28, 28, 10, 1);
    CHECK(summarize(*bn_fused, Shape{1, 28, 28})[2].layer == "ReluMaxPool(ReLU, MaxPool2d(kernel 2, stride 2))");

    // Batch norm's running statistics, dropout's generator and the modes stay as they were.
    std::mt19937 r2(2);
    auto bn = build_model(parse_spec(model_layers("cnn-bn")), 1, 12, 12, 3, r2);
    Sequential& seq = *bn;
    seq[1].eval();  // one layer in eval, the rest in training
    std::vector<std::vector<float>> buffers;
    for (Buffer* b : bn->buffers()) buffers.push_back(b->value.vec());
    auto state_of = [&] {  // every layer's extra state (dropout's generator among it)
        Fields w = Fields::writer();
        bn->state_fields(w);
        return w.bytes();
    };
    const std::string state = state_of();
    summary(*bn, Shape{1, 12, 12});
    for (size_t i = 0; i < buffers.size(); ++i) CHECK(bn->buffers()[i]->value.vec() == buffers[i]);
    CHECK(state_of() == state);
    CHECK_FALSE(seq[1].training());
    CHECK(seq[5].training());
    CHECK(summarize(*bn, Shape{1, 12, 12})[12].ops == "-");  // dropout in eval: the identity

    // A lazy Linear learns its input size; a shape that does not fit names the layer.
    Sequential m;
    m.add<Flatten>();
    auto& fc = m.add<Linear>(5, rng);
    CHECK(summarize(m, Shape{3, 4, 4})[1].parameters == 48 * 5 + 5);
    CHECK(fc.in_features() == 48);
    m.add<Conv2d>(1, 2, 3, 1, 0, rng);
    CHECK(error_of([&] { summary(m, Shape{3, 4, 4}); })
              .rfind("summary: layer 2 (Conv2d(1, 2, kernel 3, stride 1, padding 0)) does not take its input (5): ", 0) ==
          0);
    CHECK_THROWS_WITH_AS(summary(m, Shape{}),
                         "summary: the example shape () must be one example without the batch dimension, e.g. (1, 28, 28)",
                         std::invalid_argument);
}

TEST_CASE("spec: group norm and layer norm, and cnn-gn, which allows per-example statistics") {
    const Spec s = parse_spec("conv 8 3, groupnorm 4, layernorm, flatten, layernorm, linear 6, groupnorm 3, linear");
    CHECK(s.layers[1].size == 4);
    std::mt19937 rng(1);
    auto m = build_model(s, 2, 6, 6, 3, rng);
    CHECK((*m)[1].describe() == "GroupNorm(4 groups, 8 channels)");
    CHECK((*m)[2].describe() == "LayerNorm((8, 4, 4))");
    CHECK((*m)[4].describe() == "LayerNorm((128))");
    CHECK((*m)[6].describe() == "GroupNorm(3 groups, 6 channels)");
    CHECK_THROWS_WITH_AS(make_model("conv 32 3, groupnorm 5, flatten, linear", 1, 28, 28, 10, 1),
                         "model spec, column 12 (layer 1, 'groupnorm 5'): its input (an image of 32x26x26) has 32 "
                         "channels, which do not split into 5 groups",
                         std::invalid_argument);
    CHECK_THROWS_WITH_AS(parse_spec("conv 8 3, groupnorm, flatten, linear"),
                         "model spec, column 20: found ',', expected the number of groups of groupnorm (an integer from "
                         "1 to 1048576)",
                         std::invalid_argument);
    check_statistics_allowed(parse_spec(model_layers("cnn-gn")));
    // One statistics backward through cnn-gn, as the tape computes it in training mode.
    auto gn = make_model("cnn-gn", 1, 12, 12, 3, 1);
    Tape t;
    t.set_statistics(true);
    const std::vector<int> labels{0, 1, 2, 1};
    t.backward(softmax_cross_entropy(t, gn->forward(t, t.input(random_tensor(Shape{4, 1, 12, 12}, 3))), labels));
    for (Parameter* p : gn->parameters()) {
        INFO(p->name);
        CHECK(p->stats_batch == 4);
        CHECK(p->grad_sq.size() == p->size());
    }
}

TEST_CASE("train: cnn-gn trains with rmsprop-per-example and adaptive --per-example-sigma") {
    TempDir tmp;
    for (const std::string opt : {"rmsprop-per-example --lr 0.001", "adaptive --per-example-sigma true"}) {
        INFO(opt);
        dl::testing::ProgramResult r = run_program(
            "build/train --model cnn-gn --limit 256 --epochs 1 --optimizer " + opt + " --out " + tmp.str() + "/r",
            tmp.str());
        CHECK(r.status == 0);
        CHECK(r.err.find("with per-example statistics") != std::string::npos);
        CHECK(r.err.find("GroupNorm(8 groups, 32 channels)") != std::string::npos);  // the summary
        CHECK(r.last_line().find("\"test_accuracy\": ") != std::string::npos);
    }
}

TEST_CASE("README: the C++ example of a model with its own initialisation") {
    std::mt19937 rng(1);
    Sequential model;
    auto& conv1 = model.add<Conv2d>(1, 32, 5, 1, Conv2d::same, rng);  // add returns the new layer
    model.add<ReLU>();
    model.add<MaxPool2d>(2);
    model.add<Flatten>();
    model.add<Linear>(1024, rng);                                       // input size learnt at the first forward
    model.add<ReLU>();
    model.add<Linear>(10, rng);
    const std::string text = summary(model, Shape{1, 28, 28});       // runs one example: sizes that Linear
    initialize(model, Role::Weight, Init::truncated_normal(0.05f), rng);  // every conv and linear
    initialize(model, Role::Bias, Init::constant(0.05f), rng);
    initialize(conv1, Role::Weight, Init::normal(0.1f), rng);             // or one layer
    auto opt = make_optimizer("adam", model.parameters());
    CHECK(count_parameters(model) == 32 * 25 + 32 + 32 * 14 * 14 * 1024 + 1024 + 1024 * 10 + 10);
    CHECK(text.find("Linear(6272, 1024)") != std::string::npos);
    CHECK(model.parameters()[1]->value[7] == 0.05f);
    CHECK(opt->parameters().size() == 6);
}
