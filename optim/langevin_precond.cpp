#include "optim/langevin_precond.h"

#include <algorithm>
#include <cmath>

#include "optim/registry.h"
#include "optim/running_average.h"

namespace dl {

namespace {

const OptionTable<LangevinPrecondOptions>& option_table() {
    using O = LangevinPrecondOptions;
    static const OptionTable<O> table{
        option("lr", &O::lr, "eta', in units of the loss: eta_i = eta'/sigma_i^2", at_least(0)),
        time_constant("n_s", &O::n_s, "alpha", "time constant N_s of the average of sigma^2").also_flag("--rms-n"),
        option("sigma2_floor", &O::sigma2_floor, "floor on sigma^2, bounds eta_i by eta'/floor", above(0)),
        option("temperature", &O::temperature, "temperature T of the explicit noise", at_least(0)),
        option("seed", &O::seed, "seed of the noise").filled_by(OptionRole::Seed)};
    return table;
}

}  // namespace

LangevinPrecond::LangevinPrecond(ParameterList params, const LangevinPrecondOptions& options)
    : Optimizer("langevin-precond", std::move(params), options.lr), options_(options),
      rng_(options.seed) {
    option_table().validate(options, name());
    variance_ = add_state(1);
}

// The noise (T > 0) is drawn in blocks, in parameter order, as in langevin.
void LangevinPrecond::update(Parameter& p, size_t index) {
    constexpr size_t kBlock = 512;
    float xi[kBlock];
    float* sigma2 = state(index, variance_);
    float* phi = p.value.data();
    const float* g = p.grad.data();
    const float* g_sq = p.grad_sq.data();
    const float rate = RunningAverage{Averaging::BiasCorrected, options_.n_s}.rate(t());
    const float eta_prime = lr(), floor = options_.sigma2_floor, T = options_.temperature;
    for (size_t start = 0; start < p.size(); start += kBlock) {
        const size_t n = std::min(kBlock, p.size() - start);
        if (T > 0.0f) rng_.fill(xi, n);
        for (size_t j = 0; j < n; ++j) {
            const size_t i = start + j;
            const float batch_variance = g_sq[i] - g[i] * g[i];
            sigma2[i] = (1.0f - rate) * sigma2[i] + rate * batch_variance;
            const float eta = eta_prime / std::max(sigma2[i], floor);
            phi[i] -= eta * g[i];
            if (T > 0.0f) phi[i] -= std::sqrt(2.0f * eta * T) * xi[j];
        }
    }
}


OptimizerEntry langevin_precond_entry() {
    OptimizerEntry e = OptimizerEntry::of<LangevinPrecond>(
        "langevin-precond", "Langevin with eta_i = eta'/sigma_i^2 from per-example variances (lecture: Langevin and RMSProp)",
        option_table());
    e.statistics = NeedsStatistics::Always;
    e.batch_scaling = {BatchScaling::Rule::Linear, ""};
    return e;
}

}  // namespace dl
