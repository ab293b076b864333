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
        {"gradient-flow", "SGD at fixed time sum eta approaches the gradient-flow ODE as eta -> 0", gradient_flow},
        {"momentum-conjugacy", "N_g sweep: fixed eta vs eta = eta'/N_g (TZ: the second barely moves)", momentum_conjugacy},
        {"batch-scaling", "eta = B eta', N_g = max(1, N'_g/B) vs fixed hyperparameters: loss against examples seen", batch_scaling},
        {"rmsprop-batch", "rmsprop vs rmsprop-per-example across B: which s stays invariant (TZ)", rmsprop_batch},
        {"rmsprop-sigma", "variant (1) g/sigma vs (2) g/sigma^2: units and performance", rmsprop_sigma},
        {"loss-vs-lr", "converged loss L(eta): dL/d eta at 0 = (1/4) E_i ||g_i||^2 (TZ)", loss_vs_lr},
        {"langevin-1d", "stationary density of SGD ~ exp(-L/(alpha eta sigma^2)); fit alpha (lecture: ~1/10)",
         langevin_1d},
        {"langevin-2d", "two temperatures under SGD; one under eta_i = eta'/sigma_i^2; RMSProp's eta'/sigma_i",
         langevin_2d},
        {"optimal-batch", "progress per example vs B on the 1-D problem; B* = 16 sigma^2/g^2, eta* = 1/(2L)",
         optimal_batch},
        {"vector-bound", "Appendix II: k >= 16 sigma^2/||g||^2 and eta = 1/(2L) reduce the loss w.h.p.", vector_bound},
        {"adaptive", "the complete algorithm on Fashion-MNIST vs sgd, momentum, adam; B*[i]; eta^t shrinking", adaptive},
        {"step-decay", "the ResNet schedule: eta reduced twice, visible drops in the loss", step_decay},
    };
    return table;
}

const Experiment* find_experiment(const std::string& name) {
    for (const Experiment& e : experiments())
        if (name == e.name) return &e;
    return nullptr;
}

}  // namespace dl::lecture
