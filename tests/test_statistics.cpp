// Per-example gradient statistics: grad, grad_sq and the per-example
// gradient norms from one statistics backward pass equal a brute-force
// reference of B separate backward passes with batch size 1; and every case
// where the statistic is undefined throws a clear error.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "layers/layers.h"
#include "layers/models.h"
#include "tests/gradcheck.h"

using namespace dl;
using dl::testing::random_tensor;

namespace {

struct Stats {
    std::vector<Tensor> grad, grad_sq;
    std::vector<float> norms;
};

// Example b of a batch x (N, ...) as a batch of one (1, ...).
Tensor example(const Tensor& x, int b) {
    Shape s = x.shape();
    s.dims[0] = 1;
    Tensor one(s);
    std::copy(x.data() + b * one.size(), x.data() + (b + 1) * one.size(), one.data());
    return one;
}

// Reduction::Mean: g_b = grad l_b. Reduction::Sum gives the same g_b.
Stats brute_force(Module& m, const Tensor& x, const std::vector<int>& labels) {
    const ParameterList params = m.parameters();
    const int B = x.dim(0);
    Stats ref;
    for (Parameter* p : params) {
        ref.grad.emplace_back(p->value.shape());
        ref.grad_sq.emplace_back(p->value.shape());
    }
    for (int b = 0; b < B; ++b) {
        for (Parameter* p : params) p->zero_grad();
        Tape t;
        t.backward(softmax_cross_entropy(t, m.forward(t, t.input(example(x, b))), {labels[b]}));
        double sq = 0.0;
        for (size_t k = 0; k < params.size(); ++k)
            for (size_t i = 0; i < params[k]->size(); ++i) {
                const float g = params[k]->grad[i];
                ref.grad[k][i] += g / B;
                ref.grad_sq[k][i] += g * g / B;
                sq += (double)g * g;
            }
        ref.norms.push_back((float)std::sqrt(sq));
    }
    return ref;
}

Stats with_statistics(Module& m, const Tensor& x, const std::vector<int>& labels, Reduction r) {
    const ParameterList params = m.parameters();
    for (Parameter* p : params) p->zero_grad();
    Tape t;
    t.set_statistics(true);
    t.backward(softmax_cross_entropy(t, m.forward(t, t.input(x)), labels, r));
    Stats s;
    const float scale = r == Reduction::Sum ? 1.0f / (float)x.dim(0) : 1.0f;  // a sum loss's grad is B times
    for (Parameter* p : params) {
        Tensor g = p->grad;
        for (size_t i = 0; i < g.size(); ++i) g[i] *= scale;
        s.grad.push_back(g);
        s.grad_sq.push_back(p->grad_sq);
        CHECK(p->stats_batch == x.dim(0));
    }
    s.norms = t.per_example_grad_norms();
    return s;
}

// |a - b| <= 1e-4 (|b| + 0.1 max|b|): relative, with a floor for entries where the
// per-example gradients cancel (their mean then carries float rounding of the larger terms;
// the fast floor's 5x5 and 3x3 layers round at a few 1e-6 of a layer's largest values, Winograd's
// transforms, and the two sides sum in different orders: per example, or over the batch).
void check_close(const Tensor& a, const Tensor& b, const std::string& what) {
    float largest = 0.0f;
    for (size_t i = 0; i < b.size(); ++i) largest = std::max(largest, std::fabs(b[i]));
    int bad = 0;
    for (size_t i = 0; i < b.size(); ++i)
        if (std::fabs(a[i] - b[i]) > 1e-4f * (std::fabs(b[i]) + 0.1f * largest)) {
            if (bad++ == 0) MESSAGE(what << "[" << i << "]: " << a[i] << " vs reference " << b[i] << " (largest " << largest << ")");
        }
    INFO(what << ": " << bad << " of " << b.size() << " entries differ from the reference");
    CHECK(bad == 0);
    CHECK(largest > 0.0f);
}

// In eval mode unless `training` (for models whose layers all allow statistics in training).
void check_model_statistics(const std::string& name, Module& m, const Shape& input, int classes,
                            bool training = false) {
    m.train(training);
    for (int B : {1, 2, 5}) {
        Shape s = input;
        s.dims[0] = B;
        const Tensor x = random_tensor(s, 100 + B);
        std::vector<int> labels;
        for (int b = 0; b < B; ++b) labels.push_back((b * 7 + 3) % classes);
        const Stats ref = brute_force(m, x, labels);
        for (Reduction r : {Reduction::Mean, Reduction::Sum}) {
            const Stats got = with_statistics(m, x, labels, r);
            const std::string what = name + " B=" + std::to_string(B) + (r == Reduction::Sum ? " sum " : " mean ");
            const ParameterList params = m.parameters();
            for (size_t k = 0; k < params.size(); ++k) {
                check_close(got.grad[k], ref.grad[k], what + params[k]->name + " grad");
                check_close(got.grad_sq[k], ref.grad_sq[k], what + params[k]->name + " grad_sq");
            }
            REQUIRE(got.norms.size() == (size_t)B);
            check_close(Tensor(Shape{B}, got.norms), Tensor(Shape{B}, ref.norms), what + "per-example norms");
        }
    }
}

// Stride 2 with padding, a 2x2 kernel without padding or bias, eval-mode batch
// norm, overlapping pools and a Linear head.
std::unique_ptr<Module> varied_conv_model() {
    std::mt19937 rng(5);
    auto m = std::make_unique<Sequential>();
    m->add<Conv2d>(2, 4, 3, 2, 1, rng);
    m->add<BatchNorm2d>(4);
    m->add<ReLU>();
    m->add<Conv2d>(4, 3, 2, 1, 0, rng, false);
    m->add<LeakyReLU>(0.1f);
    m->add<MaxPool2d>(2, 1);
    m->add<Conv2d>(3, 3, 1, 1, 1, rng);
    m->add<AvgPool2d>(3, 2);
    m->add<Flatten>();
    m->add<Linear>(12, 4, rng);
    // Batch norm statistics and affine parameters away from the identity.
    auto& bn = (*m)[1];
    bn.buffers()[0]->value = random_tensor(Shape{4}, 6, -0.2f, 0.2f);
    bn.buffers()[1]->value = random_tensor(Shape{4}, 7, 0.5f, 1.5f);
    bn.parameters()[0]->value = random_tensor(Shape{4}, 8, 0.5f, 1.5f);
    bn.parameters()[1]->value = random_tensor(Shape{4}, 9, -0.2f, 0.2f);
    return m;
}

}  // namespace

