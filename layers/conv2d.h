// Conv2d: x (N, C, H, W) -> (N, OC, OH, OW); weight (OC, C, k, k), bias (OC).
// padding Conv2d::same keeps the size (stride 1, odd k: padding (k - 1) / 2).
// The op: core/ops/conv.cpp (fast floor: core/fast/conv.h). fuse() (layers/fused.h)
// runs a Conv2d, ReLU, MaxPool2d as one op.
#pragma once
#include <random>
#include <stdexcept>
#include <string>

#include "core/ops_nn.h"
#include "layers/init.h"
#include "layers/module.h"

namespace dl {

class Conv2d : public Module {
public:
    static constexpr int same = -1;  // as padding: the output has the input's height and width

    Conv2d(int in_channels, int out_channels, int kernel, int stride, int padding, std::mt19937& rng,
           bool bias = true)
        : in_(in_channels), out_(out_channels), kernel_(kernel), stride_(stride),
          padding_(padding == same ? same_padding(kernel, stride) : padding),
          has_bias_(bias), weight_("weight", Shape{out_channels, in_channels, kernel, kernel}),
          bias_("bias", Shape{out_channels}) {
        const int fan_in = in_channels * kernel * kernel;
        uniform_init(weight_.value, default_init_bound(fan_in), rng);
        if (bias) uniform_init(bias_.value, default_init_bound(fan_in), rng);
    }

    Var forward(Tape& tape, Var x) override {
        return conv2d(tape, x, weight_, has_bias_ ? &bias_ : nullptr, stride_, padding_);
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
    Parameter* bias_or_null() { return has_bias_ ? &bias_ : nullptr; }
    int stride() const { return stride_; }
    int padding() const { return padding_; }

private:
    // Padding is symmetric here, so "same" needs an odd kernel and stride 1.
    static int same_padding(int kernel, int stride) {
        if (kernel % 2 == 0 || stride != 1)
            throw std::invalid_argument("Conv2d: 'same' padding needs an odd kernel and stride 1, got kernel " +
                                        std::to_string(kernel) + ", stride " + std::to_string(stride));
        return (kernel - 1) / 2;
    }

    int in_, out_, kernel_, stride_, padding_;
    bool has_bias_;
    Parameter weight_, bias_;
};

}  // namespace dl
