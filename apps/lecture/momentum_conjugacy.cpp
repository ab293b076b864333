// momentum-conjugacy. Lecture, "An Equivalent Formulation of Momentum" and
// "Solving for eta in terms of N_g (TZ)": writing momentum as v_t = N_g eta mu_t
// with mu_t a running average of g^, the step is N_g eta mu_t, so "this gives
// eta = eta'/N_g" and "we expect that eta' and N_g exhibit more independence
// (conjugacy) than eta, N_g": the eta' that suits N_g = 1 should suit every N_g.
// Softmax regression on a Fashion-MNIST subset, optim/'s momentum with N_g in
// {1, 3, 10, 30}, over a sweep of eta' (factors of 2) and several seeds:
//   scaled family: eta = eta'/N_g;   fixed family: eta = eta' for every N_g.
// We measure (a) the identity v_t = N_g eta mu_t (momentum with eta'/N_g against
// momentum-ema with eta'), (b) the final training loss of every run, hence the
// best eta' for each N_g (the lecture's claim proper), (c) the spread of the loss
// curves over N_g at each eta' (the mean over checkpoints of (max - min)/min).
#include <algorithm>
#include <cmath>

#include "apps/lecture/experiments.h"
#include "apps/lecture/training.h"
#include "optim/registry.h"

