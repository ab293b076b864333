#include "optim/momentum.h"

#include <cmath>
#include <cstdint>

#include "core/parallel.h"

namespace dl {

Momentum::Momentum(ParameterList params, const MomentumOptions& options)
    : Optimizer("momentum", std::move(params), options.lr), options_(options) {
    check_time_constant(name(), "n_g", options.n_g);
    velocity_ = add_state(1);
}

void Momentum::update(Parameter& p, size_t index) {
    float* phi = p.value.data();
    float* v = state(index, velocity_);
    const float* g = p.grad.data();
    const float keep = 1.0f - 1.0f / options_.n_g;
    const float eta = lr();
    const bool nesterov = options_.nesterov;
    const int64_t n = static_cast<int64_t>(p.size());
#pragma omp parallel for if (n >= static_cast<int64_t>(kParallelMin))
    for (int64_t i = 0; i < n; ++i) {
        v[i] = keep * v[i] + eta * g[i];
        phi[i] -= nesterov ? eta * g[i] + keep * v[i] : v[i];
    }
}

}  // namespace dl
