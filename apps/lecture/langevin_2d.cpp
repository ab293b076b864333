// langevin-2d. Lecture, "A 2-D Langevin Stationary Distribution" and "Langevin
// and RMSProp": for independent parameters x, y with L = L(x) + L(y),
//   p(x, y) = (1/Z) exp(-L(x)/(alpha eta sigma_x^2) - L(y)/(alpha eta sigma_y^2))
// "has two different temperature parameters"; with eta_x = eta'/sigma_x^2 and
// eta_y = eta'/sigma_y^2 it is one Gibbs distribution exp(-L/(alpha eta'));
// "RMSProp sets eta_x = eta'/sigma_x rather than eta'/sigma_x^2".
// L = x^2/2 + y^2/2; each step draws B examples whose gradients are
// g_b = Phi + sigma z_b (sigma_x = 1, sigma_y = 4), and hands the optimizer
// their mean (grad) and mean square (grad_sq: the per-example statistics the
// tape would give). Many chains at once; the temperature of a coordinate is
// T = h Var = Var here. Three optimizers from optim/: sgd (temperatures in
// ratio sigma_y^2/sigma_x^2 = 16), langevin-precond (eta'/sigma^2: ratio 1)
// and rmsprop-per-example (eta'/sigma: ratio sigma_y/sigma_x = 4).
#include <cmath>

#include "apps/lecture/experiments.h"
#include "optim/registry.h"

namespace dl::lecture {

namespace {

constexpr double kSigma[2] = {1.0, 4.0};
constexpr int kBatch = 8, kBins = 41;
constexpr double kRange = 0.6;

struct Temperatures {
    double t[2] = {0.0, 0.0};
    std::vector<double> hist[2];  // density of x and of y on the bins
};

Temperatures run_chains(const std::string& name, float lr, int chains, long burn_in, long steps, uint64_t seed) {
    Parameter phi("phi", Shape{chains, 2});
    phi.grad_sq = Tensor(Shape{chains, 2});
    OptimizerConfig c;
    c.lr = lr;
    if (name == "langevin-precond") c.sigma2_floor = 1e-3f;
    auto opt = make_optimizer(name, {&phi}, c);
    Rng rng(seed);
    Temperatures out;
    double samples = 0.0;
    for (int j = 0; j < 2; ++j) out.hist[j].assign(kBins, 0.0);
    for (long t = 0; t < burn_in + steps; ++t) {
        for (int k = 0; k < 2 * chains; ++k) {
            double sum = 0.0, sum_sq = 0.0;
            for (int b = 0; b < kBatch; ++b) {
                const double g = phi.value[k] + kSigma[k % 2] * rng.normal();
                sum += g, sum_sq += g * g;
            }
            phi.grad[k] = static_cast<float>(sum / kBatch);
            phi.grad_sq[k] = static_cast<float>(sum_sq / kBatch);
        }
        phi.stats_batch = kBatch;
        opt->step();
        if (t < burn_in) continue;
        samples += chains;
        for (int k = 0; k < 2 * chains; ++k) {
            const double v = phi.value[k];
            out.t[k % 2] += v * v;
            const int bin = static_cast<int>(std::floor((v + kRange) / (2 * kRange) * kBins));
            if (bin >= 0 && bin < kBins) out.hist[k % 2][bin] += 1.0;
        }
    }
    for (int j = 0; j < 2; ++j) {
        out.t[j] /= samples;
        for (double& h : out.hist[j]) h /= samples * (2 * kRange / kBins);
    }
    return out;
}

}  // namespace

Result langevin_2d(const Settings& s) {
    Result r;
    r.name = "langevin-2d";
    const int chains = s.quick ? 100 : 500;
    const long burn_in = 3000, steps = s.quick ? 10000 : 40000;
    const float eta = 0.02f;
    const Temperatures sgd = run_chains("sgd", eta, chains, burn_in, steps, s.seed);
    const Temperatures precond = run_chains("langevin-precond", eta, chains, burn_in, steps, s.seed + 1);
    const Temperatures rms = run_chains("rmsprop-per-example", eta, chains, burn_in, steps, s.seed + 2);
    const double ratio_sgd = sgd.t[1] / sgd.t[0], ratio_pre = precond.t[1] / precond.t[0];
    const double ratio_rms = rms.t[1] / rms.t[0];
    const double s2 = kSigma[1] / kSigma[0];
    const double alpha_x = sgd.t[0] / (eta * kSigma[0] * kSigma[0] / kBatch);
    r.checks.push_back(check_relative("plain SGD: two temperatures, T_y/T_x = sigma_y^2/sigma_x^2", ratio_sgd, s2 * s2, 0.15));
    r.checks.push_back(check_relative("eta_i = eta'/sigma_i^2 (langevin-precond): one temperature, T_y/T_x = 1",
                                      ratio_pre, 1.0, 0.15));
    r.checks.push_back(check_relative("RMSProp's eta'/sigma_i: T_y/T_x = sigma_y/sigma_x", ratio_rms, s2, 0.15));
    r.checks.push_back(check_relative("alpha of plain SGD, T_x/(eta sigma_x^2/B), lecture ~1/10", alpha_x, 0.1, 0.3,
                                      false));
    r.summary = "temperature ratio T_y/T_x: sgd " + fmt(ratio_sgd, 3) + " (predicted " + fmt(s2 * s2, 3) +
                "), langevin-precond " + fmt(ratio_pre, 3) + " (1: Gibbs), rmsprop-per-example " + fmt(ratio_rms, 3) +
                " (" + fmt(s2, 3) + "); alpha = " + fmt(alpha_x, 3) +
                ", not the ~1/10 of slide \"A 2-D Langevin Stationary Distribution\"";
    Table t{"", {"u", "sgd_x", "sgd_y", "precond_x", "precond_y", "rmsprop_x", "rmsprop_y"}, {}};
    for (int b = 0; b < kBins; ++b)
        t.add({-kRange + (b + 0.5) * 2 * kRange / kBins, sgd.hist[0][b], sgd.hist[1][b], precond.hist[0][b],
               precond.hist[1][b], rms.hist[0][b], rms.hist[1][b]});
    auto panel = [&](const std::string& title, const std::string& prefix) {
        return Panel{title, "value of the parameter", "density", "u",
                     {{prefix + "_x", "x (sigma_x = 1)", Style::Measured, 0},
                      {prefix + "_y", "y (sigma_y = 4)", Style::Measured, 1}}};
    };
    save_figure(r, s, {t},
                {panel("plain SGD: T_y/T_x = " + fmt(ratio_sgd, 3) + " (two temperatures)", "sgd"),
                 panel("eta'/sigma^2 (langevin-precond): T_y/T_x = " + fmt(ratio_pre, 3), "precond"),
                 panel("RMSProp's eta'/sigma: T_y/T_x = " + fmt(ratio_rms, 3), "rmsprop")});
    return r;
}

}  // namespace dl::lecture
