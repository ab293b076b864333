#include "layers/evaluate.h"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>

#include "core/ops.h"

namespace dl {

namespace {

bool finite_row(const float* row, int n) {
    for (int c = 0; c < n; ++c)
        if (!std::isfinite(row[c])) return false;
    return true;
}

// Puts a model in eval mode while it lives, then back in the mode it was in.
class EvalMode {
public:
    explicit EvalMode(Module& m) : model_(m), was_training_(m.training()) { m.eval(); }
    ~EvalMode() { model_.train(was_training_); }
    EvalMode(const EvalMode&) = delete;
    EvalMode& operator=(const EvalMode&) = delete;

private:
    Module& model_;
    bool was_training_;
};

}  // namespace

int predicted_class(const float* row, int n) { return static_cast<int>(std::max_element(row, row + n) - row); }

void EvaluationSums::add(Tape& tape, Var logits, const std::vector<int>& labels) {
    const Tensor& z = tape.value(logits);
    if (z.shape().rank != 2 || z.dim(1) == 0 || z.dim(0) != static_cast<int>(labels.size()))
        throw std::invalid_argument("evaluate: logits " + z.shape().str() + " for " + std::to_string(labels.size()) +
                                    " labels (expected (" + std::to_string(labels.size()) + ", classes))");
    const int N = z.dim(0), C = z.dim(1);
    long bad = 0;
    for (int r = 0; r < N; ++r) {
        if (labels[r] < 0 || labels[r] >= C)
            throw std::invalid_argument("evaluate: label " + std::to_string(labels[r]) + " at index " +
                                        std::to_string(r) + " is outside [0, " + std::to_string(C) + ")");
        const float* row = z.data() + static_cast<size_t>(r) * C;
        if (!finite_row(row, C)) ++bad;
        else correct += predicted_class(row, C) == labels[r];
    }
    if (bad > 0) {
        loss = NAN;
    } else {
        try {
            loss += tape.value(softmax_cross_entropy(tape, logits, labels, Reduction::Sum))[0];
        } catch (const std::runtime_error&) {  // finite logits whose loss overflows a float
            loss += std::numeric_limits<double>::infinity();
        }
    }
    examples += N;
    nonfinite += bad;
}

Evaluation EvaluationSums::result() const {
    Evaluation e;
    e.examples = examples;
    e.nonfinite = nonfinite;
    if (examples > 0) {
        e.loss = loss / static_cast<double>(examples);
        e.accuracy = correct / static_cast<double>(examples);
    }
    return e;
}

EvaluationSums evaluate_sums(Module& model, DataLoader& loader, const EvaluateOptions& options) {
    if (options.shards < 1 || options.shard < 0 || options.shard >= options.shards)
        throw std::invalid_argument("evaluate: shard " + std::to_string(options.shard) + " of " +
                                    std::to_string(options.shards) + " (expected 0 <= shard < shards)");
    Tape own;
    Tape& tape = options.tape ? *options.tape : own;
    EvalMode eval_mode(model);
    NoGrad no_grad(tape);
    EvaluationSums sums;
    loader.start_epoch(0);
    int b = 0;
    while (const Batch* batch = loader.next()) {
        if (b++ % options.shards != options.shard) continue;
        tape.reset();
        sums.add(tape, model.forward(tape, tape.input(batch->x)), batch->y);
    }
    return sums;
}

Evaluation evaluate(Module& model, DataLoader& loader, const EvaluateOptions& options) {
    return evaluate_sums(model, loader, options).result();
}

}  // namespace dl
