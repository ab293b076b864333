// vector-bound. Lecture, "Appendix II: A Formal Bound for the Vector Case":
// minibatch SGD with a sufficiently large batch (k >= 16 sigma^2/||g||^2
// examples) and eta = 1/(2L) "is guaranteed (with high probability) to reduce
// the loss". The proof uses a concentration inequality (Norkin and Wets): if
// |(g_n)_i - g_i| <= b for all i, then with probability >= 1 - delta
//     ||g^ - g|| <= b (1 + sqrt(2 ln(1/delta))) / sqrt(k).
// Quadratic loss (1/2) Phi^T H Phi in d dimensions (H diagonal, largest
// eigenvalue L = 1), per-example gradients g_n = H Phi + u_n with u_n uniform
// in [-b, b]^d (sigma^2 = E||u||^2 = d b^2/3). At a point with
// ||g||^2 = sigma^2/4 (k* = 16 sigma^2/||g||^2 = 64) we take one step of optim/'s
// sgd with eta = 1/(2L) from many independent batches of k examples, and count
// the steps that reduce the loss, and the batches inside the inequality's radius.
// As printed (a bound on each coordinate), the inequality cannot hold in high
// dimension: ||g^ - g|| grows like b sqrt(d/(3k)); it needs ||g_n - g|| <= b.
#include <cmath>

#include "apps/lecture/experiments.h"
#include "optim/registry.h"

namespace dl::lecture {

namespace {

constexpr double kB = 1.0, kDelta = 0.05;

struct Outcome {
    double reduced = 0.0;   // fraction of steps that reduce the loss
    double covered = 0.0;   // fraction with ||g^ - g|| inside the inequality's radius
};

Outcome one_step(int d, int k, int trials, Rng& rng) {
    std::vector<double> h(static_cast<size_t>(d)), g(static_cast<size_t>(d)), phi(static_cast<size_t>(d));
    const double sigma2 = d * kB * kB / 3.0, g_norm = std::sqrt(sigma2 / 4.0);
    double norm = 0.0;
    for (int i = 0; i < d; ++i) {
        h[i] = d == 1 ? 1.0 : 0.1 + 0.9 * i / (d - 1);
        g[i] = rng.normal();
        norm += g[i] * g[i];
    }
    for (int i = 0; i < d; ++i) {
        g[i] *= g_norm / std::sqrt(norm);
        phi[i] = g[i] / h[i];
    }
    Parameter p("phi", Shape{trials, d});
    for (int t = 0; t < trials; ++t)
        for (int i = 0; i < d; ++i) p.value[t * d + i] = static_cast<float>(phi[i]);
    const double radius = kB * (1.0 + std::sqrt(2.0 * std::log(1.0 / kDelta))) / std::sqrt(double(k));
    Outcome out;
    for (int t = 0; t < trials; ++t) {
        double err2 = 0.0;
        for (int i = 0; i < d; ++i) {
            double noise = 0.0;
            for (int n = 0; n < k; ++n) noise += rng.uniform(-kB, kB);
            noise /= k;
            err2 += noise * noise;
            p.grad[t * d + i] = static_cast<float>(g[i] + noise);
        }
        out.covered += std::sqrt(err2) <= radius;
    }
    OptimizerConfig c;
    c.lr = 0.5f;  // eta = 1/(2L), L = 1
    make_optimizer("sgd", {&p}, c)->step();
    double before = 0.0;
    for (int i = 0; i < d; ++i) before += 0.5 * h[i] * phi[i] * phi[i];
    for (int t = 0; t < trials; ++t) {
        double after = 0.0;
        for (int i = 0; i < d; ++i) after += 0.5 * h[i] * p.value[t * d + i] * p.value[t * d + i];
        out.reduced += after < before;
    }
    out.reduced /= trials;
    out.covered /= trials;
    return out;
}

}  // namespace

Result vector_bound(const Settings& s) {
    Result r;
    r.name = "vector-bound";
    const int trials = s.quick ? 1000 : 10000, k_star = 64;
    Rng rng(s.seed);
    const std::vector<int> dims = {1, 10, 100};
    const std::vector<int> ks = {k_star / 16, k_star / 8, k_star / 4, k_star / 2, k_star, 2 * k_star, 4 * k_star};
    Table t{"", {"k_over_k_star", "reduced_d1", "reduced_d10", "reduced_d100", "covered_d1", "covered_d10",
             "covered_d100"}, {}};
    std::vector<std::vector<Outcome>> o(ks.size());
    for (size_t j = 0; j < ks.size(); ++j) {
        std::vector<double> row = {double(ks[j]) / k_star};
        for (int d : dims) o[j].push_back(one_step(d, ks[j], trials, rng));
        for (const Outcome& x : o[j]) row.push_back(x.reduced);
        for (const Outcome& x : o[j]) row.push_back(x.covered);
        t.add(row);
    }
    const std::vector<Outcome>& at = o[4];  // k = k*
    for (size_t i = 0; i < dims.size(); ++i)
        r.checks.push_back(check_at_least("k = 16 sigma^2/||g||^2, eta = 1/(2L): fraction of steps reducing the loss, d = " +
                                              std::to_string(dims[i]),
                                          at[i].reduced, 1.0 - kDelta));
    r.checks.push_back(check_at_least("concentration: P(||g^ - g|| <= b(1 + sqrt(2 ln 1/delta))/sqrt(k)) >= 1 - delta, d = 1",
                                      at[0].covered, 1.0 - kDelta));
    r.checks.push_back(check_at_least("the same with a coordinate bound b as printed, d = 100", at[2].covered,
                                      1.0 - kDelta, false));
    r.summary = "at k = k* = 16 sigma^2/||g||^2 with eta = 1/(2L), " + fmt(100 * at[0].reduced, 4) + "% / " +
                fmt(100 * at[1].reduced, 4) + "% / " + fmt(100 * at[2].reduced, 4) +
                "% of steps reduce the loss (d = 1/10/100; at k*/16: " + fmt(100 * o[0][0].reduced, 3) +
                "% for d = 1); the concentration inequality as printed covers " + fmt(100 * at[2].covered, 3) +
                "% in d = 100 (promised " + fmt(100 * (1 - kDelta), 3) + "%" +
                (r.checks.back().holds ? ")" : ": it needs a norm bound ||g_n - g|| <= b)") + " (slide \"A Concentration Inequality for Gradient Estimation\")";
    auto dims_series = [&](const std::string& prefix) {
        std::vector<Series> out;
        for (size_t i = 0; i < dims.size(); ++i)
            out.push_back({prefix + "_d" + std::to_string(dims[i]), "d = " + std::to_string(dims[i]), Style::Points,
                           static_cast<int>(i)});
        return out;
    };
    std::vector<double> ticks;
    for (int k : ks) ticks.push_back(double(k) / k_star);
    Panel reduced{"steps that reduce the loss (eta = 1/(2L))", "k / k* (log scale)", "fraction of steps", "k_over_k_star",
                  dims_series("reduced"), 0, 1.0, true, false, NAN, NAN, -0.04, 1.06, {{1.0, "k = k*", 0.5}}};
    Panel covered{"inside the printed radius b(1 + sqrt(2 ln 1/delta))/sqrt(k)", "k / k* (log scale)",
                  "fraction of batches", "k_over_k_star", dims_series("covered"), 0, 1.0, true, false, NAN, NAN, -0.04,
                  1.06, {{1.0, "k = k*", 0.5}}};
    reduced.xtic_list = covered.xtic_list = ticks;
    save_figure(r, s, {t}, {reduced, covered});
    return r;
}

}  // namespace dl::lecture
