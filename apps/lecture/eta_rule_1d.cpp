// eta-rule-1d. Lecture, "Optimizing B and eta" to "A Complete Calculation of
// eta (in One Dimension)": the learning rate for batch size B is
//     eta_B = B g^2 / (32 sigma^2 L),
// with g and sigma estimated by running averages whose time constant is B*/B
// batches (B* = 16 sigma~^2/g~^2), eta = 0 during K warm-up steps, and "as
// t -> infinity we expect g~ -> 0 and sigma~ -> sigma > 0 which implies eta^t -> 0".
// One parameter beta, loss (L/2)(beta - y)^2 averaged over y, per-example
// gradients L(beta - mu) + sigma z (z ~ N(0, 1)), B = 1 (where the slide's 1-D
// recursion and optim/'s adaptive in batch mode coincide), many independent
// chains at once (one element of one Parameter each), lambda_eta = B/(32 L),
// lambda_B = 16, K = 10. Beside optim/'s adaptive the experiment runs the slide's
// recursion itself in double precision on the same gradients, which gives
// g~ and sigma~, and compares:
//   eta^t against the oracle B g(beta_t)^2/(32 sigma^2 L) from the true gradient;
//   sigma~ against sigma, g~ against g(beta_t);
//   eta^t t against 1/(2L): with the oracle rule g' = -B g^3/(32 sigma^2), so
//   g^2 ~ 16 sigma^2/(B t) and eta^t ~ 1/(2 L t), a Robbins-Monro schedule.
// Two starts: near the optimum (g_0 = sigma/2, B* = 64) and far (g_0 = 4 sigma,
// B* = 1 = B): there the averages' rate B/B* reaches 1, a one-sample variance is
// 0, B* collapses to 0 and eta to lambda g~^2/eps, which is what we count.
#include <algorithm>
#include <cmath>
#include <limits>

#include "apps/lecture/experiments.h"
#include "optim/registry.h"

