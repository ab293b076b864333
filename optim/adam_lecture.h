// Adam (simplified), the lecture's version (slide "Adam (simplified)"):
// momentum and RMSProp with bias-corrected running averages of rate
// 1/min(t, N) (slide "Bias Correction of Running Averages") and no other
// correction.
//
//     mu_0[i] = s_0[i] = 0
//     mu_t[i] = (1 - 1/min(t, N_g)) mu_{t-1}[i] + (1/min(t, N_g)) g^_t[i]
//     s_t[i]  = (1 - 1/min(t, N_s)) s_{t-1}[i]  + (1/min(t, N_s)) g^_t[i]^2
//     Phi_t+1[i] = Phi_t[i] - eta mu_t[i] / sqrt(s_t[i] + eps)
//
// For t <= N the averages are the exact means of g^_1..g^_t, so the first
// step is eta g^ / sqrt(g^2 + eps) (about eta sign(g^)), like published Adam.
//
// Options by name: lr, n_g (or beta1 = 1 - 1/N_g), n_s (or beta2 = 1 - 1/N_s), eps.
#pragma once
#include "optim/optimizer.h"

namespace dl {

struct AdamLectureOptions {
    float lr = 0.001f;     // eta (confirmed by build/study's scans (docs/study/README.md, "Defaults that train"))
    float n_g = 10.0f;     // N_g >= 1
    float n_s = 1000.0f;   // N_s >= 1
    float eps = 1e-8f;     // eps >= 0, inside the root as on the slide
};

class AdamLecture : public Optimizer {
public:
    AdamLecture(ParameterList params, const AdamLectureOptions& options = {});

protected:
    void update(Parameter& p, size_t index) override;

private:
    AdamLectureOptions options_;
    int mean_, second_moment_;  // state slots of mu and s
};

// For the registry (optim/registry.h): names, options with defaults, ranges and help.
struct OptimizerEntry;
OptimizerEntry adam_lecture_entry();

}  // namespace dl
