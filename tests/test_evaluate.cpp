// evaluate() (layers/evaluate.h): loss and accuracy against a hand computation and
// against the loop programs wrote before it, its edge cases (no examples, NaN
// logits, bad labels, a shard without batches), sharding, and the model's mode afterwards.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "core/ops.h"
#include "data/loader.h"
#include "layers/dropout.h"
#include "layers/evaluate.h"
#include "layers/flatten.h"
#include "layers/linear.h"
#include "layers/sequential.h"

using namespace dl;

namespace {

// Images of 1 x 1 x 3 pixels and 3 classes: after Flatten, the logits are pixel/255.
Dataset three_pixel_data(const std::vector<uint8_t>& pixels, const std::vector<int>& labels) {
    Dataset d;
    d.images = pixels;
    d.labels = labels;
    d.count = static_cast<int>(labels.size());
    d.channels = 1, d.height = 1, d.width = 3, d.classes = 3;
    d.class_names = {"a", "b", "c"};
    return d;
}

// A random data set of 8 x 8 images and 10 classes.
Dataset random_images(int count, uint32_t seed) {
    std::mt19937 rng(seed);
    Dataset d;
    d.count = count;
    d.channels = 1, d.height = 8, d.width = 8, d.classes = 10;
    for (int c = 0; c < 10; ++c) d.class_names.push_back(std::to_string(c));
    d.images.resize(static_cast<size_t>(count) * 64);
    for (auto& p : d.images) p = static_cast<uint8_t>(rng() % 256);
    for (int i = 0; i < count; ++i) d.labels.push_back(static_cast<int>(rng() % 10));
    return d;
}

DataLoaderOptions in_order(int batch_size) {
    DataLoaderOptions o;
    o.batch_size = batch_size;
    o.shuffle = false;
    o.background = false;
    return o;
}

// Mean cross-entropy by hand: -log softmax(z)[label], in double.
double cross_entropy(const std::vector<double>& z, int label) {
    double m = z[0], s = 0;
    for (double v : z) m = std::max(m, v);
    for (double v : z) s += std::exp(v - m);
    return m + std::log(s) - z[static_cast<size_t>(label)];
}

}  // namespace

TEST_CASE("evaluate: loss and accuracy of known logits, ties to the first class") {
    // Example 0: pixels 0, 255, 0 give logits (0, 1, 0), label 1: right.
    // Example 1: (1, 0, 0), label 2: wrong. Example 2: a tie (1, 1, 0), label 1: the first (0) wins, wrong.
    const Dataset d = three_pixel_data({0, 255, 0, 255, 0, 0, 255, 255, 0}, {1, 2, 1});
    Sequential model;
    model.add<Flatten>();
    DataLoader loader(d, in_order(2));
    const Evaluation e = evaluate(model, loader);
    CHECK(e.examples == 3);
    CHECK(e.nonfinite == 0);
    CHECK(e.accuracy == doctest::Approx(1.0 / 3.0));
    const double want = (cross_entropy({0, 1, 0}, 1) + cross_entropy({1, 0, 0}, 2) + cross_entropy({1, 1, 0}, 1)) / 3;
    CHECK(e.loss == doctest::Approx(want).epsilon(1e-6));
    const float tie[3] = {1.0f, 1.0f, 0.0f};
    CHECK(predicted_class(tie, 3) == 0);
}

