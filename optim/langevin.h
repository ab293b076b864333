// Langevin dynamics: SGD plus explicit Gaussian noise at temperature T
// (lecture: "Gradient Flow and Langevin Dynamics", "Stationary Distributions";
// Welling & Teh, "Bayesian Learning via Stochastic Gradient Langevin
// Dynamics", ICML 2011).
//
//     Phi_t+1 = Phi_t - eta g^_t - sqrt(2 eta T) xi_t        xi_t ~ N(0, I)
//
// The lecture's model dPhi = -g dt + eps sqrt(dt) with time dt = eta: the
// explicit noise adds 2T to the diffusion that the gradient noise (covariance
// eta Sigma) already provides, so for small eta the stationary density is
// about exp(-L/T) when T dominates (a Gibbs distribution), exp(-L/(alpha eta sigma^2))
// when the gradient noise does.
//
// For the discrete update on L = (h/2) x^2 with gradient noise of variance
// sigma^2 the stationary variance is exactly (AR(1) process x' = (1 - eta h) x - noise)
//     Var x = (eta^2 sigma^2 + 2 eta T) / (1 - (1 - eta h)^2)        (0 < eta h < 2)
// which tends to (eta sigma^2 / 2 + T) / h for eta h -> 0 (tested).
//
// The noise comes from a seeded generator whose state is saved with the
// optimizer, in parameter order, so runs are reproducible and resumable.
//
// Options by name: lr, temperature, seed (a trainer sets it from its --seed).
#pragma once
#include <cstdint>

#include "optim/normal_rng.h"
#include "optim/optimizer.h"

namespace dl {

struct LangevinOptions {
    float lr = 0.1f;             // eta; default from build/study's scans (docs/study/README.md, "Defaults that train")
    float temperature = 1e-4f;   // T >= 0 (T = 0 is SGD)
    uint64_t seed = 0;
};

class Langevin : public Optimizer {
public:
    Langevin(ParameterList params, const LangevinOptions& options = {});

protected:
    void update(Parameter& p, size_t index) override;
    void extra_state_fields(Fields& f) override { rng_.state_fields(f); }

private:
    LangevinOptions options_;
    NormalRng rng_;
};

// For the registry (optim/registry.h): names, options with defaults, ranges and help.
struct OptimizerEntry;
OptimizerEntry langevin_entry();

}  // namespace dl
