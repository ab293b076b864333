// The experiments of build/lecture, one per claim of ../shared/lecture.md.
// Each runs with fixed seeds, writes OUT/NAME.csv and OUT/NAME.png and returns
// its checks (see common.h). The table `experiments()` lists them in the
// order of the lecture; build/lecture and tests/test_lecture.cpp both use it.
#pragma once
#include <string>
#include <vector>

#include "apps/lecture/common.h"

namespace dl::lecture {

Result noise_at_optimum(const Settings& s);    // "Even if beta is optimal ... g^ != 0"
Result running_average(const Settings& s);     // EMA vs window mean, bias correction
Result robbins_monro(const Settings& s);       // the classical convergence theorem
Result snapshot_ensemble(const Settings& s);   // SGD as MCMC: snapshot ensembles (Huang et al.)
Result gradient_flow(const Settings& s);       // SGD -> gradient flow as eta -> 0
Result momentum_conjugacy(const Settings& s);  // eta = eta'/N_g (TZ)
Result batch_scaling(const Settings& s);       // eta = B eta', N_g = max(1, N'_g/B)
Result rmsprop_batch(const Settings& s);       // E g^_i^2 = mu_i^2 + sigma_i^2/B (TZ)
Result rmsprop_sigma(const Settings& s);       // g/sigma (1) vs g/sigma^2 (2)
Result adam_simplified(const Settings& s);     // published Adam vs "Adam (simplified)" as optimizers
Result loss_vs_lr(const Settings& s);          // dL/d eta at 0 = (1/4) E ||g_i||^2 (TZ)
Result langevin_1d(const Settings& s);         // p ~ exp(-L/(alpha eta sigma^2)), alpha ~ 1/10
Result langevin_2d(const Settings& s);         // two temperatures; eta_i = eta'/sigma_i^2
Result optimal_batch(const Settings& s);       // B* = 16 sigma^2/g^2, eta* = 1/(2L)
Result eta_rule_1d(const Settings& s);         // eta_B = B g^2/(32 sigma^2 L) with running-average estimates
Result vector_bound(const Settings& s);        // Appendix II
Result vector_errata(const Settings& s);       // Appendix II: the sign in "Optimizing eta", 2 sigma for the radius
Result adaptive(const Settings& s);            // "A Complete Algorithm" on Fashion-MNIST
Result step_decay(const Settings& s);          // ResNet: eta reduced twice

struct Experiment {
    const char* name;
    const char* claim;  // one line, for --list
    Result (*run)(const Settings&);
};
const std::vector<Experiment>& experiments();
// nullptr if no experiment has that name.
const Experiment* find_experiment(const std::string& name);

}  // namespace dl::lecture
