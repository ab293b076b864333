// rmsprop-sigma. Lecture, "RMSProp is Theoretically Mysterious":
//   (1) Phi[i] -= eta g^[i]/sigma[i]     (2) Phi[i] -= eta g^[i]/sigma^2[i]
// "Although (1) seems to work better, (2) is better motivated theoretically
// ... (2) type checks with eta having units of bits - the numerical value of
// eta has no dependence on the choice of the weight unit." Also (slide
// "RMSProp"): "We should expect sigma[i] >> g[i]", so s ~ sigma^2.
// Softmax regression from zero weights on a Fashion-MNIST subset, optim/'s
// rmsprop (1) and rmsprop-var (2), s = running average of g^2 plus eps.
// (a) Units: dividing every input by c = 10 measures the weights in a unit 10
//     times smaller; (2) then follows the same loss curve at the same eta, (1)
//     does not. eps breaks the invariance (it has units), so this uses eps = 1e-20.
// (b) Performance: eta and eps are tuned per variant on a grid (eta in half
//     decades, then quarter decades around the best; eps from 1e-20, i.e. none,
//     to 1e-4), the best setting of each is then run on fresh seeds (95% CI). Plain SGD (tuned) is the
//     reference: with eps >> s, (2) is SGD with learning rate eta/eps.
// (c) sigma[i]/|g[i]| along training: the median over the weights, from the
//     per-example statistics of 2000 examples at each checkpoint.
#include <algorithm>
#include <cmath>

#include "apps/lecture/experiments.h"
#include "apps/lecture/training.h"
#include "optim/registry.h"