namespace dl::lecture {

namespace {

constexpr double kL = 1.0, kSigma = 1.0, kEps = 1e-8;
constexpr int kK = 10, kB = 1;

// The slide's recursion for one chain (double precision), fed the batch gradients.
struct SlideRule {
    double g = 0.0, s = 0.0, b_star = kK;
    long t = 0;
    // Returns eta^t for the gradient g^_t (0 during warm-up).
    double step(double g_hat) {
        ++t;
        const double rate = std::min(1.0, kB / b_star);
        g = (1 - rate) * g + rate * g_hat;
        s = (1 - rate) * s + rate * g_hat * g_hat;
        const double sigma2 = std::max(0.0, s - g * g);
        if (t <= kK) return 0.0;  // B*(t) = K
        b_star = 16.0 * sigma2 / (g * g + kEps);
        return (kB / (32.0 * kL)) * g * g / (sigma2 + kEps);
    }
};

struct Trace {
    std::vector<double> t, eta, oracle, eta_t, sigma_ratio, g_ratio, excess, window;  // window: (B*/B) / t
    double exploded = 0.0;     // fraction of chains whose |beta - mu| passed 1e6
    double agreement = 0.0;    // median |eta_optim - eta_slide| / eta_slide after warm-up
};

Trace run(double g0, int chains, long steps, uint64_t seed) {
    Parameter beta("beta", Shape{chains});
    beta.value.fill(static_cast<float>(g0 / kL));  // mu = 0
    OptimizerConfig c;
    c.lr = static_cast<float>(kB / (32.0 * kL));
    c.k = kK;
    c.lambda_b = 16.0f;
    c.eps = static_cast<float>(kEps);
    c.max_eta = std::numeric_limits<float>::infinity();
    c.per_example_sigma = false;
    c.batch_size = kB;
    auto opt = make_optimizer("adaptive", {&beta}, c);
    std::vector<SlideRule> slide(static_cast<size_t>(chains));
    Rng rng(seed);
    Trace tr;
    std::vector<double> gap;
    std::vector<char> dead(static_cast<size_t>(chains), 0);
    long next = kK + 1;
    for (long t = 1; t <= steps; ++t) {
        std::vector<float> before(beta.value.vec());
        for (int k = 0; k < chains; ++k) {
            double g = kL * beta.value[k];
            for (int b = 0; b < kB; ++b) g += kSigma * rng.normal() / kB;
            beta.grad[k] = dead[k] ? 0.0f : static_cast<float>(g);
        }
        opt->step();
        const bool record = t == next;
        std::vector<double> eta, oracle, eta_t, sr, gr, ex, win;
        for (int k = 0; k < chains; ++k) {
            const double e_slide = slide[k].step(beta.grad[k]);
            if (!std::isfinite(beta.value[k]) || std::fabs(beta.value[k]) > 1e6) dead[k] = 1;
            if (dead[k]) continue;
            const double e_optim = beta.grad[k] != 0.0f ? (before[k] - beta.value[k]) / beta.grad[k] : NAN;
            if (t > kK && e_slide > 0 && std::isfinite(e_optim) && t % 97 == 0)
                gap.push_back(std::fabs(e_optim - e_slide) / e_slide);
            if (!record) continue;
            const double g_true = kL * before[k];
            eta.push_back(e_slide);
            oracle.push_back(kB * g_true * g_true / (32.0 * kSigma * kSigma * kL));
            eta_t.push_back(e_slide * t);
            sr.push_back(std::sqrt(std::max(0.0, slide[k].s - slide[k].g * slide[k].g)) / kSigma);
            gr.push_back(std::fabs(slide[k].g / g_true));
            ex.push_back(0.5 * kL * before[k] * before[k]);
            win.push_back(slide[k].b_star / kB / static_cast<double>(t));
        }
        if (!record) continue;
        next = std::max(next + 1, static_cast<long>(next * 1.25));
        tr.t.push_back(double(t));
        for (auto [out, in] : {std::pair{&tr.eta, &eta}, {&tr.oracle, &oracle}, {&tr.eta_t, &eta_t},
                               {&tr.sigma_ratio, &sr}, {&tr.g_ratio, &gr}, {&tr.excess, &ex}, {&tr.window, &win}})
            out->push_back(in->empty() ? NAN : median_of(*in));
    }
    for (char d : dead) tr.exploded += d;
    tr.exploded /= chains;
    tr.agreement = gap.empty() ? NAN : median_of(gap);
    return tr;
}

}  // namespace

Result eta_rule_1d(const Settings& s) {
    Result r;
    r.name = "eta-rule-1d";
    const int chains = s.quick ? 300 : 2000;
    const long steps = s.quick ? 3000 : 30000;
    const Trace near = run(0.5 * kSigma, chains, steps, s.seed);
    const Trace far = run(4.0 * kSigma, chains, std::min(steps, 3000L), s.seed + 1);
    // Late-time summaries: the last quarter of the checkpoints.
    auto late = [](const std::vector<double>& v) {
        return median_of(std::vector<double>(v.end() - static_cast<long>(std::max<size_t>(1, v.size() / 4)), v.end()));
    };
    std::vector<double> ratio;
    for (size_t i = 0; i < near.eta.size(); ++i) ratio.push_back(near.eta[i] / near.oracle[i]);
    const double eta_drop = near.eta.back() / near.eta.front();

    r.checks.push_back(check_at_most("optim/'s adaptive (batch mode, B = 1, no cap) is the slide's 1-D recursion: "
                                     "median relative difference of eta^t",
                                     near.agreement, 1e-3));
    r.checks.push_back(check_at_most("\"eta^t -> 0\": median eta^t at t = " + std::to_string(steps) +
                                         " over the first after warm-up",
                                     eta_drop, 0.05, false));
    r.checks.push_back(check_relative("\"sigma~ -> sigma\": median sigma~/sigma over the last quarter", late(near.sigma_ratio),
                                      1.0, 0.1, false));
    r.checks.push_back(check_relative("eta^t tracks the oracle B g(beta_t)^2/(32 sigma^2 L): median ratio over the last "
                                      "quarter (within a factor 2)",
                                      late(ratio), 1.0, 0.5, false));
    r.checks.push_back(check_relative("the rule decays like Robbins-Monro, eta^t ~ 1/(2 L t): median eta^t t over the "
                                      "last quarter",
                                      late(near.eta_t), 0.5 / kL, 0.5, false));
    r.checks.push_back(check_at_most("started far (g_0 = 4 sigma, B* = 1): fraction of chains that blow up (B*/B <= 1 "
                                     "makes the averages memoryless, sigma~ = 0)",
                                     far.exploded, 0.0, false));
    r.summary = "from g_0 = sigma/2 (B = 1): eta^t falls from " + fmt(near.eta.front(), 3) + " to " +
                fmt(near.eta.back(), 3) + " at t = " + std::to_string(steps) + ", eta^t t -> " + fmt(late(near.eta_t), 3) +
                " (1/(2L) = " + fmt(0.5 / kL, 2) + ": a Robbins-Monro schedule), sigma~/sigma -> " +
                fmt(late(near.sigma_ratio), 3) + ", eta^t / oracle B g^2/(32 sigma^2 L) = " + fmt(late(ratio), 3) +
                ": the averages' window B*/B is " + fmt(late(near.window), 2) + " t steps, as long as the run, so g~ "
                "remembers the larger gradients of the past (|g~/g| = " + fmt(late(near.g_ratio), 3) + ")"
                "; optim/'s adaptive matches the slide's recursion within " + fmt(near.agreement, 2) +
                "; from g_0 = 4 sigma, " + fmt(100 * far.exploded, 3) +
                "% of chains blow up: where B* <= B the averages forget everything but the last gradient, "
                "sigma~ = 0 and eta = lambda g^2/eps (slide \"A Complete Calculation of eta\")";
    Table t{"", {"t", "eta", "oracle", "one_over_2Lt", "eta_t", "sigma_ratio", "g_ratio", "excess"}, {}};
    for (size_t i = 0; i < near.t.size(); ++i)
        t.add({near.t[i], near.eta[i], near.oracle[i], 0.5 / (kL * near.t[i]), near.eta_t[i], near.sigma_ratio[i],
               near.g_ratio[i], near.excess[i]});
    save_figure(r, s, {t},
                {{"eta^t (median over " + std::to_string(chains) + " chains, start g_0 = sigma/2)", "step t (log scale)",
                  "eta^t", "t",
                  {{"eta", "eta^t of the rule (running averages)", Style::Measured, 0},
                   {"oracle", "B g(beta_t)^2/(32 sigma^2 L) (true g)", Style::Predicted, 1},
                   {"one_over_2Lt", "1/(2 L t)", Style::Predicted, 7}},
                  0, 1.0, true, true},
                 {"the estimators (median over chains)", "step t (log scale)", "ratio", "t",
                  {{"sigma_ratio", "sigma~/sigma", Style::Measured, 0}, {"g_ratio", "|g~/g(beta_t)|", Style::Measured, 1}},
                  0, 1.0, true, false},
                 {"excess loss (median over chains)", "step t (log scale)", "(L/2)(beta - mu)^2", "t",
                  {{"excess", "", Style::Measured, 2}}, 0, 1.0, true, true}});
    return r;
}

}  // namespace dl::lecture
