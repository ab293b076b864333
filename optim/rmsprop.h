// RMSProp and its two lecture variants (slides "RMSProp", "RMSProp is
// Theoretically Mysterious", "Scaling eta with Batch Size for RMSProp";
// Tieleman & Hinton, 2012). For each real-valued parameter i:
//
//     s_t[i]    = (1 - 1/N_s) s_{t-1}[i] + (1/N_s) x_t[i]            s_0 = 0, N_s typically 100 or 1000
//
//   rmsprop              x = g^[i]^2,  Phi_t+1[i] = Phi_t[i] - eta g^_t[i] / sqrt(s_t[i] + eps)   (1)
//   rmsprop-var          x = g^[i]^2,  Phi_t+1[i] = Phi_t[i] - eta g^_t[i] / (s_t[i] + eps)       (2)
//   rmsprop-per-example  x = (1/B) sum_b g_{b,i}^2 (Parameter::grad_sq), update (1)
//
// Decisions:
// - The slide writes the update as "Phi[i] = eta (g^[i]/sigma[i])"; it means
//   Phi[i] -= eta g^[i]/sigma[i] (the first RMSProp slide), which is what we do.
// - (2) is the "theoretically motivated" form: eta then has the units of the
//   loss, independent of the units of the weights. eps sits inside the root in
//   (1), as on the slide (PyTorch puts it outside).
// - With x = g^2 the meaning of s changes with B (E g^[i]^2 = mu_i^2 + sigma_i^2/B).
//   The per-example form averages g_{b,i}^2 over the batch examples instead,
//   so s ~ mu_i^2 + sigma_i^2 at every B and equals rmsprop exactly at B = 1.
//   It needs per-example statistics.
// - s is a plain EMA (no bias correction), as on the slide: the first steps
//   are up to sqrt(N_s) times larger than later ones. adam-lecture corrects this.
//
// Options by name: lr, n_s (or its decay form alpha = 1 - 1/N_s, PyTorch's name:
// alpha 0.99 is n_s 100), eps. The three names fix variance and per_example.
#pragma once
#include "optim/optimizer.h"

namespace dl {

struct RMSPropOptions {
    float lr = 1e-3f;        // eta (rmsprop-var: 1e-7, rmsprop.cpp); default from build/study's
                             // scans (docs/study/README.md, "Defaults that train")
    float n_s = 100.0f;      // N_s >= 1 (PyTorch's alpha = 1 - 1/N_s = 0.99)
    float eps = 1e-8f;       // eps >= 0, added to s
    bool variance = false;   // divide by (s + eps) instead of sqrt(s + eps): variant (2)
    bool per_example = false;  // average the per-example grad_sq instead of g^2
};

class RMSProp : public Optimizer {
public:
    RMSProp(ParameterList params, const RMSPropOptions& options = {});
    bool needs_statistics() const override { return options_.per_example; }

protected:
    void update(Parameter& p, size_t index) override;

private:
    RMSPropOptions options_;
    int second_moment_;  // state slot of s
};

// For the registry (optim/registry.h): names, options with defaults, ranges and help.
struct OptimizerEntry;
OptimizerEntry rmsprop_entry();
OptimizerEntry rmsprop_var_entry();
OptimizerEntry rmsprop_per_example_entry();

}  // namespace dl
