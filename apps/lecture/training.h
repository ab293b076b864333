// Small, fast models on Fashion-MNIST for the experiments that train
// (momentum-conjugacy, batch-scaling, rmsprop-*, adam-simplified, snapshot-ensemble,
// adaptive, step-decay):
// softmax regression or a small MLP written with core ops, fixed subsets of
// the data held as float matrices, and a training step that samples its batch
// with a seeded generator, so every run is reproducible.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "apps/lecture/common.h"
#include "core/core.h"
#include "optim/optimizer.h"

namespace dl::lecture {

// Examples as rows: x (count, 784) with pixel/255 minus the mean pixel of
// the training set, times `scale`; y the labels.
struct Features {
    Tensor x;
    std::vector<int> y;
    int count() const { return static_cast<int>(y.size()); }
    int dim() const { return x.dim(1); }
};
struct FashionSubset {
    Features train, test;
};
// n_train random training images (seeded) and the first n_test test images.
// Throws std::runtime_error (naming the directory) when the data is missing.
FashionSubset load_fashion(int n_train, int n_test, uint64_t seed, float scale = 1.0f);

// Runs OpenMP and OpenBLAS on one thread while it lives: the models here
// are so small that waking a thread pool for each op costs more than the op.
class SingleThread {
public:
    SingleThread() : previous_(num_threads()) { set_num_threads(1); }
    ~SingleThread() { set_num_threads(previous_); }
    SingleThread(const SingleThread&) = delete;
    SingleThread& operator=(const SingleThread&) = delete;

private:
    int previous_;
};

// The first n examples of f (a fixed evaluation subset of a training set).
Features first_examples(const Features& f, int n);

// An MLP of Linear layers with ReLU between them; sizes {784, 10} is softmax regression.
class Net {
public:
    // Weights ~ N(0, 1/fan_in) (zero_init: all zero), biases 0.
    Net(const std::vector<int>& sizes, uint64_t seed, bool zero_init = false);
    Var forward(Tape& tape, Var x);
    ParameterList parameters();

private:
    std::vector<Parameter> weights_, biases_;
};

// One training step on a batch of B examples drawn uniformly (with
// replacement): forward, backward (with per-example statistics when the
// optimizer needs them), optimizer step. Returns the batch loss, or NaN when
// the run diverged (a non-finite loss).
double train_step(Net& net, Optimizer& opt, const Features& data, int batch, Rng& rng, Tape& tape);

// Forward and backward with statistics on `count` examples starting at
// `first`, without a step: fills grad and grad_sq of every parameter.
void gradient_statistics(Net& net, const Features& data, int first, int count, Tape& tape);

// Loss on `eval` at points + 1 evenly spaced moments of a run of `steps`
// steps (the first before any step); NaN once the run diverged. `before_step`
// (optional) is called with the step number before each step (schedules).
struct Curve {
    std::vector<double> examples, loss;
    bool diverged = false;
};
Curve train_curve(Net& net, Optimizer& opt, const Features& train, const Features& eval, int batch, long steps,
                  int points, Rng& rng, const std::function<void(long)>& before_step = {});

// How far a family of loss curves (same checkpoints) spreads: the mean over
// checkpoints after the first of (max - min)/min across the curves. A diverged
// run (or a loss above `diverged_loss`) counts as `diverged_loss`.
double curve_spread(const std::vector<Curve>& curves, double diverged_loss = 10.0);

// The loss at the end of a run: the mean over its last `last` checkpoints
// (less noisy than the last alone); `diverged_loss` when the run diverged.
double final_loss(const Curve& c, int last = 3, double diverged_loss = 10.0);

// Mean cross-entropy and accuracy over a whole set (inference mode).
struct Evaluation {
    double loss = 0.0, accuracy = 0.0;
};
Evaluation evaluate(Net& net, const Features& data, Tape& tape);
// Softmax probabilities (count, classes) of every example (inference mode).
std::vector<float> predict_probabilities(Net& net, const Features& data, Tape& tape);
// Error rate (1 - accuracy) of class probabilities p (count, classes) against the labels.
double error_rate(const std::vector<float>& p, const Features& data);
// Mean cross-entropy of class probabilities p against the labels.
double cross_entropy(const std::vector<float>& p, const Features& data);

}  // namespace dl::lecture
