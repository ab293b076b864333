// Momentum, in the lecture's form (slide "Momentum"):
//
//     v_t     = (1 - 1/N_g) v_{t-1} + eta g^_t        v_0 = 0, N_g typically 10 or 100
//     Phi_t+1 = Phi_t - v_t
//
// With nesterov = true the update looks ahead along the velocity (Sutskever et
// al., ICML 2013, in the form PyTorch uses with momentum m = 1 - 1/N_g):
//
//     Phi_t+1 = Phi_t - (eta g^_t + (1 - 1/N_g) v_t)
//
// N_g = 1 is plain SGD. The conjugate form with eta' = N_g eta is momentum-ema.
//
// Options by name: lr, n_g (or its decay form momentum = 1 - 1/N_g), nesterov.
// With momentum = m this is PyTorch's SGD(lr, momentum=m) step for step
// (its buffer b = m b + g and our v = eta b): momentum 0.9 is n_g 10.
#pragma once
#include "optim/optimizer.h"

namespace dl {

struct MomentumOptions {
    float lr = 0.03f;   // eta; default from build/study's scans (docs/study/README.md, "Defaults that train")
    float n_g = 10.0f;  // N_g >= 1, the time constant of the velocity (momentum m = 1 - 1/N_g)
    bool nesterov = false;
};

class Momentum : public Optimizer {
public:
    Momentum(ParameterList params, const MomentumOptions& options = {});

protected:
    void update(Parameter& p, size_t index) override;

private:
    MomentumOptions options_;
    int velocity_;  // state slot of v
};

// For the registry (optim/registry.h): names, options with defaults, ranges and help.
struct OptimizerEntry;
OptimizerEntry momentum_entry();

}  // namespace dl
