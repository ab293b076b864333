// BatchNorm1d over (N, F) and BatchNorm2d over (N, C, H, W): batch statistics in
// training (updating the running statistics with momentum 0.1, like PyTorch),
// running statistics in eval. gamma starts at 1, beta at 0.
#pragma once
#include <stdexcept>
#include <string>

#include "core/ops_nn.h"
#include "layers/module.h"

namespace dl {

class BatchNorm : public Module {
public:
    BatchNorm(const char* kind, int channels, float momentum = 0.1f, float eps = 1e-5f)
        : kind_(kind), channels_(channels), momentum_(momentum), eps_(eps),
          gamma_("weight", Shape{channels}), beta_("bias", Shape{channels}),
          running_mean_{"running_mean", Tensor(Shape{channels}, 0.0f)},
          running_var_{"running_var", Tensor(Shape{channels}, 1.0f)} {
        gamma_.value.fill(1.0f);
    }

    Var forward(Tape& tape, Var x) override {
        return batch_norm(tape, x, gamma_, beta_, running_mean_.value, running_var_.value, training_, momentum_, eps_);
    }
    std::string describe() const override { return kind_ + "(" + std::to_string(channels_) + ")"; }
    ParameterList parameters() override { return {&gamma_, &beta_}; }
    BufferList buffers() override { return {&running_mean_, &running_var_}; }
    void state_fields(Fields& f) override {
        f("running_mean", running_mean_.value);
        f("running_var", running_var_.value);
    }

    Parameter& gamma() { return gamma_; }
    Parameter& beta() { return beta_; }
    Buffer& running_mean() { return running_mean_; }
    Buffer& running_var() { return running_var_; }
    float eps() const { return eps_; }

private:
    std::string kind_;
    int channels_;
    float momentum_, eps_;
    Parameter gamma_, beta_;  // named "weight" and "bias", as in PyTorch
    Buffer running_mean_, running_var_;
};

// Input (N, features).
class BatchNorm1d : public BatchNorm {
public:
    explicit BatchNorm1d(int features) : BatchNorm("BatchNorm1d", features) {}
    Var forward(Tape& tape, Var x) override {
        if (tape.shape(x).rank != 2)
            throw std::invalid_argument("BatchNorm1d: input " + tape.shape(x).str() + " must be (N, features)");
        return BatchNorm::forward(tape, x);
    }
};

// Input (N, channels, H, W).
class BatchNorm2d : public BatchNorm {
public:
    explicit BatchNorm2d(int channels) : BatchNorm("BatchNorm2d", channels) {}
    Var forward(Tape& tape, Var x) override {
        if (tape.shape(x).rank != 4)
            throw std::invalid_argument("BatchNorm2d: input " + tape.shape(x).str() + " must be (N, C, H, W)");
        return BatchNorm::forward(tape, x);
    }
};

}  // namespace dl
