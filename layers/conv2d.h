// Conv2d: x (N, C, H, W) -> (N, OC, OH, OW); weight (OC, C, k, k), bias (OC).
// The op (core/ops_conv.cpp) runs a direct kernel (or im2col + GEMM) per example,
// parallel over the batch.
#pragma once
#include <random>
#include <string>

#include "core/ops_nn.h"
#include "layers/init.h"
#include "layers/module.h"

namespace dl {

class Conv2d : public Module {
public:
    Conv2d(int in_channels, int out_channels, int kernel, int stride, int padding, std::mt19937& rng,
           bool bias = true)
        : in_(in_channels), out_(out_channels), kernel_(kernel), stride_(stride), padding_(padding),
          has_bias_(bias), weight_("weight", Shape{out_channels, in_channels, kernel, kernel}),
          bias_("bias", Shape{out_channels}) {
        const int fan_in = in_channels * kernel * kernel;
        uniform_init(weight_.value, default_init_bound(fan_in), rng);
        if (bias) uniform_init(bias_.value, default_init_bound(fan_in), rng);
    }

    Var forward(Tape& tape, Var x) override {
        return conv2d(tape, x, weight_, has_bias_ ? &bias_ : nullptr, stride_, padding_);
    }
    // This layer, a ReLU and a max pool as one op (Sequential's fusion; the same numbers).
    Var forward_relu_max_pool(Tape& tape, Var x, int pool_kernel, int pool_stride) {
        return conv2d_relu_max_pool2d(tape, x, weight_, has_bias_ ? &bias_ : nullptr, stride_, padding_, pool_kernel,
                                      pool_stride);
    }
    std::string describe() const override {
        return "Conv2d(" + std::to_string(in_) + ", " + std::to_string(out_) + ", kernel " + std::to_string(kernel_) +
               ", stride " + std::to_string(stride_) + ", padding " + std::to_string(padding_) +
               (has_bias_ ? ")" : ", no bias)");
    }
    ParameterList parameters() override {
        if (has_bias_) return {&weight_, &bias_};
        return {&weight_};
    }

    Parameter& weight() { return weight_; }
    Parameter& bias() { return bias_; }
    bool has_bias() const { return has_bias_; }
    int stride() const { return stride_; }
    int padding() const { return padding_; }

private:
    int in_, out_, kernel_, stride_, padding_;
    bool has_bias_;
    Parameter weight_, bias_;
};

}  // namespace dl
