#include "optim/adam_lecture.h"

#include <cmath>
#include <cstdint>

#include "core/parallel.h"
#include "optim/registry.h"
#include "optim/running_average.h"

namespace dl {

namespace {

const OptionTable<AdamLectureOptions>& option_table() {
    using O = AdamLectureOptions;
    static const OptionTable<O> table{
        option("lr", &O::lr, "learning rate eta", at_least(0)),
        time_constant("n_g", &O::n_g, "beta1", "time constant N_g of the gradient average").also_flag("--momentum-n"),
        time_constant("n_s", &O::n_s, "beta2", "time constant N_s of the average of g^2").also_flag("--rms-n"),
        option("eps", &O::eps, "added to s, inside the root", at_least(0))};
    return table;
}

}  // namespace

AdamLecture::AdamLecture(ParameterList params, const AdamLectureOptions& options)
    : Optimizer("adam-lecture", std::move(params), options.lr), options_(options) {
    option_table().validate(options, name());
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


OptimizerEntry adam_lecture_entry() {
    OptimizerEntry e = OptimizerEntry::of<AdamLecture>(
        "adam-lecture", "the lecture's Adam (simplified): averages of rate 1/min(t, N), no other correction",
        option_table());
    e.batch_scaling = {BatchScaling::Rule::Linear, "n_g"};
    return e;
}

}  // namespace dl
