// Parameter: a persistent leaf of the computation - a learnable tensor with
// its gradient and, when the tape computes them, per-example statistics.
//
// Layers own Parameters; optimizers update them; the two meet here and nowhere
// else. A Parameter survives tape.reset(): it is not an activation.
#pragma once
#include <string>
#include <vector>

#include "core/tensor.h"

namespace dl {

struct Parameter {
    std::string name;   // "0.weight", "conv1.bias", ... (set by the model)
    Tensor value;
    Tensor grad;        // (1/B) sum_b g_b after backward of a mean loss
    Tensor grad_sq;     // (1/B) sum_b g_b (.) g_b; filled only when the tape computes statistics
    int stats_batch = 0;  // B that grad_sq was computed over (0: no statistics this step)

    Parameter() = default;
    Parameter(std::string n, const Shape& shape)
        : name(std::move(n)), value(shape), grad(shape) {}

    size_t size() const { return value.size(); }

    // Gives grad the shape of value (zero-filled) unless it has it already.
    void ensure_grad() {
        if (grad.shape() != value.shape()) grad = Tensor(value.shape());
    }

    // Zero grad (and grad_sq if present); called by Optimizer::zero_grad.
    void zero_grad() {
        grad.zero();
        grad_sq.zero();
        stats_batch = 0;
    }
};

using ParameterList = std::vector<Parameter*>;

}  // namespace dl
