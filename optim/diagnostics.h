// Diagnostics from the per-example statistics, for the trainer to log.
//
// With g^[i] = grad[i] (batch mean of g_{b,i}) and the per-example variance
//     sigma^2[i] = grad_sq[i] - grad[i]^2 = (1/B) sum_b (g_{b,i} - g^[i])^2
// (the lecture's sigma^-hat^2, dividing by B):
//
//   critical batch size  B*[i] = 16 sigma^2[i] / (g^[i]^2 + eps)
//       ("Optimizing B and eta": the batch size that maximises the guaranteed
//       progress per example for parameter i alone)
//   gradient noise scale B_noise = sum_i sigma^2[i] / sum_i g^[i]^2
//       (McCandlish et al. 2018, "An Empirical Model of Large-Batch Training",
//       B_simple = tr(Sigma)/|G|^2). Note: g^ is a batch estimate, so
//       E |g^|^2 = |G|^2 + tr(Sigma)/B and B_noise is biased low when it is
//       comparable to B; it is still the number to watch.
#pragma once
#include <vector>

#include "core/parameter.h"

namespace dl {

// B*[i] for every element of p (resized to p.size()). Needs statistics.
void critical_batch_sizes(const Parameter& p, std::vector<float>& out, float eps = 1e-12f);

struct NoiseScale {
    double sum_variance = 0.0;  // sum_i sigma^2[i]
    double sum_grad_sq = 0.0;   // sum_i g^[i]^2
    double noise_scale = 0.0;   // their ratio (0 if the gradient is 0)
};
// Over all parameters of the model. Throws std::invalid_argument if a parameter has no statistics.
NoiseScale gradient_noise_scale(const ParameterList& params);

}  // namespace dl
