// adaptive. Lecture, "A Second Order Algorithm (TZ)" to "A Complete
// Algorithm": per-parameter critical batch sizes B*[i] and learning rates
//   eta^t[i] = lambda_eta g~^t[i]^2 / sigma~^t[i]^2   (0 during the K warm-up steps),
// "As t -> infinity we expect g~^t -> 0 and sigma~^t -> sigma > 0 which
// implies eta^t -> 0", with B* = lambda_B sigma~^2/(g~^2 + eps) >> B.
// An MLP (784-128-10) on a Fashion-MNIST subset, B = 64, optim/'s adaptive in
// three forms against sgd, momentum and adam:
//   printed      the slide's algorithm: s~ averages the batch g^2, no cap on eta
//                (max_eta = inf; eps = 1e-8 only keeps 0/0 out);
//   per-example  s~ averages the per-example g_b^2 (the tape's statistics), no cap;
//   capped       per-example and eta[i] <= 1 (optim/'s option, not on the slide).
// Every method's learning rate (lambda_eta for adaptive) is picked on a small
// grid with one seed, then run on fresh seeds: test accuracy with a 95% CI.
// For adaptive we read eta^t[i] back from the update (Delta Phi[i] / g^[i]) of the
// first layer (its median, and the fraction of weights with eta^t[i] >= 1), and
// at the end of a per-example run B*[i] = 16 sigma^2[i]/g[i]^2 on 1000 examples.
#include <algorithm>
#include <cmath>
#include <limits>

#include "apps/lecture/experiments.h"
#include "apps/lecture/training.h"
#include "optim/diagnostics.h"
#include "optim/registry.h"

