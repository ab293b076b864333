// Fused layers: a run of layers computed as one op, with the same numbers, and
// fuse(), the pass that puts them in place. Sequential itself never fuses: a model
// is fused when its builder (make_model) or its user calls fuse().
//
//   ConvReluMaxPool   Conv2d, ReLU, MaxPool2d  -> conv2d_relu_max_pool2d (the convolution's
//                                                output is never stored; core/ops_nn.h)
//   ReluMaxPool       ReLU, MaxPool2d          -> relu_max_pool2d (one pass instead of two)
//
// A fused layer owns the layers it replaces, so its parameters are theirs, with
// their names ("0.weight"): checkpoints of the plain and of the fused model are the same.
#pragma once
#include <memory>
#include <string>

#include "layers/activations.h"
#include "layers/conv2d.h"
#include "layers/pooling.h"
#include "layers/sequential.h"

namespace dl {

class ConvReluMaxPool : public Module {
public:
    ConvReluMaxPool(std::unique_ptr<Conv2d> conv, std::unique_ptr<ReLU> relu, std::unique_ptr<MaxPool2d> pool)
        : conv_(std::move(conv)), relu_(std::move(relu)), pool_(std::move(pool)) {}

    Var forward(Tape& tape, Var x) override {
        return conv2d_relu_max_pool2d(tape, x, conv_->weight(), conv_->bias_or_null(), conv_->stride(),
                                      conv_->padding(), pool_->kernel(), pool_->stride());
    }
    std::string describe() const override {
        return "ConvReluMaxPool(" + conv_->describe() + ", " + relu_->describe() + ", " + pool_->describe() + ")";
    }
    ParameterList parameters() override { return conv_->parameters(); }
    void train(bool on = true) override {
        training_ = on;
        conv_->train(on);
    }

    Conv2d& conv() { return *conv_; }
    MaxPool2d& pool() { return *pool_; }

private:
    std::unique_ptr<Conv2d> conv_;
    std::unique_ptr<ReLU> relu_;
    std::unique_ptr<MaxPool2d> pool_;
};

class ReluMaxPool : public Module {
public:
    ReluMaxPool(std::unique_ptr<ReLU> relu, std::unique_ptr<MaxPool2d> pool)
        : relu_(std::move(relu)), pool_(std::move(pool)) {}

    Var forward(Tape& tape, Var x) override { return relu_max_pool2d(tape, x, pool_->kernel(), pool_->stride()); }
    std::string describe() const override {
        return "ReluMaxPool(" + relu_->describe() + ", " + pool_->describe() + ")";
    }

    MaxPool2d& pool() { return *pool_; }

private:
    std::unique_ptr<ReLU> relu_;
    std::unique_ptr<MaxPool2d> pool_;
};

// Replaces, in `model` and in the Sequentials inside it, every Conv2d, ReLU,
// MaxPool2d run with one ConvReluMaxPool and every other ReLU, MaxPool2d pair with
// one ReluMaxPool. Returns how many fused layers it put in. Parameter names and
// order do not change; call it after the last add().
int fuse(Sequential& model);

}  // namespace dl
