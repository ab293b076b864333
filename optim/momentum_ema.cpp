#include "optim/momentum_ema.h"

#include <cmath>
#include <cstdint>

#include "core/parallel.h"
#include "optim/registry.h"
#include "optim/running_average.h"

namespace dl {

namespace {

const OptionTable<MomentumEMAOptions>& option_table() {
    using O = MomentumEMAOptions;
    static const OptionTable<O> table{
        option("lr", &O::lr, "eta', the learning rate appropriate without momentum", at_least(0)),
        time_constant("n_g", &O::n_g, "momentum", "time constant N_g of the gradient average").also_flag("--momentum-n")};
    return table;
}

}  // namespace

MomentumEMA::MomentumEMA(ParameterList params, const MomentumEMAOptions& options)
    : Optimizer("momentum-ema", std::move(params), options.lr), options_(options) {
    option_table().validate(options, name());
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


OptimizerEntry momentum_ema_entry() {
    OptimizerEntry e = OptimizerEntry::of<MomentumEMA>(
        "momentum-ema", "mu = (1 - 1/N_g) mu + g/N_g, Phi -= eta' mu (lecture: An Equivalent Formulation of Momentum)",
        option_table());
    e.batch_scaling = {BatchScaling::Rule::Linear, "n_g"};
    return e;
}

}  // namespace dl
