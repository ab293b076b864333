// optimal-batch. Lecture, "Optimizing B and eta" and "Appendix: Optimizing B
// and eta": from the guarantee
//   loss(beta - eta g^) <= loss(beta) - eta g^ (g^ - 2 sigma/sqrt(B)) + (1/2) L eta^2 g^2
// the best step is eta*(B) = (1/L)(1 - 2 sigma/(g sqrt(B))), and maximising the
// guaranteed progress per example gives B* = 16 sigma^2/g^2 and eta* = 1/(2L).
// On the 1-D loss (L/2)(beta - mu)^2 with per-example gradient noise sigma, at a
// point where the true gradient is g, we measure the expected progress of one
// SGD step (optim/'s sgd, many trials at once) per example, for each B:
// with the lecture's eta*(B), and with the eta that maximises the expected
// progress, g^2/(L (g^2 + sigma^2/B)). The guarantee is a high-probability
// bound; the expected progress per example is largest at a much smaller B.
#include <cmath>

#include "apps/lecture/experiments.h"
#include "optim/registry.h"

namespace dl::lecture {

namespace {

constexpr double kL = 1.0, kSigma = 1.0, kG = 0.25;  // B* = 16 sigma^2/g^2 = 256

double eta_star(double B) { return std::max(0.0, (1.0 / kL) * (1.0 - 2.0 * kSigma / (kG * std::sqrt(B)))); }
double bound_per_example(double B) { return 0.5 * kL * eta_star(B) * eta_star(B) * kG * kG / B; }

// Mean progress loss(beta) - loss(beta - eta g^) of one SGD step at batch size B, per example.
double measured_progress(double B, double eta, int trials, Rng& rng) {
    const double distance = kG / kL;  // beta - mu
    Parameter beta("beta", Shape{trials});
    beta.value.fill(static_cast<float>(distance));
    OptimizerConfig c;
    c.lr = static_cast<float>(eta);
    auto sgd = make_optimizer("sgd", {&beta}, c);
    for (int k = 0; k < trials; ++k) beta.grad[k] = static_cast<float>(kG + kSigma / std::sqrt(B) * rng.normal());
    sgd->step();
    double progress = 0.0;
    for (int k = 0; k < trials; ++k) progress += 0.5 * kL * (distance * distance - double(beta.value[k]) * beta.value[k]);
    return progress / trials / B;
}

}  // namespace

Result optimal_batch(const Settings& s) {
    Result r;
    r.name = "optimal-batch";
    const int trials = s.quick ? 40000 : 400000;
    Rng rng(s.seed);
    const double b_star = 16.0 * kSigma * kSigma / (kG * kG);
    double best_bound_b = 1.0;
    for (int B = 1; B <= 8192; ++B)
        if (bound_per_example(B) > bound_per_example(best_bound_b)) best_bound_b = B;
    Table t{"", {"B", "bound", "progress_eta_star_B", "progress_best_eta"}, {}};
    double best_lecture_b = 1.0, best_lecture = -1e30, best_tuned_b = 1.0, best_tuned = -1e30;
    double previous = 0.0;
    for (double B = 1.0; B <= 8192.0; B *= std::sqrt(2.0)) {
        const double Bi = std::round(B);
        if (Bi == previous) continue;
        previous = Bi;
        const double lecture = measured_progress(Bi, eta_star(Bi), trials, rng);
        const double tuned_eta = kG * kG / (kL * (kG * kG + kSigma * kSigma / Bi));
        const double tuned = measured_progress(Bi, tuned_eta, trials, rng);
        t.add({Bi, bound_per_example(Bi), lecture, tuned});
        if (lecture > best_lecture) best_lecture = lecture, best_lecture_b = Bi;
        if (tuned > best_tuned) best_tuned = tuned, best_tuned_b = Bi;
    }
    r.checks.push_back(check_relative("the guarantee per example is largest at B* = 16 sigma^2/g^2", best_bound_b,
                                      b_star, 0.02));
    r.checks.push_back(check_relative("eta*(B*) = 1/(2L)", eta_star(b_star), 1.0 / (2.0 * kL), 1e-6));
    r.checks.push_back(check_relative("measured progress per example with eta*(B) is best near B*", best_lecture_b,
                                      b_star, 0.5, false));
    r.checks.push_back(check_relative("measured progress per example with the best eta for each B is best near B*",
                                      best_tuned_b, b_star, 0.5, false));
    r.summary = "B* = 16 sigma^2/g^2 = " + fmt(b_star) + " maximises the guarantee (found " + fmt(best_bound_b) +
                ", eta* = " + fmt(eta_star(b_star), 3) + "); measured expected progress per example peaks at B = " +
                fmt(best_lecture_b) + " with eta*(B) and at B = " + fmt(best_tuned_b) + " with the best eta" +
                (best_tuned_b < b_star / 4 ? ": B* optimises a high-probability bound, not the expected progress "
                                             "(slide \"Optimizing B and eta\")"
                                           : "");
    save_figure(r, s, {t},
                {{"progress per example of one step (g = 0.25, sigma = 1, L = 1)", "batch size B",
                  "loss decrease / B", "B",
                  {{"bound", "guaranteed (the lecture's bound)", Style::Predicted, 0},
                   {"progress_eta_star_B", "measured, eta*(B) = (1 - 2 sigma/(g sqrt B))/L", Style::Measured, 1},
                   {"progress_best_eta", "measured, eta = g^2/(L (g^2 + sigma^2/B))", Style::Measured, 2}},
                  0, 1.0, true, true, NAN, NAN, NAN, NAN,
                  {{b_star, "B* = 16 sigma^2/g^2"}}}});
    return r;
}

}  // namespace dl::lecture
