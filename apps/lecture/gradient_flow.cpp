// gradient-flow. Lecture, "Gradient Flow also Models SGD": SGD with g^ from a
// random data point, Delta Phi = -g^ Delta t, "also converges to deterministic
// gradient flow as Delta t goes to zero"; "The sum of the learning rates can
// be interpreted as time." The Langevin slides say how fast: the noise of the
// SGD path is eps sqrt(dt) with eps ~ N(0, eta Sigma), so its distance from
// the flow shrinks like sqrt(eta).
// SGD (optim/'s sgd, B = 1) on L(Phi) = sum_j (h_j/2)(Phi_j - y_j)^2 with
// y ~ N(0, I), many runs at once, for several eta, each for the same total
// time sum eta = T. Gradient flow dPhi/dt = -g(Phi) has the exact solution
// Phi_j(t) = Phi_j(0) exp(-h_j t). For this loss E||Phi_SGD - Phi_flow||^2
// also has an exact recursion (mean and variance of each coordinate).
#include <cmath>

#include "apps/lecture/experiments.h"
#include "optim/registry.h"

namespace dl::lecture {

namespace {

constexpr double kH[2] = {1.0, 0.25};  // curvatures
constexpr double kStart = 3.0, kTime = 4.0;

// RMS over runs of ||Phi_SGD(T) - Phi_flow(T)|| after T/eta steps.
double sgd_distance(double eta, int runs, uint64_t seed) {
    Parameter phi("phi", Shape{runs, 2});
    phi.value.fill(static_cast<float>(kStart));
    OptimizerConfig c;
    c.lr = static_cast<float>(eta);
    auto sgd = make_optimizer("sgd", {&phi}, c);
    Rng rng(seed);
    const long steps = std::lround(kTime / eta);
    for (long t = 0; t < steps; ++t) {
        for (int k = 0; k < 2 * runs; ++k) phi.grad[k] = static_cast<float>(kH[k % 2] * (phi.value[k] - rng.normal()));
        sgd->step();
    }
    double sum = 0.0;
    for (int k = 0; k < 2 * runs; ++k) {
        const double d = phi.value[k] - kStart * std::exp(-kH[k % 2] * kTime);
        sum += d * d;
    }
    return std::sqrt(sum / runs);
}

// The same quantity from the exact recursion m' = (1 - eta h) m, v' = (1 - eta h)^2 v + eta^2 h^2.
double exact_distance(double eta) {
    const long steps = std::lround(kTime / eta);
    double sum = 0.0;
    for (double h : kH) {
        double m = kStart, v = 0.0;
        for (long t = 0; t < steps; ++t) {
            m *= 1.0 - eta * h;
            v = (1.0 - eta * h) * (1.0 - eta * h) * v + eta * eta * h * h;
        }
        const double bias = m - kStart * std::exp(-h * kTime);
        sum += bias * bias + v;
    }
    return std::sqrt(sum);
}

}  // namespace

Result gradient_flow(const Settings& s) {
    Result r;
    r.name = "gradient-flow";
    const int runs = s.quick ? 400 : 4000;
    std::vector<double> etas = {0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002};
    if (!s.quick) etas.push_back(0.001);
    Table t{"", {"eta", "distance", "exact_distance", "sqrt_eta_line"}, {}};
    std::vector<double> log_eta, log_d;
    for (size_t i = 0; i < etas.size(); ++i) {
        const double d = sgd_distance(etas[i], runs, s.seed + i), exact = exact_distance(etas[i]);
        t.add({etas[i], d, exact, NAN});
        log_eta.push_back(std::log(etas[i]));
        log_d.push_back(std::log(d));
    }
    const LineFit fit = fit_line(log_eta, log_d);
    // The line of slope 1/2 through the centre of the measured points (log-log).
    const double c = std::exp(mean_of(log_d) - 0.5 * mean_of(log_eta));
    for (auto& row : t.rows) row[3] = c * std::sqrt(row[0]);
    const double first = t.rows.front()[1], last = t.rows.back()[1];
    r.checks.push_back(check_absolute("SGD -> gradient flow as eta -> 0: distance ~ eta^(1/2) (log-log slope)",
                                      fit.slope, 0.5, 0.1));
    r.checks.push_back(check_relative("distance at the smallest eta vs the exact recursion", last,
                                      t.rows.back()[2], 0.1));
    r.checks.push_back(check_at_most("distance shrinks: smallest eta / largest eta", last / first,
                                     1.3 * std::sqrt(etas.back() / etas.front())));
    r.summary = "RMS distance from the gradient-flow solution at time sum eta = " + fmt(kTime, 2) + ": " +
                fmt(first, 3) + " at eta = " + fmt(etas.front(), 2) + ", " + fmt(last, 3) + " at eta = " +
                fmt(etas.back(), 2) + "; slope " + fmt(fit.slope, 3) + " (predicted 1/2)";
    save_figure(r, s, {t},
                {{"SGD vs gradient flow at fixed time sum eta = " + fmt(kTime, 2), "learning rate eta",
                  "RMS ||Phi_SGD - Phi_flow||", "eta",
                  {{"distance", "SGD, measured", Style::Points, 0},
                   {"exact_distance", "exact recursion", Style::Predicted, 1},
                   {"sqrt_eta_line", "c eta^(1/2)", Style::Predicted, 7}},
                  0, 1.0, true, true}});
    return r;
}

}  // namespace dl::lecture
