// rmsprop-batch. Lecture, "Scaling eta with Batch Size for RMSProp (TZ)":
// "Current RMSProp framework implementations do not scale well with batch
// size": E g^_i^2 = mu_i^2 + sigma_i^2/B, so the running average s of g^^2
// changes its meaning with B; "to preserve the behavior of RMSProp while
// increasing B we need a running average of g_{b,i}^2 for individual batch
// elements b" (the tape's per-example statistics).
// Softmax regression on a Fashion-MNIST subset with optim/'s rmsprop and
// rmsprop-per-example at B in {1, 8, 64} and eta = B eta' (the SGD rule),
// for the same number of examples. At one fixed parameter point we let each
// optimizer's s settle at B = 1 and B = 64 and compare with mu_i^2 + sigma_i^2/B
// from the tape's per-example statistics there.
#include <algorithm>
#include <cmath>

#include "apps/lecture/experiments.h"
#include "apps/lecture/training.h"
#include "optim/registry.h"

namespace dl::lecture {

namespace {

// Mean over the weights of the s that optimizer `name` divides by at batch
// size B, at the fixed parameters of net: every step is undone, so s settles
// to its expectation there. s is read back from the update,
// s_i = (eta g^_i / Delta Phi_i)^2, and averaged over the last half of the steps.
double settled_s(Net& net, const std::string& name, int B, const Features& train, Rng& rng) {
    OptimizerConfig c;
    c.lr = 1e-3f;
    c.n_s = 10.0f;
    auto opt = make_optimizer(name, net.parameters(), c);
    std::vector<std::vector<float>> saved;
    for (Parameter* p : net.parameters()) saved.push_back(p->value.vec());
    Parameter& w = *net.parameters()[0];
    Tape tape;
    std::vector<double> s;
    const int steps = std::max(60, 8000 / B);  // g^2 is heavy-tailed at B = 1: average many steps
    for (int k = 0; k < steps; ++k) {
        train_step(net, *opt, train, B, rng, tape);
        for (size_t i = 0; k >= steps / 2 && i < w.size(); ++i) {
            const double step = saved[0][i] - w.value[i];
            if (std::fabs(step) > 1e-12 && std::fabs(w.grad[i]) > 1e-12)
                s.push_back(std::pow(opt->lr() * w.grad[i] / step, 2));
        }
        for (size_t j = 0; j < saved.size(); ++j) net.parameters()[j]->value.vec() = saved[j];
    }
    return mean_of(s);
}

// mean_i (mu_i^2 + sigma_i^2/B) over the weights, at the current parameters.
double mean_expected_s(Net& net, const Features& train, int batch) {
    Tape tape;
    gradient_statistics(net, train, 0, std::min(2000, train.count()), tape);
    const Parameter& w = *net.parameters()[0];
    std::vector<double> e;
    for (size_t i = 0; i < w.size(); ++i) {
        const double mu2 = double(w.grad[i]) * w.grad[i];
        e.push_back(mu2 + std::max(0.0, double(w.grad_sq[i]) - mu2) / batch);
    }
    return mean_of(e);
}

}  // namespace

Result rmsprop_batch(const Settings& s) {
    Result r;
    r.name = "rmsprop-batch";
    const SingleThread single_thread;
    const FashionSubset data = load_fashion(s.quick ? 4000 : 20000, 0, s.seed, 0.1f);
    const Features eval = first_examples(data.train, 1000);
    const std::vector<int> batches = {1, 8, 64};
    const std::vector<std::string> names = {"rmsprop", "rmsprop-per-example"};
    const long examples = s.quick ? 64L * 60 : 64L * 400;
    const float eta_prime = 5e-4f;
    Table t{"", {"examples", "rmsprop_B1", "rmsprop_B8", "rmsprop_B64", "per_example_B1", "per_example_B8",
             "per_example_B64"}, {}};
    std::vector<std::vector<Curve>> curves(2);
    for (size_t a = 0; a < names.size(); ++a) {
        for (int B : batches) {
            Net net({784, 10}, s.seed);
            OptimizerConfig c;
            c.lr = eta_prime * B;
            c.n_s = 10.0f;
            auto opt = make_optimizer(names[a], net.parameters(), c);
            Rng rng(s.seed + 5);
            curves[a].push_back(train_curve(net, *opt, data.train, eval, B, examples / B, 20, rng));
        }
    }
    // s at one point (the end of the B = 1 rmsprop run's path, retrained here) for B = 1 and 64.
    Net net({784, 10}, s.seed);
    {
        OptimizerConfig c;
        c.lr = eta_prime;
        auto opt = make_optimizer("rmsprop", net.parameters(), c);
        Rng rng(s.seed + 5);
        train_curve(net, *opt, data.train, eval, 1, examples, 1, rng);
    }
    Rng rng(s.seed + 6);
    std::vector<std::vector<double>> s_mean(2);
    for (size_t a = 0; a < names.size(); ++a)
        for (int B : {1, 64}) s_mean[a].push_back(settled_s(net, names[a], B, data.train, rng));
    const double predicted_batch = mean_expected_s(net, data.train, 64) / mean_expected_s(net, data.train, 1);
    for (size_t i = 0; i < curves[0][0].loss.size(); ++i) {
        std::vector<double> row = {curves[0][0].examples[i]};
        for (const auto& family : curves)
            for (const Curve& c : family) row.push_back(c.loss[i]);
        t.add(row);
    }
    const double ratio_batch = s_mean[0][1] / s_mean[0][0];
    const double ratio_per_example = s_mean[1][1] / s_mean[1][0];
    const double final_batch = curves[0][2].loss.back() / curves[0][0].loss.back();
    const double final_per_example = curves[1][2].loss.back() / curves[1][0].loss.back();
    r.checks.push_back(check_relative("rmsprop: s(B=64)/s(B=1) follows E g^^2 = mu^2 + sigma^2/B", ratio_batch,
                                      predicted_batch, 0.25));
    r.checks.push_back(check_relative("rmsprop-per-example: s(B=64)/s(B=1) = 1 (invariant)", ratio_per_example,
                                      1.0, 0.25));
    r.checks.push_back(check_at_most("with eta = B eta', |loss(B=64)/loss(B=1) - 1|: rmsprop-per-example <= rmsprop",
                                     std::fabs(final_per_example - 1.0), std::fabs(final_batch - 1.0), false));
    r.summary = "mean s at B = 64 over B = 1: rmsprop " + fmt(ratio_batch, 3) + " (mu^2 + sigma^2/B predicts " +
                fmt(predicted_batch, 3) + "), rmsprop-per-example " + fmt(ratio_per_example, 3) +
                " (invariant); final loss B=64 / B=1 with eta = B eta': rmsprop " + fmt(final_batch, 3) +
                ", per-example " + fmt(final_per_example, 3);
    auto curves_of = [](const std::string& prefix) {
        return std::vector<Series>{{prefix + "_B1", "B = 1", Style::MeasuredLine, 0},
                                   {prefix + "_B8", "B = 8", Style::MeasuredLine, 1},
                                   {prefix + "_B64", "B = 64", Style::MeasuredLine, 2}};
    };
    save_figure(r, s, {t},
                {{"rmsprop (s from g^^2), eta = B eta'", "thousands of examples seen", "training loss", "examples",
                  curves_of("rmsprop"), 0, 1e-3},
                 {"rmsprop-per-example (s from g_b^2), eta = B eta'", "thousands of examples seen", "training loss",
                  "examples", curves_of("per_example"), 0, 1e-3}});
    return r;
}

}  // namespace dl::lecture
