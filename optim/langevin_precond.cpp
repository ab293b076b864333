#include "optim/langevin_precond.h"

#include <algorithm>
#include <cmath>

#include "optim/running_average.h"

namespace dl {

LangevinPrecond::LangevinPrecond(ParameterList params, const LangevinPrecondOptions& options)
    : Optimizer("langevin-precond", std::move(params), options.lr), options_(options),
      rng_(options.seed) {
    check_time_constant(name(), "n_s", options.n_s);
    check_option(std::isfinite(options.sigma2_floor) && options.sigma2_floor > 0.0f, name(),
                 "sigma2_floor", options.sigma2_floor, "0 < sigma2_floor < inf");
    check_nonnegative(name(), "temperature", options.temperature);
    variance_ = add_state(1);
}

// Sequential: the noise must be drawn in the same order on every run.
void LangevinPrecond::update(Parameter& p, size_t index) {
    float* sigma2 = state(index, variance_);
    float* phi = p.value.data();
    const float* g = p.grad.data();
    const float* g_sq = p.grad_sq.data();
    const float rate = RunningAverage{Averaging::BiasCorrected, options_.n_s}.rate(t());
    const float eta_prime = lr(), floor = options_.sigma2_floor, T = options_.temperature;
    for (size_t i = 0; i < p.size(); ++i) {
        const float batch_variance = g_sq[i] - g[i] * g[i];
        sigma2[i] = (1.0f - rate) * sigma2[i] + rate * batch_variance;
        const float eta = eta_prime / std::max(sigma2[i], floor);
        phi[i] -= eta * g[i];
        if (T > 0.0f) phi[i] -= std::sqrt(2.0f * eta * T) * rng_.next();
    }
}

}  // namespace dl
