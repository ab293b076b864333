// build/examples/custom_model [--quick]: DeepOBS's fmnist_2c2d written layer by layer with its own initialisation,
// trained for an epoch (--quick: 10 steps, 1000 test images) by a registry optimizer and scored by evaluate().
#include <chrono>
#include <cstdio>
#include <numeric>

#include "data/data.h"
#include "layers/evaluate.h"
#include "layers/layers.h"
#include "layers/summary.h"
#include "optim/registry.h"

using namespace dl;

int main(int argc, char** argv) try {
    const bool quick = argc > 1 && std::string(argv[1]) == "--quick";
    std::mt19937 rng(1);
    Sequential model;
    for (int in = 1, out = 32; out <= 64; in = out, out *= 2) {
        model.add<Conv2d>(in, out, 5, 1, Conv2d::same, rng);  // 5x5, "same": the size is kept
        model.add<ReLU>();
        model.add<MaxPool2d>(2);
    }
    model.add<Flatten>();
    auto& hidden = model.add<Linear>(1024, rng);  // add returns the layer; its input size comes later
    model.add<ReLU>();
    model.add<Linear>(10, rng);
    fuse(model);  // each Conv2d, ReLU, MaxPool2d becomes one op, as in build/train's models
    std::printf("%s\n", summary(model, Shape{1, 28, 28}).c_str());  // runs one example: sizes are learnt
    std::printf("the hidden layer learnt its input size: %s\n", hidden.describe().c_str());
    initialize(model, Role::Weight, Init::truncated_normal(0.05f), rng);  // every conv and linear
    initialize(model, Role::Bias, Init::constant(0.05f), rng);
    auto opt = make_optimizer("momentum", model.parameters(), {{"lr", 0.01f}, {"momentum", 0.9}});
    const Dataset train = load_mnist_dir(default_data_dir(), true), test = load_mnist_dir(default_data_dir(), false);
    DataLoaderOptions o;
    o.batch_size = 128;
    o.norm = compute_normalization(train);  // (pixel/255 - mean) / std, as build/train normalises
    DataLoader loader(train, o);
    Tape tape;
    long seen = 0, steps = quick ? 10 : loader.batches_per_epoch();
    const auto start = std::chrono::steady_clock::now();
    loader.start_epoch(0);
    for (const Batch* b; seen < steps * o.batch_size && (b = loader.next()); seen += b->y.size()) {
        tape.reset();
        opt->zero_grad();
        tape.backward(softmax_cross_entropy(tape, model.forward(tape, tape.input(b->x)), b->y));
        opt->step();
    }
    const std::chrono::duration<double> secs = std::chrono::steady_clock::now() - start;
    std::vector<int> images(quick ? 1000 : test.count);
    std::iota(images.begin(), images.end(), 0);
    o.shuffle = false;
    DataLoader test_loader(test, images, o);
    const Evaluation e = evaluate(model, test_loader);
    std::printf("%ld examples, %.0f/s; test loss %.4f, accuracy %.4f\n", seen, seen / secs.count(), e.loss, e.accuracy);
} catch (const std::exception& e) {
    std::fprintf(stderr, "custom_model: %s\n", e.what());
    return 1;
}