TEST_CASE("statistics: mlp matches B separate backward passes") {
    auto m = make_model("mlp", 1, 28, 28, 10, 1);
    check_model_statistics("mlp", *m, Shape{1, 1, 28, 28}, 10);
}

TEST_CASE("statistics: cnn matches B separate backward passes") {
    auto m = make_model("cnn", 1, 28, 28, 10, 2);
    check_model_statistics("cnn", *m, Shape{1, 1, 28, 28}, 10);
}

TEST_CASE("statistics: convolutions with stride, padding, eval batch norm and pooling") {
    auto m = varied_conv_model();
    check_model_statistics("varied", *m, Shape{1, 2, 9, 9}, 4);
}

TEST_CASE("statistics: cnn-bn in eval mode (dropout off) matches too") {
    auto m = make_model("cnn-bn", 1, 12, 12, 3, 3);
    check_model_statistics("cnn-bn eval", *m, Shape{1, 1, 12, 12}, 3);
}

TEST_CASE("statistics: group norm and layer norm in training mode match B separate backward passes") {
    std::mt19937 rng(6);
    auto m = std::make_unique<Sequential>();
    m->add<Conv2d>(2, 8, 3, 1, 1, rng);
    m->add<GroupNorm>(4, 8);
    m->add<ReLU>();
    m->add<MaxPool2d>(2);
    m->add<Conv2d>(8, 4, 3, 1, 1, rng, false);
    m->add<GroupNorm>(1, 4);
    m->add<Tanh>();
    m->add<Flatten>();
    m->add<Linear>(4 * 3 * 3, 6, rng);
    m->add<LayerNorm>(6);
    m->add<ReLU>();
    m->add<Linear>(6, 4, rng);
    // Affine parameters away from the identity, so that their gradients are not trivial.
    for (size_t i : {1u, 5u, 9u}) {
        ParameterList p = (*m)[i].parameters();
        p[0]->value = random_tensor(p[0]->value.shape(), 60 + (unsigned)i, 0.5f, 1.5f);
        p[1]->value = random_tensor(p[1]->value.shape(), 70 + (unsigned)i, -0.3f, 0.3f);
    }
    check_model_statistics("group norm, layer norm", *m, Shape{1, 2, 6, 6}, 4, /*training=*/true);
    auto ln = std::make_unique<Sequential>();  // layer norm over whole images
    ln->add<Conv2d>(1, 3, 3, 1, 0, rng);
    ln->add<LayerNorm>(Shape{3, 4, 4});
    ln->add<Flatten>();
    ln->add<Linear>(48, 3, rng);
    check_model_statistics("layer norm (3, 4, 4)", *ln, Shape{1, 1, 6, 6}, 3, /*training=*/true);
}

