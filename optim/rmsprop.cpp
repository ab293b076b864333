#include "optim/rmsprop.h"

#include <cmath>
#include <cstdint>

#include "core/parallel.h"
#include "optim/running_average.h"

namespace dl {

namespace {

std::string rmsprop_name(const RMSPropOptions& o) {
    return std::string("rmsprop") + (o.variance ? "-var" : "") + (o.per_example ? "-per-example" : "");
}

}  // namespace

RMSProp::RMSProp(ParameterList params, const RMSPropOptions& options)
    : Optimizer(rmsprop_name(options), std::move(params), options.lr), options_(options) {
    check_time_constant(name(), "n_s", options.n_s);
    check_nonnegative(name(), "eps", options.eps);
    second_moment_ = add_state(1);
}

void RMSProp::update(Parameter& p, size_t index) {
    float* s = state(index, second_moment_);
    const float* g = p.grad.data();
    const size_t count = p.size();
    const float rate = RunningAverage{Averaging::Ema, options_.n_s}.rate(t());
    if (options_.per_example)
        running_average(s, p.grad_sq.data(), count, rate);
    else
        running_average_sq(s, g, count, rate);

    float* phi = p.value.data();
    const float eta = lr(), eps = options_.eps;
    const bool variance = options_.variance;
    const int64_t n = static_cast<int64_t>(count);
#pragma omp parallel for if (n >= static_cast<int64_t>(kParallelMin))
    for (int64_t i = 0; i < n; ++i)
        phi[i] -= eta * g[i] / (variance ? s[i] + eps : std::sqrt(s[i] + eps));
}

}  // namespace dl
