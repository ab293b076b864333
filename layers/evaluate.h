// evaluate(): a classifier's mean cross-entropy and accuracy over a data set, the
// loop every program would otherwise write for itself (build/train, the examples).
//
//   DataLoaderOptions o;  o.shuffle = false;  o.norm = norm;   // the training's normalisation
//   DataLoader test_loader(test, o);
//   Evaluation e = evaluate(model, test_loader);           // e.loss, e.accuracy
//
// The model runs in eval mode (dropout off, batch norm on its running statistics)
// without recording gradients, and is put back in the mode it was in. The loader
// runs one epoch from its start (start_epoch(0)).
//
// What it counts, and the cases at the edges:
// - loss: each batch's summed softmax cross-entropy (softmax_cross_entropy with
//   Reduction::Sum, a float), added up in double, over the examples; accuracy: the
//   fraction of examples whose predicted_class is their label.
// - No examples (an empty data set, or a shard that gets no batch): examples is 0,
//   and loss and accuracy are NaN, not 0.
// - Logits that hold NaN or infinity (a diverged model): no exception, since that
//   is a result. Such an example counts as wrong, `nonfinite` counts it, and loss
//   is NaN. Finite logits too far apart for a float loss give loss +infinity.
// - Bad labels or logits that are not (batch, classes) throw std::invalid_argument.
#pragma once
#include <cmath>
#include <vector>

#include "core/tape.h"
#include "core/tensor.h"
#include "data/loader.h"
#include "layers/module.h"

namespace dl {

struct Evaluation {
    double loss = NAN;      // mean cross-entropy per example
    double accuracy = NAN;  // fraction classified right
    long examples = 0;      // how many were evaluated
    long nonfinite = 0;     // of them, how many had a NaN or infinite logit
};

// The running sums of an evaluation, one batch of logits at a time: for a program
// that computes its logits itself, or that adds up the sums of several processes.
struct EvaluationSums {
    double loss = 0.0;     // cross-entropy summed over the examples
    double correct = 0.0;  // examples classified right
    long examples = 0;
    long nonfinite = 0;

    // Adds a batch: logits (N, C) recorded on `tape`, labels (N) in [0, C).
    void add(Tape& tape, Var logits, const std::vector<int>& labels);
    // The means (NaN without examples).
    Evaluation result() const;
};

// The class a row of n logits (or probabilities) predicts: the index of the
// largest value, the first of equal ones (as std::max_element); n > 0.
int predicted_class(const float* row, int n);

struct EvaluateOptions {
    Tape* tape = nullptr;  // a tape to record on (reused, so its buffers stay allocated); nullptr: its own
    // Data-parallel evaluation: only batches b with b % shards == shard; add the
    // sums of all shards (evaluate_sums) before taking the means.
    int shard = 0, shards = 1;
};

// Loss and accuracy of `model` over one epoch of `loader`.
Evaluation evaluate(Module& model, DataLoader& loader, const EvaluateOptions& options = {});
// The same, as sums (for adding shards).
EvaluationSums evaluate_sums(Module& model, DataLoader& loader, const EvaluateOptions& options = {});

}  // namespace dl
