// Elementwise activations: ReLU, LeakyReLU, Tanh, Sigmoid (ops in core/ops/elementwise.cpp).
#pragma once
#include <string>

#include "core/ops.h"
#include "layers/module.h"

namespace dl {

class ReLU : public Module {
public:
    Var forward(Tape& tape, Var x) override { return relu(tape, x); }
    std::string describe() const override { return "ReLU"; }
};

class LeakyReLU : public Module {
public:
    explicit LeakyReLU(float slope = 0.01f) : slope_(slope) {}
    Var forward(Tape& tape, Var x) override { return leaky_relu(tape, x, slope_); }
    std::string describe() const override { return "LeakyReLU(" + std::to_string(slope_) + ")"; }
    float slope() const { return slope_; }

private:
    float slope_;
};

class Tanh : public Module {
public:
    Var forward(Tape& tape, Var x) override { return tanh(tape, x); }
    std::string describe() const override { return "Tanh"; }
};

class Sigmoid : public Module {
public:
    Var forward(Tape& tape, Var x) override { return sigmoid(tape, x); }
    std::string describe() const override { return "Sigmoid"; }
};

}  // namespace dl
