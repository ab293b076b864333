// SGD: vanilla stochastic gradient descent (lecture: "Vanilla SGD").
//
//     Phi -= eta g^
//
// g^ is the batch-mean gradient (Parameter::grad) and eta the learning rate lr().
#pragma once
#include "optim/optimizer.h"

namespace dl {

struct SGDOptions {
    float lr = 0.1f;   // eta; default from build/study's scans (docs/study/README.md, "Defaults that train")
};

class SGD : public Optimizer {
public:
    SGD(ParameterList params, const SGDOptions& options = {});

protected:
    void update(Parameter& p, size_t index) override;
};

// For the registry (optim/registry.h): names, options with defaults, ranges and help.
struct OptimizerEntry;
OptimizerEntry sgd_entry();

}  // namespace dl
