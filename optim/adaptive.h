// Adaptive: "A Complete Algorithm" of the lecture's second-order derivation
// (slides "A Second Order Algorithm (TZ)" to "A Complete Algorithm"). Each
// parameter i gets its own critical batch size B*[i] and learning rate eta[i]
// from running averages whose time constant is B*[i]/B batches.
//
//   r_t[i]      = min(1, B / B*(t-1)[i])                      the averages' rate
//   g~_t[i]     = (1 - r_t[i]) g~_{t-1}[i] + r_t[i] g^_t[i]        g~_0 = s~_0 = 0
//   s~_t[i]     = (1 - r_t[i]) s~_{t-1}[i] + r_t[i] x_t[i]
//   sigma~_t[i]^2 = max(0, s~_t[i] - g~_t[i]^2)              (times B in batch mode, see below)
//   B*(t)[i]    = K                                           for t <= K
//               = lambda_B sigma~_t[i]^2 / (g~_t[i]^2 + eps)  otherwise
//   eta_t[i]    = 0                                           for t <= K
//               = min(max_eta, lambda_eta g~_t[i]^2 / (sigma~_t[i]^2 + eps))   otherwise
//   Phi_t+1[i]  = Phi_t[i] - eta_t[i] g^_t[i]
//
// x is the estimate of the per-example second moment:
//   batch mode (per_example_sigma = false, the slide): x = g^[i]^2;
//   per-example mode: x = grad_sq[i] = (1/B) sum_b g_{b,i}^2 (needs statistics).
//
// Decisions where the slides leave room:
// - The slide's factor B/B*(t) is a rate; "1 - B/B*" only makes sense for
//   B <= B*, so the rate is min(1, B/B*) (time constant max(1, B*/B) batches;
//   B* <= 0 gives rate 1). The update at step t uses B*(t-1), from the averages
//   before g^_t, exactly as the slide's g~^{t+1} uses B*(t).
// - B*, K and the slide's sigma^-hat are in examples (B* = 16 sigma^2/g^2 with
//   sigma the per-example standard deviation). In batch mode s~ - g~^2 estimates
//   the variance of a batch mean, sigma^2/B, so we multiply it by B: sigma~ then
//   means the same in both modes and equals the slide's formula at B = 1. With
//   rate 1 (B >= B*) the batch-mode variance is 0; per-example mode has no such
//   blind spot, prefer it for B > 1.
// - The slide divides by sigma~^2 unguarded; we add the same eps as in B*, and
//   cap eta at max_eta (not on the slide) so that a parameter whose gradient is
//   (nearly) deterministic cannot take an unbounded step.
// - lambda_eta is lr(), so a learning-rate schedule scales it. From the
//   derivation eta_B = B g^2/(32 sigma^2 L), lambda_eta = B/(32 L) for
//   curvature bound L. lambda_B = 16 is the derivation's constant.
// - B is Parameter::stats_batch when statistics were computed, else the
//   batch_size option (a trainer sets it to its batch size).
//
// Options by name: lr (lambda_eta), k, lambda_b, eps, max_eta, per_example_sigma, batch_size.
#pragma once
#include "optim/optimizer.h"

namespace dl {

// These defaults are the slide's batch mode. By name (make_optimizer("adaptive"),
// build/train) the defaults are per_example_sigma = true and lr = 100: adaptive.cpp.
struct AdaptiveOptions {
    float lr = 0.1f;             // lambda_eta >= 0
    int k = 10;                  // K >= 0: warm-up steps without a step (B* = K during them)
    float lambda_b = 16.0f;      // lambda_B > 0
    float eps = 1e-8f;           // eps > 0
    float max_eta = 1.0f;        // cap on eta_t[i] > 0
    bool per_example_sigma = false;
    int batch_size = 0;          // B when no statistics give it (>= 1 unless per_example_sigma)
};

class Adaptive : public Optimizer {
public:
    Adaptive(ParameterList params, const AdaptiveOptions& options = {});
    bool needs_statistics() const override { return options_.per_example_sigma; }

protected:
    void update(Parameter& p, size_t index) override;

private:
    AdaptiveOptions options_;
    int mean_, second_moment_, critical_batch_;  // state slots of g~, s~, B*(t)
};

// For the registry (optim/registry.h): names, options with defaults, ranges and help.
struct OptimizerEntry;
OptimizerEntry adaptive_entry();

}  // namespace dl
