#include "optim/langevin.h"

#include <algorithm>
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

// The noise is drawn in blocks of kBlock samples, in parameter order: the same
// stream as one draw per value, without a call per value.
void Langevin::update(Parameter& p, size_t) {
    constexpr size_t kBlock = 512;
    float xi[kBlock];
    float* phi = p.value.data();
    const float* g = p.grad.data();
    const float eta = lr();
    const float noise = std::sqrt(2.0f * eta * options_.temperature);
    for (size_t start = 0; start < p.size(); start += kBlock) {
        const size_t n = std::min(kBlock, p.size() - start);
        rng_.fill(xi, n);
        for (size_t i = 0; i < n; ++i) phi[start + i] -= eta * g[start + i] + noise * xi[i];
    }
}


OptimizerEntry langevin_entry() {
    OptimizerEntry e = OptimizerEntry::of<Langevin>(
        "langevin", "Phi -= eta g + sqrt(2 eta T) xi (lecture: Gradient Flow and Langevin Dynamics)", option_table());
    e.batch_scaling = {BatchScaling::Rule::Linear, ""};
    return e;
}

}  // namespace dl
