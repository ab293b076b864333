#include "optim/sgd.h"

#include <cstdint>

#include "core/parallel.h"

namespace dl {

SGD::SGD(ParameterList params, const SGDOptions& options)
    : Optimizer("sgd", std::move(params), options.lr) {}

void SGD::update(Parameter& p, size_t) {
    float* phi = p.value.data();
    const float* g = p.grad.data();
    const float eta = lr();
    const int64_t n = static_cast<int64_t>(p.size());
#pragma omp parallel for if (n >= static_cast<int64_t>(kParallelMin))
    for (int64_t i = 0; i < n; ++i) phi[i] -= eta * g[i];
}

}  // namespace dl