namespace dl::lecture {

namespace {

constexpr int kBatch = 16, kPoints = 10;

struct Setting {
    std::string name;
    double eta = 0.0, eps = 0.0;
};

std::unique_ptr<Optimizer> make(const Setting& st, Net& net) {
    OptimizerConfig c;
    c.lr = static_cast<float>(st.eta);
    if (st.name != "sgd") c.eps = static_cast<float>(st.eps);
    return make_optimizer(st.name, net.parameters(), c);
}

// Final training loss (on eval) of one run.
double final_of(const Setting& st, const Features& train, const Features& eval, long steps, uint64_t seed) {
    Net net({784, 10}, seed, true);
    auto opt = make(st, net);
    Rng rng(seed + 3);
    return final_loss(train_curve(net, *opt, train, eval, kBatch, steps, kPoints, rng));
}

Features scaled(const Features& f, float factor) {
    Features out = f;
    for (float& v : out.x.vec()) v *= factor;
    return out;
}

// Median over the first layer's weights of sigma_i/|g_i| and the fraction with
// sigma_i > |g_i|, from the per-example statistics of the first 2000 examples.
std::pair<double, double> sigma_over_g(Net& net, const Features& train) {
    Tape tape;
    gradient_statistics(net, train, 0, std::min(2000, train.count()), tape);
    const Parameter& w = *net.parameters()[0];
    std::vector<double> ratio;
    double above = 0.0;
    for (size_t i = 0; i < w.size(); ++i) {
        const double g2 = double(w.grad[i]) * w.grad[i];
        const double sigma2 = std::max(0.0, w.grad_sq[i] - g2);
        if (g2 > 0.0) ratio.push_back(std::sqrt(sigma2 / g2));
        above += sigma2 > g2;
    }
    return {median_of(ratio), above / static_cast<double>(w.size())};
}

// sigma/|g| at kPoints moments of a run of `st` (the first before any step).
std::vector<std::pair<double, double>> sigma_over_g_along(const Setting& st, const Features& train, long steps,
                                                          uint64_t seed) {
    Net net({784, 10}, seed, true);
    auto opt = make(st, net);
    Rng rng(seed + 3);
    Tape tape;
    std::vector<std::pair<double, double>> out;
    for (long t = 0; t <= steps; ++t) {
        if (t % (steps / kPoints) == 0) {
            // At zero weights every weight's gradient is a difference of class means: take one step first.
            if (t == 0) train_step(net, *opt, train, kBatch, rng, tape);
            out.push_back(sigma_over_g(net, train));
        }
        if (t < steps) train_step(net, *opt, train, kBatch, rng, tape);
    }
    return out;
}

}  // namespace

Result rmsprop_sigma(const Settings& s) {
    Result r;
    r.name = "rmsprop-sigma";
    const SingleThread single_thread;
    const FashionSubset data = load_fashion(s.quick ? 4000 : 20000, 0, s.seed, 0.1f);
    const Features eval = first_examples(data.train, 1000);
    const long steps = s.quick ? 200 : 1500;
    const int seeds = s.quick ? 2 : 5;

    // (a) units, at eps = 1e-20.
    const float c = 10.0f;
    const Features train_c = scaled(data.train, 1.0f / c), eval_c = scaled(eval, 1.0f / c);
    const Setting u1{"rmsprop", 1e-3, 1e-20}, u2{"rmsprop-var", 1e-6, 1e-20};
    const double v1 = final_of(u1, data.train, eval, steps, s.seed), v1c = final_of(u1, train_c, eval_c, steps, s.seed);
    const double v2 = final_of(u2, data.train, eval, steps, s.seed), v2c = final_of(u2, train_c, eval_c, steps, s.seed);

    // (b) the grid, one seed.
    const std::vector<double> eps_grid = s.quick ? std::vector<double>{1e-20, 1e-6}
                                                 : std::vector<double>{1e-20, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4};
    auto eta_grid = [&](double lo, double hi) {
        std::vector<double> g;
        for (double e = lo; e <= hi * 1.01; e *= s.quick ? 10.0 : std::sqrt(10.0)) g.push_back(e);
        return g;
    };
    const std::vector<double> etas1 = eta_grid(1e-4, 1e-1), etas2 = eta_grid(1e-8, 1e-1), etas_sgd = eta_grid(1e-2, 100.0);
    Table grid1{"", {"eta"}, {}}, grid2{"var", {"eta"}, {}};
    for (double e : eps_grid) grid1.header.push_back("eps_" + fmt(e, 2)), grid2.header.push_back("eps_" + fmt(e, 2));
    grid1.header.push_back("sgd");
    Setting best1{"rmsprop"}, best2{"rmsprop-var"}, best_sgd{"sgd"};
    double best_loss1 = 1e30, best_loss2 = 1e30, best_loss_sgd = 1e30;
    for (double eta : etas1) {
        std::vector<double> row = {eta};
        for (double e : eps_grid) {
            const double l = final_of({"rmsprop", eta, e}, data.train, eval, steps, s.seed);
            row.push_back(l);
            if (l < best_loss1) best_loss1 = l, best1.eta = eta, best1.eps = e;
        }
        row.push_back(NAN);
        grid1.add(row);
    }
    for (double eta : etas_sgd) {
        const double l = final_of({"sgd", eta, 0.0}, data.train, eval, steps, s.seed);
        std::vector<double> row(grid1.header.size(), NAN);
        row.front() = eta, row.back() = l;
        grid1.add(row);
        if (l < best_loss_sgd) best_loss_sgd = l, best_sgd.eta = eta;
    }
    for (double eta : etas2) {
        std::vector<double> row = {eta};
        for (double e : eps_grid) {
            const double l = final_of({"rmsprop-var", eta, e}, data.train, eval, steps, s.seed);
            row.push_back(l);
            if (l < best_loss2) best_loss2 = l, best2.eta = eta, best2.eps = e;
        }
        grid2.add(row);
    }
    // Refine each variant's eta around its best grid point (quarter decades), same seed.
    for (auto [best, loss] : {std::pair{&best1, &best_loss1}, {&best2, &best_loss2}, {&best_sgd, &best_loss_sgd}}) {
        const Setting centre = *best;
        for (double f : {std::pow(10.0, -0.25), std::pow(10.0, 0.25)}) {
            Setting st = centre;
            st.eta *= f;
            const double l = final_of(st, data.train, eval, steps, s.seed);
            if (l < *loss) *loss = l, *best = st;
        }
    }
    // Fresh seeds at each variant's best setting; paired differences (same seed, same batches).
    std::vector<double> f1, f2, fs, diff;
    for (int k = 1; k <= seeds; ++k) {
        const uint64_t seed = s.seed + 100 * static_cast<uint64_t>(k);
        f1.push_back(final_of(best1, data.train, eval, steps, seed));
        f2.push_back(final_of(best2, data.train, eval, steps, seed));
        fs.push_back(final_of(best_sgd, data.train, eval, steps, seed));
        diff.push_back(f2.back() - f1.back());
    }
    const Interval i1 = mean_ci95(f1), i2 = mean_ci95(f2), is = mean_ci95(fs), id = mean_ci95(diff);

    // (c) sigma/|g| along the best runs.
    const auto along1 = sigma_over_g_along(best1, data.train, steps, s.seed);
    const auto along2 = sigma_over_g_along(best2, data.train, steps, s.seed);
    Table along{"along", {"examples", "median_sigma_over_g_1", "median_sigma_over_g_2", "fraction_sigma_above_g_1",
                          "fraction_sigma_above_g_2"}, {}};
    double min_ratio = 1e30;
    for (size_t k = 0; k < along1.size(); ++k) {
        along.add({double(std::max<long>(1, k * (steps / kPoints))) * kBatch, along1[k].first, along2[k].first,
                   along1[k].second, along2[k].second});
        min_ratio = std::min({min_ratio, along1[k].first, along2[k].first});
    }

    r.checks.push_back(check_relative("(2) g/sigma^2: the same eta gives the same training in weight units 10x "
                                      "smaller (final-loss ratio, eps = 1e-20)", v2c / v2, 1.0, 0.01));
    r.checks.push_back(check_at_least("(1) g/sigma: the weight unit changes the training (|final-loss ratio - 1|)",
                                      std::fabs(v1c / v1 - 1.0), 0.05));
    r.checks.push_back(check_at_least("\"(1) seems to work better\": best (2) minus best (1), each with eta and eps tuned, "
                                      "lower end of the 95% CI over seeds (> 0: (1) is better)",
                                      id.lo(), 0.0, false));
    r.checks.push_back(check_at_least("\"we should expect sigma[i] >> g[i]\": smallest median sigma/|g| along training",
                                      min_ratio, 1.0, false));
    const bool better1 = id.lo() > 0.0, better2 = id.hi() < 0.0;
    r.summary = "units: rescaling the weights changes the final loss by " + fmt(100 * std::fabs(v2c / v2 - 1), 2) +
                "% under (2) and " + fmt(100 * std::fabs(v1c / v1 - 1), 3) + "% under (1); with eta and eps tuned per "
                "variant the final loss is " + fmt_ci(i1, 4) + " for (1) (eta " + fmt(best1.eta, 2) + ", eps " +
                fmt(best1.eps, 2) + ") and " + fmt_ci(i2, 4) + " for (2) (eta " + fmt(best2.eta, 2) + ", eps " +
                fmt(best2.eps, 2) + "), SGD " + fmt(is.mean, 4) + ": " +
                (better1 ? "(1) is better" : better2 ? "(2) is better" : "no difference beyond the seeds' noise") +
                " (difference " + fmt(id.mean, 2) + " +- " + fmt(id.half, 2) + "); median sigma/|g| along training " +
                fmt(min_ratio, 3) + " or more (slide \"RMSProp is Theoretically Mysterious\")";

    std::vector<Series> s1, s2;
    for (size_t k = 0; k < eps_grid.size(); ++k) {
        const std::string col = "eps_" + fmt(eps_grid[k], 2);
        const std::string title = eps_grid[k] < 1e-15 ? "eps = 1e-20 (none)" : "eps = " + fmt(eps_grid[k], 2);
        s1.push_back({col, title, Style::Measured, static_cast<int>(k)});
        s2.push_back({col, title, Style::Measured, static_cast<int>(k)});
    }
    s1.push_back({"sgd", "SGD (eta = its learning rate)", Style::Measured, 7});
    save_figure(r, s, {grid1, grid2, along},
                {{"(1) g/sqrt(s + eps): final loss (seed " + std::to_string(s.seed) + ")", "eta (log scale)",
                  "final training loss", "eta", s1, 0, 1.0, true, false, NAN, NAN, NAN, 2.4},
                 {"(2) g/(s + eps): final loss, eta in other units", "eta (log scale)", "final training loss", "eta", s2,
                  1, 1.0, true, false, NAN, NAN, NAN, 2.4},
                 {"sigma[i]/|g[i]| along training (median over weights)", "thousands of examples seen",
                  "median sigma/|g|", "examples",
                  {{"median_sigma_over_g_1", "run of (1)", Style::Measured, 0},
                   {"median_sigma_over_g_2", "run of (2)", Style::Measured, 1}},
                  2, 1e-3, false, false, NAN, NAN, 0.0}});
    return r;
}

}  // namespace dl::lecture
