// LayerNorm(features): layer normalisation of each example over all its values,
// with gamma (the parameter "weight", starting at 1) and beta ("bias", at 0) shaped
// like one example: LayerNorm(256) after a Linear(.., 256), LayerNorm({32, 7, 7})
// after a convolution with 32 channels on 7x7. As PyTorch's nn.LayerNorm with
// normalized_shape = one example's shape. Each example is normalised on its own, so
// the layer allows per-example statistics. The op: layer_norm in core/ops_nn.h.
#pragma once
#include <stdexcept>
#include <string>

#include "core/ops_nn.h"
#include "layers/module.h"

namespace dl {

class LayerNorm : public Module {
public:
    explicit LayerNorm(const Shape& features, float eps = 1e-5f)
        : features_(features), eps_(eps), gamma_("weight", features), beta_("bias", features) {
        if (features.rank < 1 || features.numel() == 0)
            throw std::invalid_argument("LayerNorm: features " + features.str() + " must not be empty");
        if (!(eps > 0.0f)) throw std::invalid_argument("LayerNorm: eps " + std::to_string(eps) + " must be > 0");
        gamma_.value.fill(1.0f);
    }
    explicit LayerNorm(int features, float eps = 1e-5f) : LayerNorm(Shape{features}, eps) {}

    Var forward(Tape& tape, Var x) override { return layer_norm(tape, x, gamma_, beta_, eps_); }
    std::string describe() const override { return "LayerNorm(" + features_.str() + ")"; }
    ParameterList parameters() override { return {&gamma_, &beta_}; }

    Parameter& gamma() { return gamma_; }
    Parameter& beta() { return beta_; }
    float eps() const { return eps_; }

private:
    Shape features_;
    float eps_;
    Parameter gamma_, beta_;
};

}  // namespace dl
