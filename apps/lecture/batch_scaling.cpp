// batch-scaling. Lecture, "Solving for eta as a function of B" (eta = B eta'),
// "Solving for N_g as a Function of B" (N_g = N'_g/B) and "Putting It Together
// (TZ)": with N_g = max(1, N'_g/B) (the slide's min is a typo: N_g >= 1) and
// eta = B eta'/N_g, "we expect conjugacy for eta', N'_g and B": the loss
// against examples seen should not depend on B.
// Softmax regression on a Fashion-MNIST subset, optim/'s momentum with the
// hyperparameters of optim/'s scale_for_batch for each B, against fixed
// hyperparameters (those scale_for_batch gives for B = 16) at every B.
// Spread: mean over checkpoints (in examples seen) of (max - min)/min over B.
#include <algorithm>
#include <cmath>

#include "apps/lecture/experiments.h"
#include "apps/lecture/training.h"
#include "optim/registry.h"
#include "optim/schedule.h"

namespace dl::lecture {

Result batch_scaling(const Settings& s) {
    Result r;
    r.name = "batch-scaling";
    const SingleThread single_thread;
    const FashionSubset data = load_fashion(s.quick ? 4000 : 20000, 0, s.seed, 0.1f);
    const Features eval = first_examples(data.train, 1000);
    const std::vector<int> batches = {1, 4, 16, 64, 256};
    const long examples = s.quick ? 256L * 40 : 256L * 200;
    const float eta_prime = 0.02f, n_g_prime = 16.0f;
    const int points = 20;
    const BatchScaled at16 = scale_for_batch(eta_prime, n_g_prime, 16);
    std::vector<Curve> scaled, fixed;
    for (int family = 0; family < 2; ++family) {
        for (int B : batches) {
            const BatchScaled h = family == 0 ? scale_for_batch(eta_prime, n_g_prime, B) : at16;
            Net net({784, 10}, s.seed);
            OptimizerConfig c;
            c.lr = h.lr;
            c.n_g = h.n_g;
            auto opt = make_optimizer("momentum", net.parameters(), c);
            Rng rng(s.seed + 11);
            (family == 0 ? scaled : fixed)
                .push_back(train_curve(net, *opt, data.train, eval, B, examples / B, points, rng));
        }
    }
    const double spread_scaled = curve_spread(scaled), spread_fixed = curve_spread(fixed);
    r.checks.push_back(check_at_most("eta = B eta', N_g = max(1, N'_g/B): curves against examples seen coincide "
                                     "(spread over B = 1..256 < 10%)",
                                     spread_scaled, 0.1, false));
    r.checks.push_back(check_at_most("scaled hyperparameters are more conjugate to B than fixed ones", spread_scaled,
                                     spread_fixed, false));
    std::string finals;
    for (size_t i = 0; i < batches.size(); ++i)
        finals += (i ? ", " : "") + std::string("B=") + std::to_string(batches[i]) + ": " + fmt(scaled[i].loss.back(), 3);
    r.summary = "loss-curve spread over B = 1..256 against examples seen: " + fmt(100 * spread_scaled, 3) +
                "% with eta = B eta', N_g = max(1, N'_g/B) vs " + fmt(100 * spread_fixed, 3) +
                "% with fixed eta, N_g; final losses (scaled) " + finals;
    Table t{{"examples", "scaled_B1", "scaled_B4", "scaled_B16", "scaled_B64", "scaled_B256", "fixed_B1", "fixed_B4",
             "fixed_B16", "fixed_B64", "fixed_B256"}, {}};
    for (size_t i = 0; i < scaled[0].loss.size(); ++i) {
        std::vector<double> row = {scaled[0].examples[i]};
        for (const Curve& c : scaled) row.push_back(c.loss[i]);
        for (const Curve& c : fixed) row.push_back(c.loss[i]);
        t.add(row);
    }
    save_table(r, s, t,
               {{"eta = B eta', N_g = max(1, N'_g/B)", "examples seen", "training loss", "examples",
                 {"scaled_B1", "scaled_B4", "scaled_B16", "scaled_B64", "scaled_B256"}, false, false, "lines"},
                {"fixed eta, N_g (those of B = 16)", "examples seen", "training loss", "examples",
                 {"fixed_B1", "fixed_B4", "fixed_B16", "fixed_B64", "fixed_B256"}, false, false, "lines"}});
    return r;
}

}  // namespace dl::lecture
