#include "optim/langevin.h"

#include <cmath>

#include "optim/registry.h"

namespace dl {

namespace {

const OptionTable<LangevinOptions>& option_table() {
    using O = LangevinOptions;
    static const OptionTable<O> table{
        option("lr", &O::lr, "learning rate eta", at_least(0)),
        option("temperature", &O::temperature, "temperature T of the explicit noise (0: SGD)", at_least(0)),
        option("seed", &O::seed, "seed of the noise").filled_by(OptionRole::Seed)};
    return table;
}

}  // namespace

Langevin::Langevin(ParameterList params, const LangevinOptions& options)
    : Optimizer("langevin", std::move(params), options.lr), options_(options), rng_(options.seed) {
    option_table().validate(options, name());
}

// Sequential: the noise must be drawn in the same order on every run.
void Langevin::update(Parameter& p, size_t) {
    float* phi = p.value.data();
    const float* g = p.grad.data();
    const float eta = lr();
    const float noise = std::sqrt(2.0f * eta * options_.temperature);
    for (size_t i = 0; i < p.size(); ++i) phi[i] -= eta * g[i] + noise * rng_.next();
}


OptimizerEntry langevin_entry() {
    OptimizerEntry e = OptimizerEntry::of<Langevin>(
        "langevin", "Phi -= eta g + sqrt(2 eta T) xi (lecture: Gradient Flow and Langevin Dynamics)", option_table());
    e.batch_scaling = {BatchScaling::Rule::Linear, ""};
    return e;
}

}  // namespace dl
