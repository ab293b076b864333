// Linear: y = x W^T + b for x (N, in); weight (out, in), bias (out).
#pragma once
#include <random>
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

    Var forward(Tape& tape, Var x) override { return linear(tape, x, weight_, has_bias_ ? &bias_ : nullptr); }
    std::string describe() const override {
        return "Linear(" + std::to_string(in_) + ", " + std::to_string(out_) + (has_bias_ ? ")" : ", no bias)");
    }
    ParameterList parameters() override {
        if (has_bias_) return {&weight_, &bias_};
        return {&weight_};
    }

    Parameter& weight() { return weight_; }
    Parameter& bias() { return bias_; }
    Parameter* bias_or_null() { return has_bias_ ? &bias_ : nullptr; }

private:
    int in_, out_;
    bool has_bias_;
    Parameter weight_, bias_;
};

}  // namespace dl