TEST_CASE("evaluate: the same sums, bit for bit, as the loop build/train had before it") {
    const Dataset d = random_images(530, 3);
    std::mt19937 rng(7);
    Sequential model;
    model.add<Flatten>();
    model.add<Linear>(64, 10, rng);
    std::vector<int> indices(400);
    std::iota(indices.begin(), indices.end(), 100);
    DataLoaderOptions o = in_order(64);
    o.norm = compute_normalization(d);

    // The trainer's loop: each batch's summed loss (a float) added in double, argmax counted.
    double loss = 0, correct = 0;
    {
        DataLoader loader(d, indices, o);
        loader.start_epoch(0);
        Tape tape;
        NoGrad ng(tape);
        while (const Batch* b = loader.next()) {
            tape.reset();
            Var z = model.forward(tape, tape.input(b->x));
            loss += tape.value(softmax_cross_entropy(tape, z, b->y, Reduction::Sum))[0];
            const float* p = tape.value(z).data();
            for (size_t r = 0; r < b->y.size(); ++r)
                correct += std::max_element(p + r * 10, p + r * 10 + 10) - (p + r * 10) == b->y[r];
        }
    }
    DataLoader loader(d, indices, o);
    const Evaluation e = evaluate(model, loader);
    CHECK(e.examples == 400);
    CHECK(e.loss == loss / 400);  // exactly
    CHECK(e.accuracy == correct / 400);

    SUBCASE("shards add up to the whole, exactly as before") {
        Tape tape;  // a tape of the caller's, reused by both shards
        EvaluationSums a = evaluate_sums(model, loader, {&tape, 0, 2});
        EvaluationSums b = evaluate_sums(model, loader, {&tape, 1, 2});
        CHECK(a.examples == 208);  // batches 0, 2, 4, 6 of the 7 (64 each, the last 16)
        CHECK(b.examples == 192);  // batches 1, 3, 5
        CHECK(a.correct + b.correct == correct);
        CHECK(a.loss + b.loss == doctest::Approx(loss).epsilon(1e-12));
        CHECK_THROWS_WITH_AS(evaluate_sums(model, loader, {nullptr, 2, 2}),
                             "evaluate: shard 2 of 2 (expected 0 <= shard < shards)", std::invalid_argument);
    }
}

TEST_CASE("evaluate: eval mode while it runs, the model's own mode afterwards") {
    const Dataset d = random_images(50, 4);
    std::mt19937 rng(1);
    Sequential model;
    model.add<Flatten>();
    model.add<Dropout>(0.5f, 9);
    model.add<Linear>(64, 10, rng);
    DataLoader loader(d, in_order(16));
    const Evaluation first = evaluate(model, loader);
    CHECK(model.training());  // put back
    CHECK(evaluate(model, loader).loss == first.loss);  // no dropout: the same numbers twice
    model.eval();
    CHECK(evaluate(model, loader).loss == first.loss);
    CHECK_FALSE(model.training());
}

TEST_CASE("evaluate: no examples give NaN, not 0; NaN logits count as wrong and make the loss NaN") {
    Sequential model;
    model.add<Flatten>();
    // A loader is never empty (DataLoader refuses that), but a shard can be: one batch, two shards.
    const Dataset d = three_pixel_data({0, 255, 0}, {1});
    DataLoader one_batch(d, in_order(4));
    const Evaluation e = evaluate(model, one_batch, {nullptr, 1, 2});
    CHECK(e.examples == 0);
    CHECK(std::isnan(e.loss));
    CHECK(std::isnan(e.accuracy));

    // Logits straight onto a tape: rows 0 and 2 are right, row 1 holds a NaN (its label's logit is largest otherwise).
    Tape tape;
    const float nan = std::nanf("");
    Var z = tape.input(Tensor(Shape{3, 3}, {5, 0, 0, 0, nan, 9, 0, 0, 1}));
    EvaluationSums s;
    s.add(tape, z, {0, 2, 2});
    const Evaluation r = s.result();
    CHECK(r.examples == 3);
    CHECK(r.nonfinite == 1);
    CHECK(r.accuracy == doctest::Approx(2.0 / 3.0));
    CHECK(std::isnan(r.loss));
    s.add(tape, tape.input(Tensor(Shape{1, 3}, {1, 0, 0})), {0});  // NaN stays: the evaluation saw one
    CHECK(std::isnan(s.result().loss));

    EvaluationSums inf;
    inf.add(tape, tape.input(Tensor(Shape{1, 2}, {-3e38f, 3e38f})), {0});  // finite, but the loss is not
    CHECK(inf.result().loss == INFINITY);
    CHECK(inf.result().nonfinite == 0);
}

TEST_CASE("evaluate: bad labels and shapes are refused with one line") {
    Tape tape;
    EvaluationSums s;
    Var z = tape.input(Tensor(Shape{2, 3}, 0.0f));
    CHECK_THROWS_WITH_AS(s.add(tape, z, {0, 3}), "evaluate: label 3 at index 1 is outside [0, 3)", std::invalid_argument);
    CHECK_THROWS_WITH_AS(s.add(tape, z, {0}), "evaluate: logits (2, 3) for 1 labels (expected (1, classes))",
                         std::invalid_argument);
}