namespace dl::lecture {

namespace {

constexpr int kBatch = 64, kPoints = 10;

struct Method {
    std::string label, optimizer;
    std::vector<float> lrs;  // the grid
    bool per_example = false;
    float max_eta = std::numeric_limits<float>::infinity();
    int k = 10;  // K: warm-up steps, and B* (in examples) during them
};

struct Run {
    std::vector<double> examples, accuracy;
    // adaptive, layer 1: median eta^t[i] and the fraction of weights with eta^t[i] >= 1, at each checkpoint
    std::vector<double> median_eta, large_eta;
    bool diverged = false;
    long diverged_at = -1;  // the optimizer step count when the loss turned non-finite
};

std::unique_ptr<Optimizer> make(const Method& m, float lr, Net& net) {
    OptimizerConfig c;
    c.lr = lr;
    if (m.optimizer == "momentum") c.n_g = 10.0f;
    if (m.optimizer == "adaptive") {
        c.per_example_sigma = m.per_example;
        if (!m.per_example) c.batch_size = kBatch;
        c.max_eta = m.max_eta;
        c.k = m.k;
    }
    return make_optimizer(m.optimizer, net.parameters(), c);
}

// eta^t[i] = (Phi_before - Phi_after)/g^[i] of the first layer's weights in
// one step: their median and the fraction with eta^t[i] >= 1.
std::pair<double, double> step_sizes(Net& net, Optimizer& opt, const Features& train, Rng& rng, Tape& tape) {
    Parameter& w = *net.parameters()[0];
    const std::vector<float> before = w.value.vec();
    train_step(net, opt, train, kBatch, rng, tape);
    std::vector<double> eta;
    for (size_t i = 0; i < w.size(); ++i)
        if (std::fabs(w.grad[i]) > 1e-12) eta.push_back((before[i] - w.value[i]) / w.grad[i]);
    if (eta.empty()) return {NAN, NAN};
    const double large = std::count_if(eta.begin(), eta.end(), [](double e) { return e >= 1.0; });
    return {median_of(eta), large / static_cast<double>(eta.size())};
}

Run train(const Method& m, float lr, const FashionSubset& data, long steps, uint64_t seed, std::vector<float>* b_star) {
    Net net({784, 128, 10}, seed);
    auto opt = make(m, lr, net);
    Rng rng(seed + 1);
    Tape tape;
    Run run;
    for (long t = 0; t <= steps; ++t) {
        if (t % (steps / kPoints) == 0) {
            run.examples.push_back(static_cast<double>(t) * kBatch);
            const Evaluation e = evaluate(net, data.test, tape);
            run.diverged = run.diverged || !std::isfinite(e.loss);
            run.accuracy.push_back(run.diverged ? 0.1 : e.accuracy);
            if (m.optimizer == "adaptive" && t > 0) {
                const auto [median, large] = run.diverged ? std::pair<double, double>(NAN, NAN) : step_sizes(net, *opt, data.train, rng, tape);
                run.median_eta.push_back(median), run.large_eta.push_back(large);
            }
        }
        if (t < steps && !run.diverged && !std::isfinite(train_step(net, *opt, data.train, kBatch, rng, tape)))
            run.diverged = true, run.diverged_at = opt->t();
    }
    if (b_star && !run.diverged) {
        gradient_statistics(net, data.train, 0, 1000, tape);
        critical_batch_sizes(*net.parameters()[0], *b_star);
    }
    return run;
}

}  // namespace

Result adaptive(const Settings& s) {
    Result r;
    r.name = "adaptive";
    const SingleThread single_thread;
    const FashionSubset data = load_fashion(s.quick ? 4000 : 20000, s.quick ? 1000 : 5000, s.seed, 3.0f);
    const long steps = s.quick ? 150 : 1500;
    const int seeds = s.quick ? 1 : 3;
    const float no_cap = std::numeric_limits<float>::infinity();
    enum { kPrinted10, kPrinted100, kPerExample, kCapped, kSgd };  // indices into methods
    const std::vector<Method> methods = {
        {"adaptive, printed, K = 10", "adaptive", {0.5f, 2.0f, 8.0f}, false, no_cap, 10},
        {"adaptive, printed, K = 100", "adaptive", {0.5f, 2.0f, 8.0f}, false, no_cap, 100},
        {"adaptive, per-example sigma, no cap", "adaptive", {0.5f, 2.0f, 8.0f}, true},
        {"adaptive, per-example sigma, eta <= 1", "adaptive", {0.5f, 2.0f, 8.0f}, true, 1.0f},
        {"sgd", "sgd", {0.02f, 0.05f, 0.1f}},
        {"momentum (N_g = 10)", "momentum", {0.002f, 0.005f, 0.01f}},
        {"adam", "adam", {3e-4f, 1e-3f, 3e-3f}},
    };
    const size_t M = methods.size();
    // Pick each method's learning rate by final test accuracy with one seed (the quick mode takes the middle one).
    std::vector<float> lr(M);
    for (size_t m = 0; m < M; ++m) {
        lr[m] = methods[m].lrs[1];
        if (s.quick) continue;
        double best = -1.0;
        for (float l : methods[m].lrs) {
            const double acc = train(methods[m], l, data, steps, s.seed, nullptr).accuracy.back();
            if (acc > best) best = acc, lr[m] = l;
        }
    }
    // Fresh seeds.
    std::vector<std::vector<Run>> runs(M);
    std::vector<float> b_star;
    for (size_t m = 0; m < M; ++m)
        for (int k = 1; k <= seeds; ++k)
            runs[m].push_back(train(methods[m], lr[m], data, steps, s.seed + 10 * static_cast<uint64_t>(k),
                                    m == kPerExample && k == 1 ? &b_star : nullptr));
    std::vector<Interval> final_acc(M);
    for (size_t m = 0; m < M; ++m) {
        std::vector<double> a;
        for (const Run& run : runs[m]) a.push_back(run.accuracy.back());
        final_acc[m] = mean_ci95(a);
    }
    size_t best_base = kSgd;
    for (size_t m = kSgd + 1; m < M; ++m)
        if (final_acc[m].mean > final_acc[best_base].mean) best_base = m;
    // Paired by seed: an adaptive variant minus the best baseline.
    auto gap_to_best = [&](size_t m) {
        std::vector<double> d;
        for (int k = 0; k < seeds; ++k) d.push_back(runs[m][k].accuracy.back() - runs[best_base][k].accuracy.back());
        return mean_ci95(d);
    };
    double best_printed_gap = -1e30;
    for (size_t m : {size_t(kPrinted10), size_t(kPrinted100)}) best_printed_gap = std::max(best_printed_gap, gap_to_best(m).hi());
    const Interval gap_per_example = gap_to_best(kPerExample), gap_capped = gap_to_best(kCapped);
    // eta^t of the per-example algorithm: end over the first measurement after warm-up, and the
    // exponent of a power law through the measurements.
    const Run& per_example = runs[kPerExample][0];
    const double eta_ratio = per_example.median_eta.back() / per_example.median_eta.front();
    std::vector<double> log_t, log_eta;
    for (size_t k = 0; k < per_example.median_eta.size(); ++k)
        if (per_example.median_eta[k] > 0)
            log_t.push_back(std::log(per_example.examples[k + 1])), log_eta.push_back(std::log(per_example.median_eta[k]));
    const double eta_slope = log_t.size() >= 2 ? fit_line(log_t, log_eta).slope : NAN;
    std::vector<double> log_b;
    for (float b : b_star)
        if (b > 0.0f) log_b.push_back(std::log10(b));
    const double b_median = log_b.empty() ? NAN : std::pow(10.0, median_of(log_b));
    double large_per_example = 0.0;
    for (double v : per_example.large_eta) large_per_example = std::max(large_per_example, v);
    // The printed algorithm: runs that diverged, and at which optimizer step (K + 1 is the first with eta != 0).
    int diverged = 0;
    std::string printed;
    for (size_t m : {size_t(kPrinted10), size_t(kPrinted100)}) {
        std::vector<double> at;
        for (const Run& run : runs[m])
            if (run.diverged) ++diverged, at.push_back(static_cast<double>(run.diverged_at));
        printed += (printed.empty() ? "" : "; ") + std::string("K = ") + std::to_string(methods[m].k) + ": " +
                   std::to_string(at.size()) + " of " + std::to_string(seeds) + " runs diverged" +
                   (at.empty() ? std::string("") : " (loss non-finite at optimizer step " + fmt(median_of(at), 4) + ", median)");
    }

    r.checks.push_back(check_at_least("the mlp learns with sgd (mean test accuracy; sanity)", final_acc[kSgd].mean, 0.75));
    r.checks.push_back(check_at_most("the complete algorithm as printed (batch g^2, no cap, K = 10 or 100) runs without "
                                     "blowing up (fraction of runs that diverged)",
                                     double(diverged) / (2 * seeds), 0.0, false));
    r.checks.push_back(check_at_least("the printed algorithm matches the best of sgd, momentum, adam: upper end of the "
                                      "95% CI of its accuracy minus the best's (best K)",
                                      best_printed_gap, 0.0, false));
    r.checks.push_back(check_at_least("the per-example variant (no cap) matches the best baseline: upper end of the CI "
                                      "of the accuracy difference",
                                      gap_per_example.hi(), 0.0, false));
    r.checks.push_back(check_at_least("the per-example variant with eta <= 1 matches the best baseline: upper end of "
                                      "the CI of the accuracy difference",
                                      gap_capped.hi(), 0.0, false));
    r.checks.push_back(check_at_most("eta^t -> 0 (per-example): median eta^t at the end over the first after warm-up",
                                     eta_ratio, 1.0, false));
    r.checks.push_back(check_at_least("B* >> B: median B*[i] of the first layer over B = 64 (>= 10; per-example run)",
                                      b_median / kBatch, 10.0, false));
    std::string accs;
    for (size_t m = 0; m < M; ++m) {
        int lost = 0;
        for (const Run& run : runs[m]) lost += run.diverged;
        accs += (m ? "; " : "") + methods[m].label + " " +
                (lost == seeds ? std::string("diverged")
                               : fmt(100 * final_acc[m].mean, 3) + " +- " + fmt(100 * final_acc[m].half, 2) + "%");
    }
    r.summary = "test accuracy after " + fmt(double(steps) * kBatch, 3) + " examples (95% CI over " +
                std::to_string(seeds) + " seeds, lr tuned per method): " + accs + ". As printed (s~ from the batch "
                "g^2, no cap): " + printed + ", on the first steps after the warm-up: with K < B the warm-up rate "
                "B/K is 1 and s~ - g~^2 = g^2 - g^2 = 0; with K = 100 the variance of a weight is estimated from "
                "about 2 batches, is near 0 for some of the 100k weights, and eta = lambda g~^2/(sigma~^2 + eps) has "
                "no bound. Per-example sigma has no such state (eta^t >= 1 for at most " +
                fmt(100 * large_per_example, 3) + "% of weights): median eta^t " + fmt(per_example.median_eta.front(), 3) +
                " -> " + fmt(per_example.median_eta.back(), 3) + " (~ t^" + fmt(eta_slope, 2) + "); median B*[i] = " +
                fmt(b_median, 3) + " >> B = 64, so the median weight gets eta = 16 lambda/B* = " +
                fmt(16.0 * lr[kPerExample] / b_median, 2) + ": it trains the few weights with a high signal-to-noise "
                "ratio and barely moves the rest, hence the gap to sgd/adam (slides \"A Complete Algorithm\")";

    Table curves{"", {"examples"}, {}};
    for (size_t m = 0; m < M; ++m) curves.header.push_back("acc_" + std::to_string(m));
    curves.header.insert(curves.header.end(), {"median_eta_per_example", "median_eta_capped"});
    for (size_t i = 0; i < runs[kSgd][0].examples.size(); ++i) {
        std::vector<double> row = {runs[kSgd][0].examples[i]};
        for (size_t m = 0; m < M; ++m) {
            std::vector<double> a;
            for (const Run& run : runs[m]) a.push_back(run.accuracy[i]);
            row.push_back(mean_of(a));
        }
        auto eta_at = [&](const std::vector<double>& v) { return i > 0 && i - 1 < v.size() ? v[i - 1] : NAN; };
        row.insert(row.end(), {eta_at(runs[kPerExample][0].median_eta), eta_at(runs[kCapped][0].median_eta)});
        curves.add(row);
    }
    Table hist{"b-star", {"log10_b_star", "fraction"}, {}};
    for (double lo = -1.0; lo < 8.0; lo += 0.5) {
        const double frac = std::count_if(log_b.begin(), log_b.end(), [&](double v) { return v >= lo && v < lo + 0.5; }) /
                            static_cast<double>(std::max<size_t>(1, log_b.size()));
        hist.add({lo + 0.25, frac});
    }
    std::vector<Series> acc_series;
    for (size_t m = kPerExample; m < M; ++m)  // the printed runs are at chance (diverged): named in the summary
        acc_series.push_back({"acc_" + std::to_string(m), methods[m].label, Style::Measured, static_cast<int>(m)});
    // From the first checkpoint after the start (accuracy 0.1 at the start would squash the rest).
    const double x0 = runs[kSgd][0].examples[1] * 1e-3, x1 = runs[kSgd][0].examples.back() * 1e-3;
    save_figure(r, s, {curves, hist},
                {{"test accuracy (mean over " + std::to_string(seeds) + " seeds)", "thousands of examples seen",
                  "test accuracy", "examples", acc_series, 0, 1e-3, false, false, x0 - 0.03 * (x1 - x0),
                  x1 + 0.03 * (x1 - x0)},
                 {"adaptive (per-example sigma): median eta^t[i] of layer 1", "thousands of examples seen (log scale)",
                  "median eta^t[i]", "examples",
                  {{"median_eta_per_example", "no cap", Style::Measured, 2},
                   {"median_eta_capped", "eta <= 1", Style::Measured, 3}},
                  0, 1e-3, true, true},
                 {"B*[i] = 16 sigma^2/g^2 of layer 1 at the end (per-example run)", "log10 B*[i]", "fraction of weights",
                  "log10_b_star", {{"fraction", "", Style::Boxes, 2}}, 1, 1.0, false, false, -1.0, 8.0, 0.0, NAN,
                  {{std::log10(double(kBatch)), "B = 64"}}}});
    return r;
}

}  // namespace dl::lecture
