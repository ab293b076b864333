// rmsprop-sigma. Lecture, "RMSProp is Theoretically Mysterious":
//   (1) Phi[i] -= eta g^[i]/sigma[i]     (2) Phi[i] -= eta g^[i]/sigma^2[i]
// "Although (1) seems to work better, (2) is better motivated theoretically
// ... (2) type checks with eta having units of bits - the numerical value of
// eta has no dependence on the choice of the weight unit." Also (slide
// "RMSProp"): "We should expect sigma[i] >> g[i]".
// Softmax regression from zero weights on a Fashion-MNIST subset, optim/'s
// rmsprop (1) and rmsprop-var (2). Units: dividing every input by c = 10
// measures the weights in a unit 10 times smaller; (2) then follows exactly
// the same loss curve at the same eta, (1) does not. Performance: the best
// final loss of each over a grid of eta.
#include <algorithm>
#include <cmath>

#include "apps/lecture/experiments.h"
#include "apps/lecture/training.h"
#include "optim/registry.h"

namespace dl::lecture {

namespace {

constexpr int kBatch = 16;

// Final training loss (on eval) of `name` at learning rate eta; inputs in `train`.
double final_loss(const std::string& name, float eta, const Features& train, const Features& eval, long steps,
                  uint64_t seed) {
    Net net({784, 10}, seed, true);
    OptimizerConfig c;
    c.lr = eta;
    c.eps = 1e-20f;  // the units test needs eps far below every s
    auto opt = make_optimizer(name, net.parameters(), c);
    Rng rng(seed + 3);
    const Curve curve = train_curve(net, *opt, train, eval, kBatch, steps, 1, rng);
    return std::isfinite(curve.loss.back()) ? curve.loss.back() : 10.0;
}

Features scaled(const Features& f, float factor) {
    Features out = f;
    for (float& v : out.x.vec()) v *= factor;
    return out;
}

// Median over the weights of sigma_i/|g_i| at the zero initialisation (1000 examples).
double median_sigma_over_g(const Features& train) {
    Net net({784, 10}, 0, true);
    Tape tape;
    gradient_statistics(net, train, 0, std::min(1000, train.count()), tape);
    const Parameter& w = *net.parameters()[0];
    std::vector<double> ratio;
    for (size_t i = 0; i < w.size(); ++i) {
        const double g2 = double(w.grad[i]) * w.grad[i];
        if (g2 > 0.0) ratio.push_back(std::sqrt(std::max(0.0, w.grad_sq[i] - g2) / g2));
    }
    return median_of(ratio);
}

}  // namespace

Result rmsprop_sigma(const Settings& s) {
    Result r;
    r.name = "rmsprop-sigma";
    const SingleThread single_thread;
    const FashionSubset data = load_fashion(s.quick ? 4000 : 20000, 0, s.seed, 0.1f);
    const Features eval = first_examples(data.train, 1000);
    const long steps = s.quick ? 200 : 1500;
    const float c = 10.0f;
    const Features train_c = scaled(data.train, 1.0f / c), eval_c = scaled(eval, 1.0f / c);
    const float eta1 = 1e-3f, eta2 = 1e-6f;
    const double v1 = final_loss("rmsprop", eta1, data.train, eval, steps, s.seed);
    const double v1c = final_loss("rmsprop", eta1, train_c, eval_c, steps, s.seed);
    const double v2 = final_loss("rmsprop-var", eta2, data.train, eval, steps, s.seed);
    const double v2c = final_loss("rmsprop-var", eta2, train_c, eval_c, steps, s.seed);

    Table t{{"eta", "rmsprop_1", "rmsprop_var_2"}, {}};
    double best1 = 1e30, best2 = 1e30, best_eta1 = 0, best_eta2 = 0;
    for (int k = 0; k <= 16; ++k) {
        const double eta = std::pow(10.0, -9.0 + 0.5 * k);  // 1e-9 .. 1e-1
        const double l1 = eta >= 1e-5 ? final_loss("rmsprop", float(eta), data.train, eval, steps, s.seed) : NAN;
        const double l2 = eta <= 1e-3 ? final_loss("rmsprop-var", float(eta), data.train, eval, steps, s.seed) : NAN;
        t.add({eta, l1, l2});
        if (l1 < best1) best1 = l1, best_eta1 = eta;
        if (l2 < best2) best2 = l2, best_eta2 = eta;
    }
    const double sigma_over_g = median_sigma_over_g(data.train);
    r.checks.push_back(check_relative("(2) g/sigma^2: the same eta gives the same training in weight units 10x "
                                      "smaller (loss ratio)", v2c / v2, 1.0, 0.01));
    r.checks.push_back(check_at_least("(1) g/sigma: the weight unit changes the training (|loss ratio - 1|)",
                                      std::fabs(v1c / v1 - 1.0), 0.05));
    r.checks.push_back(check_at_most("\"(1) seems to work better\": best loss of (1) <= best loss of (2)", best1,
                                     best2, false));
    r.checks.push_back(check_at_least("\"we should expect sigma[i] >> g[i]\": median sigma/|g| at initialisation",
                                      sigma_over_g, 1.0, false));
    r.summary = "units: rescaling the weights changes the final loss by " + fmt(100 * std::fabs(v2c / v2 - 1), 2) +
                "% under (2) and " + fmt(100 * std::fabs(v1c / v1 - 1), 3) + "% under (1); best final loss " +
                fmt(best1, 4) + " for (1) (eta " + fmt(best_eta1, 2) + ") vs " + fmt(best2, 4) + " for (2) (eta " +
                fmt(best_eta2, 2) + "); median sigma/|g| = " + fmt(sigma_over_g, 3);
    save_table(r, s, t,
               {{"final training loss against eta (softmax regression)", "eta", "loss", "eta",
                 {"rmsprop_1", "rmsprop_var_2"}, true, true, "linespoints"}});
    return r;
}

}  // namespace dl::lecture
