// running-average. Lecture, "Digression on Running Averages" and "Bias
// Correction of Running Averages":
//   mu^_t = (1 - 1/N) mu^_{t-1} + (1/N) x_t  approximates the mean of the N most
//   recent values for t > N; "For t << N we have E mu^_t ~ (t/N) mu"; the exact
//   average, rate 1/t, "fails to track a moving average for t >> N"; the rate
//   1/min(N, t) "avoids the initial bias toward zero while still tracking a
//   moving average"; "The published version of Adam has a more obscure form of
//   bias correction which yields essentially the same effect."
// Many independent sequences are averaged with optim/'s running averages (Ema,
// BiasCorrected, Exact) and with Adam's correction mu^_t / (1 - (1 - 1/N)^t);
// the N-window mean is the reference.
// (a) A stationary input x_t ~ N(mu, s^2): the bias for t << N, the corrections.
// (b) A drifting input x_t = mu(t) + s z, mu(t) = 1 + A sin(2 pi t / P) with a
//     period P = 20 N: which averages track the window mean, and how closely.
//     An EMA weighs x_{t-n} by (1 - 1/N)^n / N (mean age N - 1), the window by
//     1/N (mean age (N - 1)/2), so on a drifting input the EMA trails the window
//     by about N/2 steps; we measure that lag.
// The slide's closed form has two sign typos: the weights are (1 - 1/N)^(t-s),
// not ^-(t-s), and sum_{n>=0} (1 - 1/N)^n = N (the printed sum_{n>0} (1-1/N)^-n diverges).
#include <algorithm>
#include <cmath>
#include <deque>

#include "apps/lecture/experiments.h"
#include "optim/running_average.h"

namespace dl::lecture {

namespace {

constexpr double kMu = 1.0, kS = 0.5, kAmplitude = 1.0;
constexpr float kN = 100.0f;

// The four averages and the window mean of R sequences, advanced one value at a time.
class Averagers {
public:
    explicit Averagers(size_t runs)
        : ema_(runs), corrected_(runs), exact_(runs), window_(runs), recent_(runs), recent_sum_(runs) {}