namespace dl::lecture {

namespace {

constexpr int kBatch = 16, kPoints = 20;
const std::vector<float> kNg = {1.0f, 3.0f, 10.0f, 30.0f};

Curve run(const std::string& name, float lr, float n_g, const FashionSubset& data, const Features& eval, long steps,
          uint64_t seed) {
    Net net({784, 10}, seed);
    OptimizerConfig c;
    c.n_g = n_g;
    c.lr = lr;
    auto opt = make_optimizer(name, net.parameters(), c);
    Rng rng(seed + 7);  // the same batches for every run of a seed
    return train_curve(net, *opt, data.train, eval, kBatch, steps, kPoints, rng);
}

// Largest relative difference between the weights after `steps` steps of
// momentum (eta'/N_g) and momentum-ema (eta') from the same start and batches.
double equivalence_gap(const FashionSubset& data, float eta_prime, float n_g, long steps, uint64_t seed) {
    Net a({784, 10}, seed), b({784, 10}, seed);
    OptimizerConfig ca, cb;
    ca.lr = eta_prime / n_g, ca.n_g = n_g;
    cb.lr = eta_prime, cb.n_g = n_g;
    auto oa = make_optimizer("momentum", a.parameters(), ca);
    auto ob = make_optimizer("momentum-ema", b.parameters(), cb);
    Rng ra(seed), rb(seed);
    Tape tape;
    for (long t = 0; t < steps; ++t) {
        train_step(a, *oa, data.train, kBatch, ra, tape);
        train_step(b, *ob, data.train, kBatch, rb, tape);
    }
    double diff = 0.0, scale = 0.0;
    for (size_t p = 0; p < a.parameters().size(); ++p)
        for (size_t i = 0; i < a.parameters()[p]->size(); ++i) {
            diff = std::max(diff, double(std::fabs(a.parameters()[p]->value[i] - b.parameters()[p]->value[i])));
            scale = std::max(scale, double(std::fabs(b.parameters()[p]->value[i])));
        }
    return diff / scale;
}

}  // namespace

Result momentum_conjugacy(const Settings& s) {
    Result r;
    r.name = "momentum-conjugacy";
    const SingleThread single_thread;
    const FashionSubset data = load_fashion(s.quick ? 4000 : 20000, 0, s.seed, 0.1f);
    const Features eval = first_examples(data.train, 1000);
    const long steps = s.quick ? 300 : 2000;
    const int seeds = s.quick ? 1 : 3;
    std::vector<float> etas;  // eta', factors of 2
    for (int k = s.quick ? -1 : -3; k <= 5; k += s.quick ? 3 : 1) etas.push_back(std::ldexp(1.0f, k));
    const size_t E = etas.size(), G = kNg.size();

    // final[e][g]: final losses over seeds; spread[e]: spreads over seeds.
    std::vector<std::vector<std::vector<double>>> final_scaled(E, std::vector<std::vector<double>>(G)),
        final_fixed = final_scaled;
    std::vector<std::vector<double>> spread_scaled(E), spread_fixed(E);
    for (size_t e = 0; e < E; ++e)
        for (int k = 0; k < seeds; ++k) {
            const uint64_t seed = s.seed + 1000 * static_cast<uint64_t>(k);
            std::vector<Curve> scaled, fixed;
            for (size_t g = 0; g < G; ++g) {
                scaled.push_back(run("momentum", etas[e] / kNg[g], kNg[g], data, eval, steps, seed));
                fixed.push_back(g == 0 ? scaled.back() : run("momentum", etas[e], kNg[g], data, eval, steps, seed));
                final_scaled[e][g].push_back(final_loss(scaled.back()));
                final_fixed[e][g].push_back(final_loss(fixed.back()));
            }
            spread_scaled[e].push_back(curve_spread(scaled));
            spread_fixed[e].push_back(curve_spread(fixed));
        }

    // The best eta' (scaled family) and the best eta (fixed family) of each N_g, by mean final loss.
    std::vector<double> best_eta_prime(G), best_eta(G);
    for (size_t g = 0; g < G; ++g) {
        double lo_s = 1e30, lo_f = 1e30;
        for (size_t e = 0; e < E; ++e) {
            const double ms = mean_of(final_scaled[e][g]), mf = mean_of(final_fixed[e][g]);
            if (ms < lo_s) lo_s = ms, best_eta_prime[g] = etas[e];
            if (mf < lo_f) lo_f = mf, best_eta[g] = etas[e];
        }
    }
    const auto [p_lo, p_hi] = std::minmax_element(best_eta_prime.begin(), best_eta_prime.end());
    const auto [f_lo, f_hi] = std::minmax_element(best_eta.begin(), best_eta.end());
    // Where "barely moves" (spread < 10%) holds, and where the scaled family is the tighter one.
    double barely_up_to = 0.0;
    int tighter = 0;
    for (size_t e = 0; e < E && mean_of(spread_scaled[e]) < 0.1; ++e) barely_up_to = etas[e];
    for (size_t e = 0; e < E; ++e) tighter += mean_of(spread_scaled[e]) <= mean_of(spread_fixed[e]);
    const double gap = equivalence_gap(data, 2.0f, 10.0f, s.quick ? 50 : 200, s.seed);

    r.checks.push_back(check_at_most("\"An Equivalent Formulation of Momentum\": momentum with eta'/N_g and momentum-ema "
                                     "with eta' take the same steps (max relative weight difference, N_g = 10)",
                                     gap, 1e-4));
    r.checks.push_back(check_at_most("eta' and N_g conjugate: the best eta' (lowest mean final loss) is the same for "
                                     "N_g = 1..30 up to one grid step (max/min of the best eta')",
                                     *p_hi / *p_lo, 2.0, false));
    r.checks.push_back(check_at_least("spread(eta = eta'/N_g) <= spread(fixed eta) at every eta' of the sweep "
                                      "(fraction of eta')",
                                      double(tighter) / E, 1.0, false));
    r.checks.push_back(check_at_most("\"barely moves\": spread over N_g < 10% at the smallest eta' (" + fmt(etas[0], 3) +
                                         ")",
                                     mean_of(spread_scaled[0]), 0.1, false));
    std::string best;
    for (size_t g = 0; g < G; ++g)
        best += (g ? ", " : "") + fmt(kNg[g], 3) + ": " + fmt(best_eta_prime[g], 3);
    r.summary = "best eta' per N_g (" + best + ") over eta' = " + fmt(etas.front(), 3) + ".." + fmt(etas.back(), 3) +
                ", " + std::to_string(seeds) + " seeds: max/min " + fmt(*p_hi / *p_lo, 3) +
                " (the best fixed eta varies x" + fmt(*f_hi / *f_lo, 3) + "); loss-curve spread over N_g " +
                fmt(100 * mean_of(spread_scaled[0]), 2) + "% at eta' = " + fmt(etas[0], 3) + ", " +
                fmt(100 * mean_of(spread_scaled[E - 1]), 3) + "% at eta' = " + fmt(etas[E - 1], 3) +
                " (fixed eta: " + fmt(100 * mean_of(spread_fixed[0]), 3) + "%, " +
                fmt(100 * mean_of(spread_fixed[E - 1]), 3) + "%); " +
                (barely_up_to > 0 ? "below 10% up to eta' = " + fmt(barely_up_to, 3) : "never below 10%") +
                "; scaled tighter than fixed at " + std::to_string(tighter) + " of " + std::to_string(E) +
                " eta' (slide \"Solving for eta in terms of N_g (TZ)\")";

    Table sweep{"", {"eta_prime"}, {}};
    for (float n_g : kNg)
        for (const char* family : {"scaled", "fixed"})
            for (const char* col : {"", "_lo", "_hi"})
                sweep.header.push_back(std::string(family) + "_Ng" + fmt(n_g, 3) + col);
    for (const char* family : {"spread_scaled", "spread_fixed"})
        for (const char* col : {"", "_lo", "_hi"}) sweep.header.push_back(std::string(family) + col);
    for (size_t e = 0; e < E; ++e) {
        std::vector<double> row = {etas[e]};
        for (size_t g = 0; g < G; ++g)
            for (const auto* f : {&final_scaled, &final_fixed}) {
                const Interval i = mean_ci95((*f)[e][g]);
                row.insert(row.end(), {i.mean, i.lo(), i.hi()});
            }
        for (const auto* f : {&spread_scaled, &spread_fixed}) {
            const Interval i = mean_ci95((*f)[e]);
            row.insert(row.end(), {100 * i.mean, 100 * i.lo(), 100 * i.hi()});
        }
        sweep.add(row);
    }
    auto family_series = [&](const std::string& family) {
        std::vector<Series> out;
        for (size_t g = 0; g < G; ++g) {
            const std::string c = family + "_Ng" + fmt(kNg[g], 3);
            out.push_back({c, "N_g = " + fmt(kNg[g], 3), seeds > 1 ? Style::ErrorBars : Style::Measured,
                           static_cast<int>(g), c + "_lo", c + "_hi"});
        }
        return out;
    };
    const std::string ci = seeds > 1 ? " (mean, 95% CI over " + std::to_string(seeds) + " seeds)" : "";
    save_figure(r, s, {sweep},
                {{"eta = eta'/N_g: final loss" + ci, "eta' (log scale)", "final training loss", "eta_prime",
                  family_series("scaled"), 0, 1.0, true, false, NAN, NAN, NAN, 2.4},
                 {"fixed eta = eta': final loss (10 = diverged)", "eta (log scale)", "final training loss",
                  "eta_prime", family_series("fixed"), 0, 1.0, true, false, NAN, NAN, NAN, 2.4},
                 {"spread of the loss curves over N_g", "eta' (log scale)", "spread (%)", "eta_prime",
                  {{"spread_scaled", "eta = eta'/N_g", seeds > 1 ? Style::ErrorBars : Style::Measured, 0,
                    "spread_scaled_lo", "spread_scaled_hi"},
                   {"spread_fixed", "fixed eta", seeds > 1 ? Style::ErrorBars : Style::Measured, 1, "spread_fixed_lo",
                    "spread_fixed_hi"}},
                  0, 1.0, true, true}});
    return r;
}

}  // namespace dl::lecture
