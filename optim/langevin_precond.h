// Preconditioned Langevin: per-parameter learning rates eta_i = eta'/sigma_i^2
// from the per-example gradient variance (lecture: "Langevin and RMSProp").
// With eta_x = eta'/sigma_x^2 the stationary density of SGD becomes the single
// Gibbs distribution exp(-L/(alpha eta')) instead of one temperature per
// parameter; RMSProp uses eta'/sigma instead (variant (1) vs (2)).
//
//     v_t[i]      = grad_sq[i] - g^_t[i]^2                  per-example variance in this batch
//     sigma2_t[i] = (1 - r_t) sigma2_{t-1}[i] + r_t v_t[i]   r_t = 1/min(t, N_s)
//     eta_t[i]    = eta' / max(sigma2_t[i], floor)
//     Phi_t+1[i]  = Phi_t[i] - eta_t[i] g^_t[i] - sqrt(2 eta_t[i] T) xi_t[i]    xi ~ N(0, 1)
//
// Decisions:
// - sigma^2 is the lecture's sigma^-hat^2 = E_batch (g_b - g^)^2 (divides by B,
//   not B - 1). One batch gives a noisy estimate, so it is averaged over N_s
//   steps with the bias-corrected average (N_s = 1: this batch only). At B = 1
//   the batch variance is 0 and the floor applies: use B >= 2.
// - floor > 0 bounds eta_i by eta'/floor (sigma^2 can be ~0 for unused weights).
// - The explicit noise (temperature T, default 0) is optional, as in langevin.
// Needs per-example statistics (Parameter::grad_sq).
//
// Options by name: lr (eta'), n_s (or its decay form alpha = 1 - 1/N_s),
// sigma2_floor, temperature, seed (a trainer sets it from its --seed).
#pragma once
#include <cstdint>

#include "optim/normal_rng.h"
#include "optim/optimizer.h"

namespace dl {

struct LangevinPrecondOptions {
    float lr = 3e-4f;            // eta' (units: loss; eta' = eta sigma^2); default from
                                 // build/study's scans (docs/study/README.md, "Defaults that train")
    float n_s = 100.0f;          // N_s >= 1, averaging of sigma^2
    float sigma2_floor = 1e-4f;  // floor > 0 on sigma^2
    float temperature = 0.0f;    // T >= 0
    uint64_t seed = 0;
};

class LangevinPrecond : public Optimizer {
public:
    LangevinPrecond(ParameterList params, const LangevinPrecondOptions& options = {});
    bool needs_statistics() const override { return true; }

protected:
    void update(Parameter& p, size_t index) override;
    void extra_state_fields(Fields& f) override { rng_.state_fields(f); }

private:
    LangevinPrecondOptions options_;
    NormalRng rng_;
    int variance_;  // state slot of sigma2
};

// For the registry (optim/registry.h): names, options with defaults, ranges and help.
struct OptimizerEntry;
OptimizerEntry langevin_precond_entry();

}  // namespace dl
