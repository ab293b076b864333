#include "optim/momentum_ema.h"

#include <cmath>
#include <cstdint>

#include "core/parallel.h"
#include "optim/running_average.h"

namespace dl {

MomentumEMA::MomentumEMA(ParameterList params, const MomentumEMAOptions& options)
    : Optimizer("momentum-ema", std::move(params), options.lr), options_(options) {
    check_time_constant(name(), "n_g", options.n_g);
    mean_ = add_state(1);
}

void MomentumEMA::update(Parameter& p, size_t index) {
    float* mu = state(index, mean_);
    const RunningAverage average{Averaging::Ema, options_.n_g};
    running_average(mu, p.grad.data(), p.size(), average.rate(t()));
    float* phi = p.value.data();
    const float eta = lr();
    const int64_t n = static_cast<int64_t>(p.size());
#pragma omp parallel for if (n >= static_cast<int64_t>(kParallelMin))
    for (int64_t i = 0; i < n; ++i) phi[i] -= eta * mu[i];
}

}  // namespace dl
