// momentum-conjugacy. Lecture, "Solving for eta in terms of N_g (TZ)": writing
// momentum as v_t = N_g eta mu_t with mu_t a running average of g^, the step
// is N_g eta mu_t, so "this gives eta = eta'/N_g" and "we expect that eta' and
// N_g exhibit more independence (conjugacy) than eta, N_g".
// Softmax regression on a Fashion-MNIST subset, optim/'s momentum with N_g in
// {1, 3, 10, 30}: (a) fixed eta = eta', (b) eta = eta'/N_g. For each family the
// spread of the loss curves is the mean over checkpoints of
// (max - min)/min over N_g (a diverged run counts as loss 10).
#include <algorithm>
#include <cmath>

#include "apps/lecture/experiments.h"
#include "apps/lecture/training.h"
#include "optim/registry.h"

namespace dl::lecture {

Result momentum_conjugacy(const Settings& s) {
    Result r;
    r.name = "momentum-conjugacy";
    const SingleThread single_thread;
    const FashionSubset data = load_fashion(s.quick ? 4000 : 20000, 0, s.seed, 0.1f);
    const Features eval = first_examples(data.train, 1000);
    const long steps = s.quick ? 300 : 2000;
    const int batch = 16, points = 20;
    const float eta_prime = 2.0f;
    const std::vector<float> n_gs = {1.0f, 3.0f, 10.0f, 30.0f};
    std::vector<Curve> fixed, scaled;
    for (int family = 0; family < 2; ++family) {
        for (float n_g : n_gs) {
            Net net({784, 10}, s.seed);
            OptimizerConfig c;
            c.n_g = n_g;
            c.lr = family == 0 ? eta_prime : eta_prime / n_g;
            auto opt = make_optimizer("momentum", net.parameters(), c);
            Rng rng(s.seed + 7);  // the same batches for every run
            (family == 0 ? fixed : scaled).push_back(train_curve(net, *opt, data.train, eval, batch, steps, points, rng));
        }
    }
    const double spread_fixed = curve_spread(fixed), spread_scaled = curve_spread(scaled);
    int diverged = 0;
    for (const Curve& c : fixed) diverged += c.diverged;
    r.checks.push_back(check_at_most("eta = eta'/N_g: the loss curves barely move (spread over N_g < 10%)",
                                     spread_scaled, 0.1, false));
    r.checks.push_back(check_at_most("eta', N_g more conjugate than eta, N_g: spread(eta'/N_g) <= spread(fixed eta)",
                                     spread_scaled, spread_fixed, false));
    r.summary = "loss-curve spread over N_g = 1..30: " + fmt(100 * spread_fixed, 3) + "% with fixed eta (" +
                std::to_string(diverged) + " of 4 runs diverged), " + fmt(100 * spread_scaled, 3) +
                "% with eta = eta'/N_g" +
                (r.checks[0].holds ? " (barely moves, as the lecture expects)" : " (moves more than 'barely')");
    Table t{{"examples", "fixed_Ng1", "fixed_Ng3", "fixed_Ng10", "fixed_Ng30", "scaled_Ng1", "scaled_Ng3",
             "scaled_Ng10", "scaled_Ng30"}, {}};
    for (size_t i = 0; i < fixed[0].loss.size(); ++i) {
        std::vector<double> row = {fixed[0].examples[i]};
        for (const Curve& c : fixed) row.push_back(c.loss[i]);
        for (const Curve& c : scaled) row.push_back(c.loss[i]);
        t.add(row);
    }
    save_table(r, s, t,
               {{"momentum, fixed eta = eta'", "examples seen", "training loss", "examples",
                 {"fixed_Ng1", "fixed_Ng3", "fixed_Ng10", "fixed_Ng30"}, false, false, "lines"},
                {"momentum, eta = eta'/N_g", "examples seen", "training loss", "examples",
                 {"scaled_Ng1", "scaled_Ng3", "scaled_Ng10", "scaled_Ng30"}, false, false, "lines"}});
    return r;
}

}  // namespace dl::lecture
