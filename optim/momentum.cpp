#include "optim/momentum.h"

#include <cmath>
#include <cstdint>

#include "core/parallel.h"
#include "optim/registry.h"

namespace dl {

namespace {

const OptionTable<MomentumOptions>& option_table() {
    using O = MomentumOptions;
    static const OptionTable<O> table{
        option("lr", &O::lr, "learning rate eta", at_least(0)),
        time_constant("n_g", &O::n_g, "momentum", "time constant N_g of the velocity").also_flag("--momentum-n"),
        option("nesterov", &O::nesterov, "Nesterov's look-ahead along the velocity")};
    return table;
}

}  // namespace

Momentum::Momentum(ParameterList params, const MomentumOptions& options)
    : Optimizer("momentum", std::move(params), options.lr), options_(options) {
    option_table().validate(options, name());
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


OptimizerEntry momentum_entry() {
    OptimizerEntry e = OptimizerEntry::of<Momentum>(
        "momentum", "v = (1 - 1/N_g) v + eta g, Phi -= v (lecture: Momentum; PyTorch's SGD with momentum)",
        option_table());
    e.batch_scaling = {BatchScaling::Rule::OverTimeConstant, "n_g"};
    return e;
}

}  // namespace dl
