// adam-simplified. Lecture, "Bias Correction of Running Averages" and "Adam
// (simplified)": the rate 1/min(N, t) "avoids the initial bias toward zero
// while still tracking a moving average"; "The published version of Adam has
// a more obscure form of bias correction which yields essentially the same
// effect." running-average compares the two corrections as averages; here
// they run as optimizers.
//   adam          (Kingma & Ba): mu/(1 - beta1^t) / (sqrt(s/(1 - beta2^t)) + eps)
//   adam-lecture  (the slide):   mu/sqrt(s + eps), mu and s with rates 1/min(t, N)
// Both with N_g = 10, N_s = 1000 (beta1 = 0.9, beta2 = 0.999), eps = 1e-8. An
// MLP (784-64-10) on a Fashion-MNIST subset, B = 32, over a sweep of eta and
// several seeds; the two optimizers of a seed share the initialisation and the
// batches, so their difference is paired.
#include <algorithm>
#include <cmath>

#include "apps/lecture/experiments.h"
#include "apps/lecture/training.h"
#include "optim/registry.h"

namespace dl::lecture {

namespace {

constexpr int kBatch = 32, kPoints = 20;

Curve run(const std::string& name, float lr, const FashionSubset& data, const Features& eval, long steps,
          uint64_t seed) {
    Net net({784, 64, 10}, seed);
    OptimizerConfig c;
    c.lr = lr;
    auto opt = make_optimizer(name, net.parameters(), c);
    Rng rng(seed + 5);
    return train_curve(net, *opt, data.train, eval, kBatch, steps, kPoints, rng);
}

}  // namespace

Result adam_simplified(const Settings& s) {
    Result r;
    r.name = "adam-simplified";
    const SingleThread single_thread;
    const FashionSubset data = load_fashion(s.quick ? 3000 : 20000, 0, s.seed, 3.0f);
    const Features eval = first_examples(data.train, 2000);
    const long steps = s.quick ? 200 : 2000;
    const int seeds = s.quick ? 2 : 4;
    const std::vector<float> etas = s.quick ? std::vector<float>{1e-3f, 1e-2f}
                                            : std::vector<float>{1e-4f, 3e-4f, 1e-3f, 3e-3f, 1e-2f};
    Table sweep{"", {"eta", "adam", "adam_lo", "adam_hi", "lecture", "lecture_lo", "lecture_hi", "difference",
                     "difference_lo", "difference_hi", "zero"}, {}};
    double worst = 0.0, worst_eta = 0.0, best_loss = 1e30;
    int significant = 0;  // eta where the CI of the difference excludes 0
    size_t best = 0;
    std::vector<std::vector<Curve>> curves_adam(etas.size()), curves_lecture(etas.size());
    for (size_t e = 0; e < etas.size(); ++e) {
        std::vector<double> fa, fl, diff;
        for (int k = 0; k < seeds; ++k) {
            const uint64_t seed = s.seed + 100 * static_cast<uint64_t>(k);
            curves_adam[e].push_back(run("adam", etas[e], data, eval, steps, seed));
            curves_lecture[e].push_back(run("adam-lecture", etas[e], data, eval, steps, seed));
            fa.push_back(final_loss(curves_adam[e].back()));
            fl.push_back(final_loss(curves_lecture[e].back()));
            diff.push_back(100 * (fl.back() / fa.back() - 1.0));
        }
        const Interval a = mean_ci95(fa), l = mean_ci95(fl), d = mean_ci95(diff);
        sweep.add({etas[e], a.mean, a.lo(), a.hi(), l.mean, l.lo(), l.hi(), d.mean, d.lo(), d.hi(), 0.0});
        if (std::fabs(d.mean) > worst) worst = std::fabs(d.mean), worst_eta = etas[e];
        significant += seeds > 1 && (d.lo() > 0.0 || d.hi() < 0.0);
        if (a.mean < best_loss) best_loss = a.mean, best = e;
    }
    // Paired loss curves at the best eta of adam: relative difference at every checkpoint.
    Table curves{"curves", {"examples", "adam", "lecture", "difference", "difference_lo", "difference_hi"}, {}};
    double early = 0.0;
    for (size_t i = 0; i < curves_adam[best][0].loss.size(); ++i) {
        std::vector<double> la, ll, d;
        for (int k = 0; k < seeds; ++k) {
            la.push_back(curves_adam[best][k].loss[i]), ll.push_back(curves_lecture[best][k].loss[i]);
            d.push_back(100 * (ll.back() / la.back() - 1.0));
        }
        const Interval di = mean_ci95(d);
        curves.add({curves_adam[best][0].examples[i], mean_of(la), mean_of(ll), di.mean, di.lo(), di.hi()});
        if (i > 0 && i <= 3) early = std::max(early, std::fabs(di.mean));
    }
    r.checks.push_back(check_at_most("\"essentially the same effect\": |mean final loss of adam-lecture / adam - 1| at "
                                     "every eta of the sweep (%)",
                                     worst, 5.0, false));
    r.checks.push_back(check_at_most("no difference beyond the seeds' noise: number of eta whose 95% CI of the paired "
                                     "difference excludes 0",
                                     significant, 0.0, false));
    r.checks.push_back(check_at_most("the same in the first steps (where the corrections act): |mean relative "
                                     "difference| over the first 3 checkpoints at the best eta (%)",
                                     early, 5.0, false));
    std::string per_eta;
    for (const auto& row : sweep.rows)
        per_eta += (per_eta.empty() ? "" : ", ") + fmt(row[0], 2) + ": " + fmt(row[7], 2) + " +- " +
                   fmt((row[9] - row[8]) / 2, 2) + "%";
    r.summary = "final training loss of adam-lecture relative to adam (paired, 95% CI over " + std::to_string(seeds) +
                " seeds) at eta = " + per_eta + "; the mean differs by at most " + fmt(worst, 2) + "% (eta " + fmt(worst_eta, 2) + "), " +
                std::to_string(significant) + " of " + std::to_string(etas.size()) +
                " eta show a difference beyond the seeds' noise: " +
                (worst <= 5.0 && significant == 0 ? "essentially the same, as the slide says" : "not the same at every eta") +
                " (slide \"Bias Correction of Running Averages\")";
    const Style bars = seeds > 1 ? Style::ErrorBars : Style::Measured;
    Panel finals{"final training loss (mean, 95% CI over seeds)", "eta (log scale)", "final training loss", "eta",
                 {{"adam", "adam (published)", bars, 0, "adam_lo", "adam_hi"},
                  {"lecture", "adam-lecture (simplified)", bars, 1, "lecture_lo", "lecture_hi"}},
                 0, 1.0, true, false};
    Panel differences{"adam-lecture / adam - 1 at the end, paired", "eta (log scale)", "difference (%)", "eta",
                      {{"zero", "no difference", Style::Predicted, 7},
                       {"difference", "mean, 95% CI", bars, 2, "difference_lo", "difference_hi"}},
                      0, 1.0, true, false};
    finals.xtic_list.assign(etas.begin(), etas.end());
    differences.xtic_list = finals.xtic_list;
    save_figure(r, s, {sweep, curves},
                {finals, differences,
                 {"along training at eta = " + fmt(etas[best], 2), "thousands of examples seen", "difference (%)",
                  "examples",
                  {{"difference", "", Style::Band, 2, "difference_lo", "difference_hi"},
                   {"difference", "adam-lecture / adam - 1 (mean, 95% CI)", Style::Measured, 2}},
                  1, 1e-3}});
    return r;
}

}  // namespace dl::lecture
