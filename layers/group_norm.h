// GroupNorm(groups, channels): group normalisation over (N, channels, H, W) or
// (N, channels), gamma (the parameter "weight") starting at 1 and beta ("bias") at
// 0, one per channel, as in PyTorch's nn.GroupNorm(groups, channels). Each example
// is normalised on its own, so the layer allows per-example statistics (unlike
// BatchNorm in training). GroupNorm(1, C) normalises each example as a whole,
// GroupNorm(C, C) each channel. The op: group_norm in core/ops_nn.h.
#pragma once
#include <stdexcept>
#include <string>

#include "core/ops_nn.h"
#include "layers/module.h"

namespace dl {

class GroupNorm : public Module {
public:
    GroupNorm(int groups, int channels, float eps = 1e-5f)
        : groups_(groups), channels_(channels), eps_(eps), gamma_("weight", Shape{channels}),
          beta_("bias", Shape{channels}) {
        if (groups < 1 || channels < 1 || channels % groups != 0)
            throw std::invalid_argument("GroupNorm: " + std::to_string(groups) + " groups must divide the " +
                                        std::to_string(channels) + " channels");
        if (!(eps > 0.0f)) throw std::invalid_argument("GroupNorm: eps " + std::to_string(eps) + " must be > 0");
        gamma_.value.fill(1.0f);
    }

    Var forward(Tape& tape, Var x) override { return group_norm(tape, x, gamma_, beta_, groups_, eps_); }
    std::string describe() const override {
        return "GroupNorm(" + std::to_string(groups_) + " groups, " + std::to_string(channels_) + " channels)";
    }
    ParameterList parameters() override { return {&gamma_, &beta_}; }

    Parameter& gamma() { return gamma_; }
    Parameter& beta() { return beta_; }
    int groups() const { return groups_; }
    float eps() const { return eps_; }

private:
    int groups_, channels_;
    float eps_;
    Parameter gamma_, beta_;
};

}  // namespace dl
