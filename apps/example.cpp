// build/example: the smallest complete program - copy it to start your own.
// Loads Fashion-MNIST, builds a model from layers, picks an optimizer by name,
// trains one epoch and evaluates on the test set.
#include <algorithm>
#include <cstdio>
#include <random>

#include "core/core.h"
#include "data/data.h"
#include "layers/layers.h"
#include "optim/optim.h"

using namespace dl;

int main() {
    Dataset train = load_mnist_dir(default_data_dir(), true), test = load_mnist_dir(default_data_dir(), false);
    std::mt19937 rng(1);
    Sequential model;
    model.add<Flatten>();
    model.add<Linear>(784, 128, rng);
    model.add<ReLU>();
    model.add<Linear>(128, 10, rng);
    auto opt = make_optimizer("adam", model.parameters());

    DataLoaderOptions o;
    o.norm = compute_normalization(train);
    DataLoader loader(train, o);
    Tape tape;
    loader.start_epoch(0);
    while (const Batch* b = loader.next()) {
        tape.reset();
        opt->zero_grad();
        tape.backward(softmax_cross_entropy(tape, model.forward(tape, tape.input(b->x)), b->y));
        opt->step();
    }

    o.shuffle = false;
    DataLoader test_loader(test, o);
    test_loader.start_epoch(0);
    int correct = 0;
    NoGrad inference(tape);
    while (const Batch* b = test_loader.next()) {
        tape.reset();
        const Tensor& logits = tape.value(model.forward(tape, tape.input(b->x)));
        for (size_t i = 0; i < b->y.size(); ++i) {
            const float* row = logits.data() + i * 10;
            correct += std::max_element(row, row + 10) - row == b->y[i];
        }
    }
    std::printf("test accuracy after one epoch: %.4f\n", correct / double(test.count));
}
