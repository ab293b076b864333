// Linear: y = x W^T + b for x (N, in); weight (out, in), bias (out).
//
//   Linear(784, 128, rng)   the input size given
//   Linear(128, rng)        the input size learnt at the first forward (like PyTorch's
//                           LazyLinear): until then the weight is (128, 0), so run one
//                           example through the model (summary(model, shape) does)
//                           before making the optimizer, which refuses empty parameters.
// Either way the values are PyTorch's default initialisation; a lazy layer draws them
// from its own generator, seeded from rng at construction.
#pragma once
#include <random>
#include <stdexcept>
#include <string>

#include "core/ops.h"
#include "layers/init.h"
#include "layers/module.h"

namespace dl {

class Linear : public Module {
public:
    Linear(int in, int out, std::mt19937& rng, bool bias = true)
        : in_(in), out_(out), has_bias_(bias), weight_("weight", Shape{out, in}), bias_("bias", Shape{out}) {
        uniform_init(weight_.value, default_init_bound(in), rng);
        if (bias) uniform_init(bias_.value, default_init_bound(in), rng);
    }
    Linear(int out, std::mt19937& rng, bool bias = true)
        : in_(0), out_(out), has_bias_(bias), weight_("weight", Shape{out, 0}), bias_("bias", Shape{out}),
          lazy_seed_(rng()) {}

    Var forward(Tape& tape, Var x) override {
        if (in_ == 0) infer_input_size(tape.shape(x));
        return linear(tape, x, weight_, has_bias_ ? &bias_ : nullptr);
    }
    std::string describe() const override {
        return "Linear(" + (in_ ? std::to_string(in_) : std::string("?")) + ", " + std::to_string(out_) +
               (has_bias_ ? ")" : ", no bias)");
    }
    ParameterList parameters() override {
        if (has_bias_) return {&weight_, &bias_};
        return {&weight_};
    }

    Parameter& weight() { return weight_; }
    Parameter& bias() { return bias_; }
    int in_features() const { return in_; }  // 0 until a lazy layer has seen its input
    int out_features() const { return out_; }
    Parameter* bias_or_null() { return has_bias_ ? &bias_ : nullptr; }

private:
    void infer_input_size(const Shape& x) {
        if (x.rank != 2 || x[1] < 1)
            throw std::invalid_argument(describe() + ": input " + x.str() +
                                        " must be (N, features); put a Flatten before it");
        in_ = x[1];
        std::mt19937 rng(lazy_seed_);
        weight_.value = Tensor(Shape{out_, in_});
        weight_.grad = Tensor(Shape{out_, in_});
        uniform_init(weight_.value, default_init_bound(in_), rng);
        if (has_bias_) uniform_init(bias_.value, default_init_bound(in_), rng);
    }

    int in_, out_;
    bool has_bias_;
    Parameter weight_, bias_;
    std::mt19937::result_type lazy_seed_ = 0;
};

}  // namespace dl
