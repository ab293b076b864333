// build/examples/first: the smallest complete program - copy it to start your own.
// Loads Fashion-MNIST, builds a model from layers, picks an optimizer by name,
// trains one epoch and evaluates on the test set.
//   build/examples/first [--quick]     (--quick: 50 steps)
#include <cstdio>
#include <cstring>
#include <random>

#include "core/core.h"
#include "data/data.h"
#include "layers/evaluate.h"
#include "layers/layers.h"
#include "optim/optim.h"

using namespace dl;

int main(int argc, char** argv) try {
    const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
    Dataset train = load_mnist_dir(default_data_dir(), true), test = load_mnist_dir(default_data_dir(), false);
    std::mt19937 rng(1);
    Sequential model;
    model.add<Flatten>();
    model.add<Linear>(784, 128, rng);
    model.add<ReLU>();
    model.add<Linear>(128, 10, rng);
    auto opt = make_optimizer("adam", model.parameters());

    // Pixels become (pixel/255 - mean) / std with the training set's mean and std, as
    // build/train does (without o.norm the loader gives pixel/255). The test set uses the same.
    DataLoaderOptions o;
    o.norm = compute_normalization(train);
    DataLoader loader(train, o);
    const int steps = quick ? 50 : loader.batches_per_epoch();
    Tape tape;
    loader.start_epoch(0);
    for (int step = 0; step < steps; ++step) {
        const Batch* b = loader.next();
        tape.reset();
        opt->zero_grad();
        tape.backward(softmax_cross_entropy(tape, model.forward(tape, tape.input(b->x)), b->y));
        opt->step();
    }

    o.shuffle = false;
    DataLoader test_loader(test, o);
    const Evaluation e = evaluate(model, test_loader);  // layers/evaluate.h
    std::printf("after %d steps: test loss %.4f, accuracy %.4f\n", steps, e.loss, e.accuracy);
} catch (const std::exception& e) {
    std::fprintf(stderr, "first: %s\n", e.what());
    return 1;
}
