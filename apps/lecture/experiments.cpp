#include "apps/lecture/experiments.h"

namespace dl::lecture {

const std::vector<Experiment>& experiments() {
    static const std::vector<Experiment> table = {
        {"noise-at-optimum", "at the optimum the batch gradient is not 0; Var g^ = sigma^2/B",
         noise_at_optimum},
        {"running-average", "EMA vs N-window mean; bias (t/N) mu for t << N; min(N, t) and Adam corrections",
         running_average},
        {"robbins-monro", "constant eta stalls; eta_0/(1+t/tau) converges; summable eta_t stops short",
         robbins_monro},
        {"snapshot-ensemble", "SGD as MCMC: snapshot ensemble vs last snapshot vs independent runs (Huang et al.)",
         snapshot_ensemble},
        {"gradient-flow", "SGD at fixed time sum eta approaches the gradient-flow ODE as eta -> 0", gradient_flow},
        {"momentum-conjugacy", "eta' x N_g sweep: is the best eta' independent of N_g (TZ)?", momentum_conjugacy},
        {"batch-scaling", "eta = B eta', N_g = max(1, N'_g/B) over an eta' sweep: where the rule holds and why it breaks",
         batch_scaling},
        {"rmsprop-batch", "rmsprop vs rmsprop-per-example across B: which s stays invariant (TZ)", rmsprop_batch},
        {"rmsprop-sigma", "variant (1) g/sigma vs (2) g/sigma^2: units, performance with eps tuned, sigma/|g|",
         rmsprop_sigma},
        {"adam-simplified", "published Adam vs the lecture's simplified Adam as optimizers (eta sweep, seeds)",
         adam_simplified},
        {"loss-vs-lr", "converged loss L(eta): dL/d eta at 0 = (1/4) E_i ||g_i||^2 (TZ)", loss_vs_lr},
        {"langevin-1d", "stationary density of SGD ~ exp(-L/(alpha eta sigma^2)); fit alpha (lecture: ~1/10)",
         langevin_1d},
        {"langevin-2d", "two temperatures under SGD; one under eta_i = eta'/sigma_i^2; RMSProp's eta'/sigma_i",
         langevin_2d},
        {"optimal-batch", "progress per example vs B on the 1-D problem; B* = 16 sigma^2/g^2, eta* = 1/(2L)",
         optimal_batch},
        {"eta-rule-1d", "eta_B = B g^2/(32 sigma^2 L) with running-average estimates of g and sigma; eta^t -> 0",
         eta_rule_1d},
        {"vector-bound", "Appendix II: k >= 16 sigma^2/||g||^2 and eta = 1/(2L) reduce the loss w.h.p.", vector_bound},
        {"vector-errata", "Appendix II: the sign in \"Optimizing eta\"; the radius b(1 + sqrt(2 ln 1/delta)) vs 2 sigma",
         vector_errata},
        {"adaptive", "the complete algorithm (as printed and per-example) vs sgd, momentum, adam; eta^t; B*[i]", adaptive},
        {"step-decay", "the ResNet schedule: eta reduced twice (by 2 and by 10), drops in validation error", step_decay},
    };
    return table;
}

const Experiment* find_experiment(const std::string& name) {
    for (const Experiment& e : experiments())
        if (name == e.name) return &e;
    return nullptr;
}

}  // namespace dl::lecture
