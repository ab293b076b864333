#include "optim/sgd.h"

#include <cstdint>

#include "core/parallel.h"
#include "optim/registry.h"

namespace dl {

namespace {

const OptionTable<SGDOptions>& option_table() {
    static const OptionTable<SGDOptions> table{
        option("lr", &SGDOptions::lr, "learning rate eta", at_least(0))};
    return table;
}

}  // namespace

SGD::SGD(ParameterList params, const SGDOptions& options)
    : Optimizer("sgd", std::move(params), options.lr) {
    option_table().validate(options, name());
}

void SGD::update(Parameter& p, size_t) {
    float* phi = p.value.data();
    const float* g = p.grad.data();
    const float eta = lr();
    const int64_t n = static_cast<int64_t>(p.size());
#pragma omp parallel for if (n >= static_cast<int64_t>(kParallelMin))
    for (int64_t i = 0; i < n; ++i) phi[i] -= eta * g[i];
}

OptimizerEntry sgd_entry() {
    OptimizerEntry e = OptimizerEntry::of<SGD>("sgd", "vanilla SGD, Phi -= eta g (lecture: Vanilla SGD)", option_table());
    e.batch_scaling = {BatchScaling::Rule::Linear, ""};
    return e;
}

}  // namespace dl
