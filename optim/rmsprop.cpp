#include "optim/rmsprop.h"

#include <cmath>
#include <cstdint>

#include "core/parallel.h"
#include "optim/registry.h"
#include "optim/running_average.h"

namespace dl {

namespace {

std::string rmsprop_name(const RMSPropOptions& o) {
    return std::string("rmsprop") + (o.variance ? "-var" : "") + (o.per_example ? "-per-example" : "");
}

// variance and per_example are not options: the name chooses them.
const OptionTable<RMSPropOptions>& option_table() {
    using O = RMSPropOptions;
    static const OptionTable<O> table{
        option("lr", &O::lr, "learning rate eta", at_least(0)),
        time_constant("n_s", &O::n_s, "alpha", "time constant N_s of the average of g^2").also_flag("--rms-n"),
        option("eps", &O::eps, "added to s", at_least(0))};
    return table;
}

OptimizerEntry entry(const char* help, bool variance, bool per_example) {
    RMSPropOptions defaults;
    defaults.variance = variance;
    defaults.per_example = per_example;
    // Default lr from build/study's scans (docs/study/README.md): dividing by s, not its
    // root, makes the steps about 1/sqrt(s) times larger.
    if (variance) defaults.lr = 1e-7f;
    OptimizerEntry e = OptimizerEntry::of<RMSProp>(rmsprop_name(defaults), help, option_table(), defaults);
    e.statistics = per_example ? NeedsStatistics::Always : NeedsStatistics::Never;
    e.batch_scaling = {BatchScaling::Rule::Linear, ""};
    return e;
}

}  // namespace

RMSProp::RMSProp(ParameterList params, const RMSPropOptions& options)
    : Optimizer(rmsprop_name(options), std::move(params), options.lr), options_(options) {
    option_table().validate(options, name());
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


OptimizerEntry rmsprop_entry() {
    return entry("s = (1 - 1/N_s) s + g^2/N_s, Phi -= eta g/sqrt(s + eps) (lecture: RMSProp, variant (1))", false,
                 false);
}

OptimizerEntry rmsprop_var_entry() {
    return entry("RMSProp dividing by s + eps, not its root (lecture: RMSProp is Theoretically Mysterious, (2))",
                 true, false);
}

OptimizerEntry rmsprop_per_example_entry() {
    return entry("RMSProp averaging the per-example g_b^2 (lecture: Scaling eta with Batch Size for RMSProp)", false,
                 true);
}

}  // namespace dl
