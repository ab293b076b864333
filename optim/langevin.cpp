#include "optim/langevin.h"

#include <cmath>

namespace dl {

Langevin::Langevin(ParameterList params, const LangevinOptions& options)
    : Optimizer("langevin", std::move(params), options.lr), options_(options), rng_(options.seed) {
    check_nonnegative(name(), "temperature", options.temperature);
}

// Sequential: the noise must be drawn in the same order on every run.
void Langevin::update(Parameter& p, size_t) {
    float* phi = p.value.data();
    const float* g = p.grad.data();
    const float eta = lr();
    const float noise = std::sqrt(2.0f * eta * options_.temperature);
    for (size_t i = 0; i < p.size(); ++i) phi[i] -= eta * g[i] + noise * rng_.next();
}

}  // namespace dl