    // Feeds x (one value per run) as value number `step` (1, 2, ...).
    void feed(const std::vector<float>& x, long step) {
        const size_t R = x.size();
        for (size_t k = 0; k < R; ++k) {
            recent_[k].push_back(x[k]);
            recent_sum_[k] += x[k];
            if (recent_[k].size() > kN) {
                recent_sum_[k] -= recent_[k].front();
                recent_[k].pop_front();
            }
            window_[k] = static_cast<float>(recent_sum_[k] / static_cast<double>(recent_[k].size()));
        }
        dl::running_average(ema_.data(), x.data(), R, RunningAverage{Averaging::Ema, kN}.rate(step));
        dl::running_average(corrected_.data(), x.data(), R, RunningAverage{Averaging::BiasCorrected, kN}.rate(step));
        dl::running_average(exact_.data(), x.data(), R, RunningAverage{Averaging::Exact, kN}.rate(step));
        adam_scale_ = 1.0 / (1.0 - std::pow(1.0 - 1.0 / kN, static_cast<double>(step)));
    }
    std::vector<double> ema() const { return {ema_.begin(), ema_.end()}; }
    std::vector<double> corrected() const { return {corrected_.begin(), corrected_.end()}; }
    std::vector<double> exact() const { return {exact_.begin(), exact_.end()}; }
    std::vector<double> window() const { return {window_.begin(), window_.end()}; }
    std::vector<double> adam() const {
        std::vector<double> a = ema();
        for (double& v : a) v *= adam_scale_;
        return a;
    }

private:
    std::vector<float> ema_, corrected_, exact_, window_;
    std::vector<std::deque<float>> recent_;
    std::vector<double> recent_sum_;
    double adam_scale_ = 1.0;
};

// Sum of the slide's weights, as printed (exponent -n, n = 1..terms) and corrected (exponent n >= 0).
double weight_sum(double N, int terms, bool as_printed) {
    double sum = 0.0;
    for (int n = as_printed ? 1 : 0; n < terms; ++n) sum += std::pow(1.0 - 1.0 / N, as_printed ? -n : n);
    return sum;
}

double rms(const std::vector<double>& a, const std::vector<double>& b, size_t from, size_t to, size_t shift = 0) {
    double sum = 0.0;
    for (size_t t = from; t < to; ++t) sum += (a[t] - b[t - shift]) * (a[t] - b[t - shift]);
    return std::sqrt(sum / static_cast<double>(to - from));
}

}  // namespace

Result running_average(const Settings& s) {
    Result r;
    r.name = "running-average";
    Rng rng(s.seed);

    // (a) stationary input.
    const int runs = s.quick ? 2000 : 20000, T = 5 * static_cast<int>(kN);
    const size_t R = static_cast<size_t>(runs);
    Averagers a(R);
    std::vector<float> x(R);
    Table t{"", {"t", "ema", "min_N_t", "adam", "window", "t_over_N_mu", "var_min_N_t", "var_adam"}, {}};
    double bias_corrected = 0.0, bias_adam = 0.0, max_var_ratio = 0.0, ema_at_5 = 0.0, ema_late = 0.0;
    for (int step = 1; step <= T; ++step) {
        for (float& v : x) v = static_cast<float>(kMu + kS * rng.normal());
        a.feed(x, step);
        const std::vector<double> e = a.ema(), c = a.corrected(), adam = a.adam(), w = a.window();
        t.add({double(step), mean_of(e), mean_of(c), mean_of(adam), mean_of(w), kMu * step / kN, variance_of(c),
               variance_of(adam)});
        if (step <= kN) {
            bias_corrected += std::fabs(mean_of(c) - kMu) / kMu / kN;
            bias_adam += std::fabs(mean_of(adam) - kMu) / kMu / kN;
        }
        max_var_ratio = std::max(max_var_ratio, variance_of(adam) / variance_of(c));
        if (step == 5) ema_at_5 = mean_of(e);
        if (step == T) ema_late = mean_of(e);
    }

    // (b) drifting input: means over runs of each average, at every t.
    const int period = 20 * static_cast<int>(kN), T2 = 3 * period;
    const size_t R2 = s.quick ? 300 : 2000;
    Averagers d(R2);
    std::vector<float> x2(R2);
    std::vector<double> mu_t, e_ema, e_cor, e_exact, e_adam, e_win;
    for (int step = 1; step <= T2; ++step) {
        const double mu = kMu + kAmplitude * std::sin(2.0 * M_PI * step / period);
        for (float& v : x2) v = static_cast<float>(mu + kS * rng.normal());
        d.feed(x2, step);
        mu_t.push_back(mu);
        e_ema.push_back(mean_of(d.ema())), e_cor.push_back(mean_of(d.corrected())), e_exact.push_back(mean_of(d.exact()));
        e_adam.push_back(mean_of(d.adam())), e_win.push_back(mean_of(d.window()));
    }
    const size_t from = static_cast<size_t>(kN), to = static_cast<size_t>(T2), last = static_cast<size_t>(T2 - period);
    const double err_corrected = rms(e_cor, e_win, from, to) / kAmplitude;
    const double err_adam = rms(e_adam, e_cor, 0, to) / kAmplitude;
    const double err_exact = rms(e_exact, e_win, last, to) / kAmplitude;
    // The lag of the bias-corrected EMA behind the window mean: the shift that best aligns them.
    size_t lag = 0;
    double best = 1e30;
    for (size_t shift = 0; shift <= 2 * static_cast<size_t>(kN); ++shift) {
        const double e = rms(e_cor, e_win, 3 * from, to, shift);
        if (e < best) best = e, lag = shift;
    }
    Table drift{"drift", {"t", "mu_t", "window", "ema", "min_N_t", "adam", "exact_1_over_t"}, {}};
    for (size_t i = 0; i < mu_t.size(); i += 10)
        drift.add({double(i + 1), mu_t[i], e_win[i], e_ema[i], e_cor[i], e_adam[i], e_exact[i]});

    r.checks.push_back(check_relative("for t << N, E mu^_t ~ (t/N) mu (t = 5, N = 100)", ema_at_5, 5.0 / kN * kMu, 0.1));
    r.checks.push_back(check_absolute("the 1/min(N, t) rate removes the bias: mean |E mu^_t - mu|/mu over t <= N",
                                      bias_corrected, 0.0, 0.02));
    r.checks.push_back(check_absolute("Adam's correction, same effect: mean |E mu^_t - mu|/mu over t <= N", bias_adam,
                                      0.0, 0.02));
    r.checks.push_back(check_relative("Adam's correction, same effect: max over t of Var(Adam)/Var(min(N,t))",
                                      max_var_ratio, 1.0, 0.3));
    r.checks.push_back(check_relative("mu^_t ~ the N-window mean for t > N: E mu^_t at t = 5N vs mu", ema_late, kMu,
                                      0.02));
    // A lag of (N-1)/2 steps on A sin(2 pi t/P) leaves an RMS gap of (N-1)/2 (2 pi/P) A/sqrt(2).
    const double gap_of_lag = (kN - 1) / 2 * (2 * M_PI / period) / std::sqrt(2.0);
    r.checks.push_back(check_relative("drifting mean (period 20N): 1/min(N,t) tracks the window mean up to the lag, "
                                      "RMS gap over t > N / amplitude vs that of a (N-1)/2-step lag",
                                      err_corrected, gap_of_lag, 0.25));
    r.checks.push_back(check_relative("drifting mean: the EMA trails the window mean by (mean age N-1) - (N-1)/2 = "
                                      "(N-1)/2 steps (best-aligning shift)",
                                      double(lag), (kN - 1) / 2, 0.1));
    r.checks.push_back(check_at_least("\"this fails to track a moving average for t >> N\": RMS gap of the 1/t average "
                                      "in the last period / amplitude",
                                      err_exact, 0.5));
    r.checks.push_back(check_at_most("drifting mean: Adam's correction and 1/min(N,t), RMS gap / amplitude", err_adam,
                                     0.02));
    r.checks.push_back(check_relative("weights sum to N: sum_{n>=0} (1 - 1/N)^n (corrected sign)",
                                      weight_sum(kN, 20 * static_cast<int>(kN), false), kN, 1e-3));
    r.checks.push_back(check_relative("the slide as printed: sum_{n>0} (1 - 1/N)^-n = N (first 5N terms)",
                                      weight_sum(kN, T, true), kN, 0.1, false));
    r.summary = "EMA at t = 5: " + fmt(ema_at_5, 3) + " vs (t/N) mu = " + fmt(5.0 / kN, 3) +
                "; bias left by min(N,t): " + fmt(100 * bias_corrected, 2) + "%, by Adam's correction: " +
                fmt(100 * bias_adam, 2) + "%; on a drifting mean (period 20N) 1/min(N,t) stays within " +
                fmt(100 * err_corrected, 2) + "% RMS of the window mean (it trails it by " + std::to_string(lag) +
                " steps, N/2), the 1/t average is off by " + fmt(100 * err_exact, 2) +
                "% of the amplitude; the slide's closed form needs exponent +(t-s) (slide \"Running Averages\")";
    save_figure(r, s, {t, drift},
                {{"stationary input: E mu_t over runs (mu = 1, N = 100)", "t (log scale)", "E mu_t", "t",
                  {{"ema", "EMA 1/N", Style::MeasuredLine, 0},
                   {"min_N_t", "1/min(N, t)", Style::MeasuredLine, 1},
                   {"adam", "Adam's 1/(1 - beta^t)", Style::MeasuredLine, 2},
                   {"window", "N-window mean", Style::MeasuredLine, 3},
                   {"t_over_N_mu", "(t/N) mu", Style::Predicted, 0}},
                  0, 1.0, true, false, 1.0, NAN, 0.0, 1.15},
                 {"drifting input: E mu_t over runs (N = 100, period 2000)", "t", "E mu_t", "t",
                  {{"mu_t", "mu(t)", Style::Predicted, 7},
                   {"window", "N-window mean", Style::MeasuredLine, 3},
                   {"min_N_t", "1/min(N, t)", Style::MeasuredLine, 1},
                   {"exact_1_over_t", "1/t (exact mean)", Style::MeasuredLine, 4}},
                  1}});
    return r;
}

}  // namespace dl::lecture