TEST_CASE("statistics: undefined cases throw clear errors") {
    const std::vector<int> labels = {0, 1, 2};
    SUBCASE("batch norm in training mode mixes the examples") {
        auto m = make_model("cnn-bn", 1, 8, 8, 3, 1);
        Tape t;
        t.set_statistics(true);
        Var loss = softmax_cross_entropy(t, m->forward(t, t.input(random_tensor(Shape{3, 1, 8, 8}, 1))), labels);
        CHECK_THROWS_WITH_AS(t.backward(loss),
                             "statistics: op 'batch_norm' mixes the examples of a batch, so per-example gradients are "
                             "undefined (use eval mode for batch norm, or turn statistics off)",
                             std::invalid_argument);
    }
    SUBCASE("a Linear applied twice") {
        std::mt19937 rng(1);
        Linear shared(3, 3, rng);
        Tape t;
        t.set_statistics(true);
        Var x = t.input(random_tensor(Shape{3, 3}, 2));
        Var loss = softmax_cross_entropy(t, shared.forward(t, relu(t, shared.forward(t, x))), labels);
        CHECK_THROWS_WITH_AS(t.backward(loss),
                             "statistics: parameter 'weight' is used by two ops (linear and another) in one graph; "
                             "per-example statistics are undefined for shared parameters",
                             std::invalid_argument);
    }
    SUBCASE("a Conv2d applied twice") {
        std::mt19937 rng(1);
        Conv2d shared(2, 2, 3, 1, 1, rng);
        Tape t;
        t.set_statistics(true);
        Var x = t.input(random_tensor(Shape{3, 2, 4, 4}, 2));
        Var y = flatten(t, shared.forward(t, shared.forward(t, x)));
        Var loss = softmax_cross_entropy(t, y, labels);
        CHECK_THROWS_WITH_AS(t.backward(loss),
                             "statistics: parameter 'weight' is used by two ops (conv2d and another) in one graph; "
                             "per-example statistics are undefined for shared parameters",
                             std::invalid_argument);
    }
    SUBCASE("a loss that is not a per-example mean or sum") {
        auto m = make_model("mlp", 1, 4, 4, 3, 1);
        Tape t;
        t.set_statistics(true);
        Var loss = sum(t, m->forward(t, t.input(random_tensor(Shape{3, 1, 4, 4}, 3))));
        CHECK_THROWS_WITH_AS(t.backward(loss),
                             "statistics: backward must start from a per-example loss (softmax_cross_entropy or "
                             "mse_loss), not from op 'sum'",
                             std::invalid_argument);
    }
}

TEST_CASE("statistics: off by default, nothing extra allocated") {
    auto m = make_model("cnn", 1, 8, 8, 3, 1);
    Tape t;
    t.backward(softmax_cross_entropy(t, m->forward(t, t.input(random_tensor(Shape{2, 1, 8, 8}, 1))), {0, 1}));
    for (Parameter* p : m->parameters()) {
        CHECK(p->grad_sq.size() == 0);
        CHECK(p->stats_batch == 0);
    }
    CHECK(t.per_example_grad_norms().empty());
}

TEST_CASE("statistics follow the loss backward starts from, not the last loss recorded") {
    std::mt19937 rng(4);
    Linear layer(6, 3, rng);
    const Tensor x = random_tensor(Shape{4, 6}, 30);
    const std::vector<int> labels{0, 2, 1, 1};
    const Stats ref = brute_force(layer, x, labels);
    for (Parameter* p : layer.parameters()) p->zero_grad();
    Tape t;
    t.set_statistics(true);
    Var logits = layer.forward(t, t.input(x));
    Var mean_loss = softmax_cross_entropy(t, logits, labels, Reduction::Mean);
    softmax_cross_entropy(t, logits, labels, Reduction::Sum);  // recorded later, for logging only
    t.backward(mean_loss);
    const ParameterList params = layer.parameters();
    for (size_t k = 0; k < params.size(); ++k) {
        check_close(params[k]->grad, ref.grad[k], params[k]->name + " grad");
        check_close(params[k]->grad_sq, ref.grad_sq[k], params[k]->name + " grad_sq");
    }
    check_close(Tensor(Shape{4}, t.per_example_grad_norms()), Tensor(Shape{4}, ref.norms), "per-example norms");
}

TEST_CASE("statistics: a train-mode batch norm the loss does not depend on does not make backward refuse") {
    std::mt19937 rng(5);
    Linear layer(6, 3, rng);
    BatchNorm1d unrelated(6);  // training mode: mixes the examples, but of another branch
    const Tensor x = random_tensor(Shape{4, 6}, 31);
    const std::vector<int> labels{1, 0, 2, 2};
    const Stats ref = brute_force(layer, x, labels);
    for (Parameter* p : layer.parameters()) p->zero_grad();
    Tape t;
    t.set_statistics(true);
    Var xv = t.input(x, true);
    Var other = unrelated.forward(t, xv);
    Var loss = softmax_cross_entropy(t, layer.forward(t, xv), labels);
    sum(t, other);
    t.backward(loss);
    check_close(layer.parameters()[0]->grad_sq, ref.grad_sq[0], "weight grad_sq");
    // The same batch norm on the loss's path is refused.
    Var bad = softmax_cross_entropy(t, layer.forward(t, unrelated.forward(t, xv)), labels);
    CHECK_THROWS_WITH_AS(t.backward(bad), doctest::Contains("op 'batch_norm' mixes the examples"),
                         std::invalid_argument);
}
