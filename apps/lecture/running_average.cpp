// running-average. Lecture, "Digression on Running Averages" and "Bias
// Correction of Running Averages":
//   mu^_t = (1 - 1/N) mu^_{t-1} + (1/N) x_t  approximates the mean of the N most
//   recent values for t > N; "For t << N we have E mu^_t ~ (t/N) mu"; the rate
//   1/min(N, t) "avoids the initial bias toward zero while still tracking a
//   moving average"; "The published version of Adam has a more obscure form of
//   bias correction which yields essentially the same effect."
// Many independent sequences x_t ~ N(mu, s^2) are averaged with optim/'s
// running averages (Ema, BiasCorrected) and with Adam's correction
// mu^_t / (1 - (1 - 1/N)^t); the N-window mean is the reference.
// The slide's closed form has two sign typos: the weights are (1 - 1/N)^(t-s),
// not ^-(t-s), and sum_{n>=0} (1 - 1/N)^n = N (the printed sum_{n>0} (1-1/N)^-n diverges).
#include <cmath>
#include <deque>

#include "apps/lecture/experiments.h"
#include "optim/running_average.h"

namespace dl::lecture {

namespace {

constexpr double kMu = 1.0, kS = 0.5;
constexpr float kN = 100.0f;

// The averages of one time step over all runs.
struct Averages {
    std::vector<float> ema, corrected, window;
    std::vector<std::deque<float>> recent;  // the last N values of each run
    std::vector<double> recent_sum;         // and their sum
};

// Sum of the slide's weights, as printed (exponent -n, n = 1..terms) and corrected (exponent n >= 0).
double weight_sum(double N, int terms, bool as_printed) {
    double sum = 0.0;
    for (int n = as_printed ? 1 : 0; n < terms; ++n)
        sum += std::pow(1.0 - 1.0 / N, as_printed ? -n : n);
    return sum;
}

}  // namespace

Result running_average(const Settings& s) {
    Result r;
    r.name = "running-average";
    const int runs = s.quick ? 2000 : 20000, T = 5 * static_cast<int>(kN);
    const size_t R = static_cast<size_t>(runs);
    Rng rng(s.seed);
    const RunningAverage ema{Averaging::Ema, kN}, corrected{Averaging::BiasCorrected, kN};
    Averages a{std::vector<float>(R), std::vector<float>(R), std::vector<float>(R),
               std::vector<std::deque<float>>(R), std::vector<double>(R)};
    std::vector<float> x(R);

    Table t{{"t", "ema", "min_N_t", "adam", "window", "t_over_N_mu", "var_min_N_t", "var_adam"}, {}};
    double bias_corrected = 0.0, bias_adam = 0.0, max_var_ratio = 0.0, ema_at_5 = 0.0, ema_late = 0.0;
    for (int step = 1; step <= T; ++step) {
        for (size_t k = 0; k < R; ++k) {
            x[k] = static_cast<float>(kMu + kS * rng.normal());
            a.recent[k].push_back(x[k]);
            a.recent_sum[k] += x[k];
            if (a.recent[k].size() > kN) {
                a.recent_sum[k] -= a.recent[k].front();
                a.recent[k].pop_front();
            }
            a.window[k] = static_cast<float>(a.recent_sum[k] / static_cast<double>(a.recent[k].size()));
        }
        dl::running_average(a.ema.data(), x.data(), R, ema.rate(step));
        dl::running_average(a.corrected.data(), x.data(), R, corrected.rate(step));
        const double adam_scale = 1.0 / (1.0 - std::pow(1.0 - 1.0 / kN, step));
        std::vector<double> e(a.ema.begin(), a.ema.end()), c(a.corrected.begin(), a.corrected.end());
        std::vector<double> adam(e), w(a.window.begin(), a.window.end());
        for (double& v : adam) v *= adam_scale;
        const double var_ratio = variance_of(adam) / variance_of(c);
        t.add({double(step), mean_of(e), mean_of(c), mean_of(adam), mean_of(w), kMu * step / kN,
               variance_of(c), variance_of(adam)});
        if (step <= kN) {
            bias_corrected += std::fabs(mean_of(c) - kMu) / kMu / kN;
            bias_adam += std::fabs(mean_of(adam) - kMu) / kMu / kN;
        }
        max_var_ratio = std::max(max_var_ratio, var_ratio);
        if (step == 5) ema_at_5 = mean_of(e);
        if (step == T) ema_late = mean_of(e);
    }
    r.checks.push_back(check_relative("for t << N, E mu^_t ~ (t/N) mu (t = 5, N = 100)", ema_at_5,
                                      5.0 / kN * kMu, 0.1));
    r.checks.push_back(check_absolute("the 1/min(N, t) rate removes the bias: mean |E mu^_t - mu|/mu over t <= N",
                                      bias_corrected, 0.0, 0.02));
    r.checks.push_back(check_absolute("Adam's correction, same effect: mean |E mu^_t - mu|/mu over t <= N",
                                      bias_adam, 0.0, 0.02));
    r.checks.push_back(check_relative("Adam's correction, same effect: max over t of Var(Adam)/Var(min(N,t))",
                                      max_var_ratio, 1.0, 0.3));
    r.checks.push_back(check_relative("mu^_t ~ the N-window mean for t > N: E mu^_t at t = 5N vs mu",
                                      ema_late, kMu, 0.02));
    r.checks.push_back(check_relative("weights sum to N: sum_{n>=0} (1 - 1/N)^n (corrected sign)",
                                      weight_sum(kN, 20 * static_cast<int>(kN), false), kN, 1e-3));
    r.checks.push_back(check_relative("the slide as printed: sum_{n>0} (1 - 1/N)^-n = N (first 5N terms)",
                                      weight_sum(kN, T, true), kN, 0.1, false));
    r.summary = "EMA at t = 5: " + fmt(ema_at_5, 3) + " vs (t/N) mu = " + fmt(5.0 / kN, 3) +
                "; bias left by min(N,t): " + fmt(100 * bias_corrected, 2) + "%, by Adam's correction: " +
                fmt(100 * bias_adam, 2) + "%; their variance ratio <= " + fmt(max_var_ratio, 3) +
                " (essentially the same); the slide's closed form needs exponent +(t-s)";
    save_table(r, s, t,
               {{"E mu_t over runs (mu = 1, N = 100)", "t", "E mu_t", "t",
                 {"ema", "min_N_t", "adam", "window", "t_over_N_mu"}, true, false, "lines"},
                {"variance of the corrected averages", "t", "Var mu_t", "t", {"var_min_N_t", "var_adam"}, true,
                 true, "lines"}});
    return r;
}

}  // namespace dl::lecture
