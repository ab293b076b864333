// Adam, the published algorithm (Kingma & Ba, "Adam: A Method for Stochastic
// Optimization", ICLR 2015, Algorithm 1), written with the lecture's time
// constants: beta1 = 1 - 1/N_g, beta2 = 1 - 1/N_s (lecture: "Adam - Adaptive
// Momentum"; defaults N_g = 10, N_s = 1000 are the paper's 0.9 and 0.999).
//
//     mu_t[i] = beta1 mu_{t-1}[i] + (1 - beta1) g^_t[i]          mu_0 = s_0 = 0
//     s_t[i]  = beta2 s_{t-1}[i]  + (1 - beta2) g^_t[i]^2
//     Phi_t+1[i] = Phi_t[i] - eta (mu_t[i] / (1 - beta1^t)) / (sqrt(s_t[i] / (1 - beta2^t)) + eps)
//
// The bias corrections 1 - beta^t use the optimizer's step counter t, which
// advances once per step() for all parameters together.
//
// weight_decay = lambda > 0 adds decoupled weight decay (AdamW: Loshchilov &
// Hutter, ICLR 2019), applied before the Adam step as in PyTorch:
//     Phi_t[i] <- (1 - eta lambda) Phi_t[i]
// eps sits outside the root here, as in the paper; the lecture's simplified
// Adam (adam-lecture) puts it inside.
//
// Options by name: lr, n_g (or beta1 = 1 - 1/N_g), n_s (or beta2 = 1 - 1/N_s),
// eps, weight_decay: PyTorch's Adam(lr, betas=(0.9, 0.999)) is beta1=0.9 beta2=0.999.
#pragma once
#include "optim/optimizer.h"

namespace dl {

struct AdamOptions {
    float lr = 0.001f;         // eta (confirmed by build/study's scans (docs/study/README.md, "Defaults that train"))
    float n_g = 10.0f;         // N_g >= 1: beta1 = 1 - 1/N_g
    float n_s = 1000.0f;       // N_s >= 1: beta2 = 1 - 1/N_s
    float eps = 1e-8f;         // eps >= 0
    float weight_decay = 0.0f; // lambda >= 0 (decoupled, AdamW)
};

class Adam : public Optimizer {
public:
    Adam(ParameterList params, const AdamOptions& options = {});

protected:
    void begin_step() override;
    void update(Parameter& p, size_t index) override;

private:
    AdamOptions options_;
    int mean_, second_moment_;        // state slots of mu and s
    float correction1_ = 1.0f;        // 1 - beta1^t for this step
    float correction2_ = 1.0f;        // 1 - beta2^t for this step
};

// For the registry (optim/registry.h): names, options with defaults, ranges and help.
struct OptimizerEntry;
OptimizerEntry adam_entry();

}  // namespace dl
