// MaxPool2d and AvgPool2d over k x k windows; the stride defaults to k (as in PyTorch).
#pragma once
#include <string>

#include "core/ops_nn.h"
#include "layers/module.h"

namespace dl {

class MaxPool2d : public Module {
public:
    explicit MaxPool2d(int kernel, int stride = 0) : kernel_(kernel), stride_(stride > 0 ? stride : kernel) {}
    Var forward(Tape& tape, Var x) override { return max_pool2d(tape, x, kernel_, stride_); }
    std::string describe() const override {
        return "MaxPool2d(kernel " + std::to_string(kernel_) + ", stride " + std::to_string(stride_) + ")";
    }
    int kernel() const { return kernel_; }
    int stride() const { return stride_; }

private:
    int kernel_, stride_;
};

class AvgPool2d : public Module {
public:
    explicit AvgPool2d(int kernel, int stride = 0) : kernel_(kernel), stride_(stride > 0 ? stride : kernel) {}
    Var forward(Tape& tape, Var x) override { return avg_pool2d(tape, x, kernel_, stride_); }
    std::string describe() const override {
        return "AvgPool2d(kernel " + std::to_string(kernel_) + ", stride " + std::to_string(stride_) + ")";
    }
    int kernel() const { return kernel_; }
    int stride() const { return stride_; }

private:
    int kernel_, stride_;
};

}  // namespace dl
