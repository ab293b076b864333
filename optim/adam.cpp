#include "optim/adam.h"

#include <cmath>
#include <cstdint>

#include "core/parallel.h"
#include "optim/registry.h"
#include "optim/running_average.h"

namespace dl {

namespace {

const OptionTable<AdamOptions>& option_table() {
    using O = AdamOptions;
    static const OptionTable<O> table{
        option("lr", &O::lr, "learning rate eta", at_least(0)),
        time_constant("n_g", &O::n_g, "beta1", "time constant N_g of the gradient average").also_flag("--momentum-n"),
        time_constant("n_s", &O::n_s, "beta2", "time constant N_s of the average of g^2").also_flag("--rms-n"),
        option("eps", &O::eps, "added to sqrt(s), outside the root", at_least(0)),
        option("weight_decay", &O::weight_decay, "decoupled weight decay lambda (AdamW)", at_least(0))};
    return table;
}

}  // namespace

Adam::Adam(ParameterList params, const AdamOptions& options)
    : Optimizer("adam", std::move(params), options.lr), options_(options) {
    option_table().validate(options, name());
    mean_ = add_state(1);
    second_moment_ = add_state(1);
}

// Once per step, not per tensor: every parameter sees the same t.
void Adam::begin_step() {
    const double beta1 = 1.0 - 1.0 / options_.n_g, beta2 = 1.0 - 1.0 / options_.n_s;
    correction1_ = static_cast<float>(1.0 - std::pow(beta1, static_cast<double>(t())));
    correction2_ = static_cast<float>(1.0 - std::pow(beta2, static_cast<double>(t())));
}

void Adam::update(Parameter& p, size_t index) {
    float* mu = state(index, mean_);
    float* s = state(index, second_moment_);
    const float* g = p.grad.data();
    const size_t count = p.size();
    running_average(mu, g, count, 1.0f / options_.n_g);
    running_average_sq(s, g, count, 1.0f / options_.n_s);

    float* phi = p.value.data();
    const float eta = lr(), eps = options_.eps;
    const float decay = 1.0f - eta * options_.weight_decay;
    const float c1 = correction1_, c2 = correction2_;
    const int64_t n = static_cast<int64_t>(count);
#pragma omp parallel for if (n >= static_cast<int64_t>(kParallelMin))
    for (int64_t i = 0; i < n; ++i)
        phi[i] = decay * phi[i] - eta * (mu[i] / c1) / (std::sqrt(s[i] / c2) + eps);
}


OptimizerEntry adam_entry() {
    OptimizerEntry e = OptimizerEntry::of<Adam>(
        "adam", "Adam with bias correction 1 - beta^t (Kingma & Ba 2015; AdamW with weight_decay)", option_table());
    e.batch_scaling = {BatchScaling::Rule::Linear, "n_g"};
    return e;
}

}  // namespace dl
