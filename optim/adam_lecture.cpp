#include "optim/adam_lecture.h"

#include <cmath>
#include <cstdint>

#include "core/parallel.h"
#include "optim/running_average.h"

namespace dl {

AdamLecture::AdamLecture(ParameterList params, const AdamLectureOptions& options)
    : Optimizer("adam-lecture", std::move(params), options.lr), options_(options) {
    check_time_constant(name(), "n_g", options.n_g);
    check_time_constant(name(), "n_s", options.n_s);
    check_nonnegative(name(), "eps", options.eps);
    mean_ = add_state(1);
    second_moment_ = add_state(1);
}

void AdamLecture::update(Parameter& p, size_t index) {
    float* mu = state(index, mean_);
    float* s = state(index, second_moment_);
    const float* g = p.grad.data();
    const size_t count = p.size();
    running_average(mu, g, count, RunningAverage{Averaging::BiasCorrected, options_.n_g}.rate(t()));
    running_average_sq(s, g, count, RunningAverage{Averaging::BiasCorrected, options_.n_s}.rate(t()));

    float* phi = p.value.data();
    const float eta = lr(), eps = options_.eps;
    const int64_t n = static_cast<int64_t>(count);
#pragma omp parallel for if (n >= static_cast<int64_t>(kParallelMin))
    for (int64_t i = 0; i < n; ++i) phi[i] -= eta * mu[i] / std::sqrt(s[i] + eps);
}

}  // namespace dl
