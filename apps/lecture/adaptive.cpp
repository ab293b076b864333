// adaptive. Lecture, "A Second Order Algorithm (TZ)" to "A Complete
// Algorithm": per-parameter critical batch sizes B*[i] and learning rates
//   eta^t[i] = lambda_eta g~^t[i]^2 / sigma~^t[i]^2,
// "As t -> infinity we expect g~^t -> 0 and sigma~^t -> sigma > 0 which
// implies eta^t -> 0", and "B* >> B".
// The mlp model (784-256-128-10, layers/' make_model) on Fashion-MNIST with
// optim/'s adaptive (per-example sigma from the tape's statistics) beside
// sgd, momentum and adam: test accuracy against examples seen. For adaptive we
// read eta^t[i] back from the update (Delta Phi[i] / g^[i]) of the first
// layer, and at the end the distribution of B*[i] = 16 sigma^2[i]/g[i]^2 from
// optim/'s diagnostics on a batch of 1000 examples.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "apps/lecture/experiments.h"
#include "apps/lecture/training.h"
#include "layers/models.h"
#include "optim/diagnostics.h"
#include "optim/registry.h"

namespace dl::lecture {

namespace {

constexpr int kBatch = 64, kPoints = 10;

struct Run {
    std::vector<double> examples, accuracy, median_eta;
};

double test_accuracy(Module& model, const Features& test, Tape& tape) {
    NoGrad no_grad(tape);
    tape.reset();
    const Tensor& z = tape.value(model.forward(tape, tape.input(test.x)));
    const int C = z.dim(1);
    double correct = 0.0;
    for (int r = 0; r < test.count(); ++r) {
        const float* row = z.data() + static_cast<size_t>(r) * C;
        correct += std::max_element(row, row + C) - row == test.y[static_cast<size_t>(r)];
    }
    return correct / test.count();
}

// One step on a batch drawn with rng (statistics on when the optimizer needs them).
void step(Module& model, Optimizer& opt, const Features& train, Rng& rng, Tape& tape) {
    Tensor x(Shape{kBatch, train.dim()});
    std::vector<int> y(kBatch);
    for (int b = 0; b < kBatch; ++b) {
        const int i = rng.index(train.count());
        std::copy(train.x.data() + static_cast<size_t>(i) * train.dim(),
                  train.x.data() + static_cast<size_t>(i + 1) * train.dim(), x.data() + static_cast<size_t>(b) * train.dim());
        y[b] = train.y[static_cast<size_t>(i)];
    }
    tape.reset();
    tape.set_statistics(opt.needs_statistics());
    opt.zero_grad();
    tape.backward(softmax_cross_entropy(tape, model.forward(tape, tape.input(x)), y));
    opt.step();
}

// Median over the first layer's weights of eta[i] = Delta Phi[i] / g^[i] in one step (0 when none moved).
double median_eta(Module& model, Optimizer& opt, const Features& train, Rng& rng, Tape& tape) {
    Parameter& w = *model.parameters()[0];
    const std::vector<float> before = w.value.vec();
    step(model, opt, train, rng, tape);
    std::vector<double> eta;
    for (size_t i = 0; i < w.size(); ++i)
        if (std::fabs(w.grad[i]) > 1e-12) eta.push_back((before[i] - w.value[i]) / w.grad[i]);
    return median_of(eta);
}

OptimizerConfig config_for(const std::string& name) {
    OptimizerConfig c;
    // lambda_eta = B/(32 L) from the derivation, with B = 64 and curvature bound L = 1.
    if (name == "adaptive") c.lr = 2.0f, c.per_example_sigma = true;
    if (name == "sgd") c.lr = 0.05f;
    if (name == "momentum") c.lr = 0.005f, c.n_g = 10.0f;
    if (name == "adam") c.lr = 1e-3f;
    return c;
}

Run train(const std::string& name, const FashionSubset& data, long steps, uint64_t seed, std::vector<float>* b_star) {
    auto model = make_model("mlp", 1, 28, 28, 10, static_cast<unsigned>(seed));
    auto opt = make_optimizer(name, model->parameters(), config_for(name));
    Rng rng(seed + 1);
    Tape tape;
    Run run;
    for (long t = 0; t <= steps; ++t) {
        if (t % (steps / kPoints) == 0) {
            run.examples.push_back(static_cast<double>(t) * kBatch);
            run.accuracy.push_back(test_accuracy(*model, data.test, tape));
            if (name == "adaptive" && t > 0) run.median_eta.push_back(median_eta(*model, *opt, data.train, rng, tape));
        }
        if (t < steps) step(*model, *opt, data.train, rng, tape);
    }
    if (b_star) {
        Tensor x(Shape{1000, data.train.dim()});
        std::copy(data.train.x.data(), data.train.x.data() + x.size(), x.data());
        std::vector<int> y(data.train.y.begin(), data.train.y.begin() + 1000);
        tape.reset();
        tape.set_statistics(true);
        for (Parameter* p : model->parameters()) p->zero_grad();
        tape.backward(softmax_cross_entropy(tape, model->forward(tape, tape.input(x)), y));
        critical_batch_sizes(*model->parameters()[0], *b_star);
    }
    return run;
}

}  // namespace

Result adaptive(const Settings& s) {
    Result r;
    r.name = "adaptive";
    const SingleThread single_thread;
    const FashionSubset data = load_fashion(s.quick ? 5000 : 60000, s.quick ? 1000 : 10000, s.seed, 3.0f);
    const long steps = s.quick ? 150 : 3000;
    const std::vector<std::string> names = {"adaptive", "sgd", "momentum", "adam"};
    std::vector<Run> runs;
    std::vector<float> b_star;
    for (const std::string& name : names) runs.push_back(train(name, data, steps, s.seed, name == "adaptive" ? &b_star : nullptr));

    Table t{{"examples", "adaptive", "sgd", "momentum", "adam", "adaptive_median_eta", "log10_b_star",
             "b_star_fraction"}, {}};
    std::vector<double> log_b;
    for (float b : b_star)
        if (b > 0.0f) log_b.push_back(std::log10(b));
    const int bins = static_cast<int>(runs[0].examples.size());
    for (int i = 0; i < bins; ++i) {
        const double lo = -1.0 + 8.0 * i / bins, hi = -1.0 + 8.0 * (i + 1) / bins;
        const double frac = std::count_if(log_b.begin(), log_b.end(), [&](double v) { return v >= lo && v < hi; }) /
                            static_cast<double>(std::max<size_t>(1, log_b.size()));
        t.add({runs[0].examples[i], runs[0].accuracy[i], runs[1].accuracy[i], runs[2].accuracy[i], runs[3].accuracy[i],
               i > 0 ? runs[0].median_eta[i - 1] : NAN, 0.5 * (lo + hi), frac});
    }
    const double b_median = std::pow(10.0, median_of(log_b));
    const std::vector<double>& eta = runs[0].median_eta;
    double best_other = 0.0;
    for (size_t k = 1; k < runs.size(); ++k) best_other = std::max(best_other, runs[k].accuracy.back());
    r.checks.push_back(check_at_most("eta^t shrinks as t grows: median eta at the end / after warm-up",
                                     eta.back() / eta.front(), 1.0, false));
    r.checks.push_back(check_at_least("B* >> B: median B*[i] of the first layer over B = 64", b_median / kBatch, 1.0,
                                      false));
    r.checks.push_back(check_at_least("the complete algorithm trains: test accuracy of adaptive over the best of "
                                      "sgd, momentum, adam",
                                      runs[0].accuracy.back() / best_other, 0.9, false));
    r.checks.push_back(check_at_least("the mlp learns with sgd (test accuracy; sanity)", runs[1].accuracy.back(), 0.6));
    std::string accs;
    for (size_t k = 0; k < runs.size(); ++k) accs += (k ? ", " : "") + names[k] + " " + fmt(100 * runs[k].accuracy.back(), 3) + "%";
    r.summary = "test accuracy after " + fmt(double(steps) * kBatch) + " examples: " + accs + "; median eta^t " +
                fmt(eta.front(), 3) + " -> " + fmt(eta.back(), 3) + "; median B*[i] = " + fmt(b_median, 3) + " (B = 64)";
    save_table(r, s, t,
               {{"test accuracy (mlp, B = 64)", "examples seen", "accuracy", "examples",
                 {"adaptive", "sgd", "momentum", "adam"}, false, false, "linespoints"},
                {"adaptive: median eta^t[i] of layer 1", "examples seen", "eta", "examples", {"adaptive_median_eta"},
                 false, true, "linespoints"},
                {"B*[i] = 16 sigma^2/g^2 of layer 1 at the end", "log10 B*", "fraction of weights", "log10_b_star",
                 {"b_star_fraction"}, false, false, "boxes"}});
    return r;
}

}  // namespace dl::lecture
