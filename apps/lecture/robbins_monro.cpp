// robbins-monro. Lecture, "The Classical Convergence Theorem": for eta_t > 0,
//   lim eta_t = 0 and sum_t eta_t = infinity, the training loss converges;
//   "To converge to a local optimum the learning rate must be gradually reduced
//   toward zero."
// SGD (optim/'s sgd, B = 1) on the 1-D loss (1/2)(beta - y)^2, y ~ N(mu, sigma^2),
// many independent runs at once (one parameter element per run), with three
// schedules: constant eta (stalls at a noise floor), optim/'s robbins-monro
// eta_0/(1 + t/tau) (converges), and eta_0/(1 + t/tau)^2, whose sum is finite
// (stops short of the optimum). For this loss E(beta_t - mu)^2 follows exactly
//   m_t+1 = (1 - eta_t) m_t,  v_t+1 = (1 - eta_t)^2 v_t + eta_t^2 sigma^2
// which gives the predicted curves.
#include <cmath>
#include <functional>

#include "apps/lecture/experiments.h"
#include "optim/registry.h"
#include "optim/schedule.h"

namespace dl::lecture {

namespace {

constexpr double kMu = 1.0, kSigma = 1.0, kStart = 6.0, kEta0 = 0.2;

using LrFn = std::function<double(long)>;  // eta_t for step t = 0, 1, ...

// Runs SGD with schedule lr on `runs` independent chains; returns the excess
// loss E (1/2)(beta_t - mu)^2 (mean over runs) after each step.
std::vector<double> run_sgd(const LrFn& lr, int steps, int runs, uint64_t seed) {
    Parameter beta("beta", Shape{runs});
    beta.value.fill(static_cast<float>(kStart));
    OptimizerConfig c;
    c.lr = static_cast<float>(lr(0));
    auto sgd = make_optimizer("sgd", {&beta}, c);
    Rng rng(seed);
    std::vector<double> excess;
    for (long t = 0; t < steps; ++t) {
        for (int k = 0; k < runs; ++k)
            beta.grad[k] = static_cast<float>(beta.value[k] - (kMu + kSigma * rng.normal()));
        sgd->set_lr(static_cast<float>(lr(t)));
        sgd->step();
        double sum = 0.0;
        for (int k = 0; k < runs; ++k) sum += 0.5 * (beta.value[k] - kMu) * (beta.value[k] - kMu);
        excess.push_back(sum / runs);
    }
    return excess;
}

// The exact E (1/2)(beta_t - mu)^2 of the same process.
std::vector<double> predicted_excess(const LrFn& lr, int steps) {
    double m = kStart - kMu, v = 0.0;
    std::vector<double> excess;
    for (long t = 0; t < steps; ++t) {
        const double eta = lr(t);
        m *= 1.0 - eta;
        v = (1.0 - eta) * (1.0 - eta) * v + eta * eta * kSigma * kSigma;
        excess.push_back(0.5 * (m * m + v));
    }
    return excess;
}

// Mean of x over steps [from, to).
double window(const std::vector<double>& x, size_t from, size_t to) {
    return mean_of(std::vector<double>(x.begin() + static_cast<long>(from), x.begin() + static_cast<long>(to)));
}

}  // namespace

Result robbins_monro(const Settings& s) {
    Result r;
    r.name = "robbins-monro";
    const int steps = s.quick ? 4000 : 40000, runs = s.quick ? 400 : 2000;
    ScheduleConfig rm;
    rm.kind = "robbins-monro";
    rm.lr = static_cast<float>(kEta0);
    rm.tau = 50.0f;
    const auto robbins_monro = make_schedule(rm);
    const double tau_fast = 10.0;
    const std::vector<LrFn> lrs = {
        [](long) { return kEta0; },
        [&](long t) { return static_cast<double>(robbins_monro->lr(t, 0.0)); },
        [&](long t) { return kEta0 / ((1.0 + t / tau_fast) * (1.0 + t / tau_fast)); },
    };
    std::vector<std::vector<double>> measured, predicted;
    for (size_t k = 0; k < lrs.size(); ++k) {
        measured.push_back(run_sgd(lrs[k], steps, runs, s.seed + k));
        predicted.push_back(predicted_excess(lrs[k], steps));
    }
    const size_t T = static_cast<size_t>(steps);
    std::vector<double> late, early;  // windows [0.9T, T) and [0.09T, 0.1T)
    for (const auto& m : measured) {
        late.push_back(window(m, T * 9 / 10, T));
        early.push_back(window(m, T * 9 / 100, T / 10));
    }
    const double floor = kEta0 * kSigma * kSigma / (2.0 * (2.0 - kEta0));
    r.checks.push_back(check_relative("constant eta stalls: loss(T) / loss(T/10)", late[0] / early[0], 1.0, 0.2));
    r.checks.push_back(check_relative("constant eta: the noise floor eta sigma^2 / (2 (2 - eta)) of this loss",
                                      late[0], floor, 0.15));
    r.checks.push_back(check_at_most("eta_0/(1 + t/tau) (sum = inf) converges: loss(T) / loss(T/10)",
                                     late[1] / early[1], 0.2));
    r.checks.push_back(check_at_least("sum eta_t < inf stops short: loss(T) / loss(T/10)", late[2] / early[2],
                                      0.8));
    r.checks.push_back(check_relative("sum eta_t < inf: loss(T) vs the exact recursion", late[2],
                                      window(predicted[2], T * 9 / 10, T), 0.15));
    r.summary = "excess loss at T = " + std::to_string(steps) + ": constant eta " + fmt(late[0], 3) +
                " (floor " + fmt(floor, 3) + ", stalls), Robbins-Monro " + fmt(late[1], 3) +
                " (still falling, x" + fmt(late[1] / early[1], 2) + " per decade), summable " + fmt(late[2], 3) +
                " (stopped short)";
    Table t{"", {"step", "constant", "robbins_monro", "summable", "constant_exact", "robbins_monro_exact",
             "summable_exact"}, {}};
    for (size_t i = 0; i < T; i = i < 100 ? i + 1 : i + i / 50)
        t.add({double(i + 1), measured[0][i], measured[1][i], measured[2][i], predicted[0][i], predicted[1][i],
               predicted[2][i]});
    save_figure(r, s, {t},
                {{"SGD on (1/2)(beta - y)^2: excess loss, mean of " + std::to_string(runs) + " runs", "step t",
                  "E L(beta_t) - L*", "step",
                  {{"constant", "constant eta", Style::MeasuredLine, 0},
                   {"robbins_monro", "eta_0/(1 + t/tau)", Style::MeasuredLine, 1},
                   {"summable", "eta_0/(1 + t/tau)^2 (sum < inf)", Style::MeasuredLine, 2},
                   {"constant_exact", "exact recursion", Style::Predicted, 6},
                   {"robbins_monro_exact", "", Style::Predicted, 6},
                   {"summable_exact", "", Style::Predicted, 6}},
                  0, 1.0, true, true}});
    return r;
}

}  // namespace dl::lecture
