// noise-at-optimum. Lecture, "A One Dimensional Example":
//   loss(beta, y) = (1/2)(beta - y)^2,  g = beta - E_Pop y,  g^ = beta - E_Batch y.
//   "Even if beta is optimal, for a finite batch we will have g^ != 0."
// We set beta to the optimum E y and compute g^ with the tape (a real forward
// and backward pass) for many batches of each size B. The batch gradient is
// never 0 and its variance is sigma^2/B (the variance of a mean of B draws).
#include <cmath>

#include "apps/lecture/experiments.h"
#include "core/core.h"

namespace dl::lecture {

namespace {

constexpr double kMean = 2.0, kSigma = 1.5;

// g^ at beta for one batch of y, by backpropagation. The example loss
// (1/2)(beta - y)^2 is written as mse_loss of pred = beta/sqrt(2) against
// target y/sqrt(2), so that the tape's mean squared error is exactly the
// lecture's loss and its gradient is exactly g^ = beta - mean(y).
struct BatchGradient {
    double g;       // g^
    double sigma2;  // per-example variance of the gradients in the batch (tape statistics)
};
BatchGradient batch_gradient(Tape& tape, Parameter& beta, const std::vector<float>& y) {
    const int B = static_cast<int>(y.size());
    const float r = 1.0f / std::sqrt(2.0f);
    Tensor x(Shape{B, 1}, r), target(Shape{B, 1});
    for (int b = 0; b < B; ++b) target[b] = y[b] * r;
    tape.reset();
    beta.zero_grad();
    Var pred = linear(tape, tape.input(x), beta, nullptr);
    tape.backward(mse_loss(tape, pred, tape.input(target)));
    const double g = beta.grad[0];
    return {g, beta.grad_sq[0] - g * g};
}

}  // namespace

Result noise_at_optimum(const Settings& s) {
    Result r;
    r.name = "noise-at-optimum";
    const int repeats = s.quick ? 600 : 6000;
    Rng rng(s.seed);
    Tape tape;
    tape.set_statistics(true);
    Parameter beta("beta", Shape{1, 1});
    beta.value[0] = static_cast<float>(kMean);  // the optimum: g = beta - E y = 0

    Table t{"", {"B", "var_g", "sigma2_over_B", "mean_abs_g", "sqrt_2_over_pi_sigma_over_sqrt_B", "batch_sigma2"}, {}};
    std::vector<double> log_b, log_var;
    double nonzero = 0.0, total = 0.0, ratio_sum = 0.0;
    for (int B = 1; B <= 256; B *= 2) {
        std::vector<double> gs, sig;
        std::vector<float> y(static_cast<size_t>(B));
        for (int k = 0; k < repeats; ++k) {
            for (float& v : y) v = static_cast<float>(kMean + kSigma * rng.normal());
            const BatchGradient bg = batch_gradient(tape, beta, y);
            gs.push_back(bg.g);
            sig.push_back(bg.sigma2);
            nonzero += bg.g != 0.0;
            total += 1.0;
        }
        double abs_sum = 0.0;
        for (double g : gs) abs_sum += std::fabs(g);
        const double var = variance_of(gs), predicted = kSigma * kSigma / B;
        // E|g^| of a normal mean with sd sigma/sqrt(B) is sqrt(2/pi) sigma/sqrt(B).
        t.add({double(B), var, predicted, abs_sum / repeats, std::sqrt(2.0 / M_PI) * kSigma / std::sqrt(B),
               mean_of(sig)});
        log_b.push_back(std::log(B));
        log_var.push_back(std::log(var));
        ratio_sum += var / predicted;
    }
    const double mean_ratio = ratio_sum / static_cast<double>(log_b.size());
    const LineFit fit = fit_line(log_b, log_var);
    r.checks.push_back(check_at_least("at the optimum, for a finite batch g^ != 0 (fraction of batches)",
                                      nonzero / total, 0.999));
    r.checks.push_back(check_relative("Var g^ = sigma^2/B: mean over B of Var(g^) B / sigma^2",
                                      mean_ratio, 1.0, 0.1));
    r.checks.push_back(check_absolute("Var g^ = sigma^2/B: slope of log Var(g^) against log B",
                                      fit.slope, -1.0, 0.08));
    r.summary = "at the optimum g^ != 0 in " + fmt(100.0 * nonzero / total) +
                "% of batches; Var(g^) B/sigma^2 = " + fmt(mean_ratio, 3) + " (predicted 1), slope " +
                fmt(fit.slope, 3) + " (predicted -1)";
    save_figure(r, s, {t},
                {{"variance of the batch gradient at the optimum", "batch size B", "Var g^", "B",
                  {{"var_g", "measured", Style::Points, 0}, {"sigma2_over_B", "sigma^2/B", Style::Predicted, 0}},
                  0, 1.0, true, true},
                 {"mean |g^| at the optimum", "batch size B", "E |g^|", "B",
                  {{"mean_abs_g", "measured", Style::Points, 1},
                   {"sqrt_2_over_pi_sigma_over_sqrt_B", "sqrt(2/pi) sigma/sqrt(B)", Style::Predicted, 1}},
                  0, 1.0, true, true}});
    return r;
}

}  // namespace dl::lecture
