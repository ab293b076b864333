// Momentum as a running average of the gradient (lecture: "An Equivalent
// Formulation of Momentum" and "Solving for eta (TZ)"):
//
//     mu_t    = (1 - 1/N_g) mu_{t-1} + (1/N_g) g^_t      mu_0 = 0
//     Phi_t+1 = Phi_t - eta' mu_t
//
// This is `momentum` with eta = eta'/N_g (v_t = N_g eta mu_t), step for step.
// The lecture expects eta' and N_g to be more independent (conjugate) than
// eta and N_g: changing N_g here does not change the size of the steps.
// lr() is eta'. mu is a plain EMA (no bias correction), as on the slide.
//
// Options by name: lr (eta'), n_g (or its decay form momentum = 1 - 1/N_g: the
// update mu = beta mu + (1 - beta) g of TensorFlow's and Keras's EMA).
#pragma once
#include "optim/optimizer.h"

namespace dl {

struct MomentumEMAOptions {
    float lr = 0.3f;    // eta', the learning rate appropriate without momentum; default from
                        // build/study's scans (docs/study/README.md, "Defaults that train")
    float n_g = 10.0f;  // N_g >= 1
};

class MomentumEMA : public Optimizer {
public:
    MomentumEMA(ParameterList params, const MomentumEMAOptions& options = {});

protected:
    void update(Parameter& p, size_t index) override;

private:
    MomentumEMAOptions options_;
    int mean_;  // state slot of mu
};

// For the registry (optim/registry.h): names, options with defaults, ranges and help.
struct OptimizerEntry;
OptimizerEntry momentum_ema_entry();

}  // namespace dl
