// loss-vs-lr. Lecture, "A Nice Theorem (TZ)": with g_i the gradient of
// training example i at the optimum Phi*, the converged loss L(eta) of SGD
// (B = 1) satisfies
//     dL(eta)/d eta at eta = 0  =  (1/4) E_i ||g_i||^2.
// Linear regression on a fixed training set (known optimum: least squares).
// The per-example gradients at Phi* come from the tape's per-example
// statistics (tape.per_example_grad_norms()). SGD (optim/'s sgd) runs many
// chains at several small constant eta; L(eta) is the time average of the
// training loss after burn-in; a fit L(eta) - L* = a eta + b eta^2 gives the slope a.
#include <cmath>

#include "apps/lecture/experiments.h"
#include "core/core.h"
#include "optim/registry.h"

namespace dl::lecture {

namespace {

constexpr int kDim = 5;

struct Problem {
    int n = 0;
    std::vector<double> x, y;           // x (n, kDim), y (n)
    std::vector<double> phi_star;       // least squares solution
    std::vector<double> hessian;        // (1/n) X^T X, (kDim, kDim)
};

// Solves A z = b (kDim x kDim, Gaussian elimination with partial pivoting).
std::vector<double> solve(std::vector<double> A, std::vector<double> b) {
    const int d = kDim;
    for (int c = 0; c < d; ++c) {
        int p = c;
        for (int r = c + 1; r < d; ++r)
            if (std::fabs(A[r * d + c]) > std::fabs(A[p * d + c])) p = r;
        for (int k = 0; k < d; ++k) std::swap(A[c * d + k], A[p * d + k]);
        std::swap(b[c], b[p]);
        for (int r = c + 1; r < d; ++r) {
            const double f = A[r * d + c] / A[c * d + c];
            for (int k = c; k < d; ++k) A[r * d + k] -= f * A[c * d + k];
            b[r] -= f * b[c];
        }
    }
    std::vector<double> z(d);
    for (int r = d - 1; r >= 0; --r) {
        double v = b[r];
        for (int k = r + 1; k < d; ++k) v -= A[r * d + k] * z[k];
        z[r] = v / A[r * d + r];
    }
    return z;
}

Problem make_problem(int n, Rng& rng) {
    Problem p;
    p.n = n;
    p.hessian.assign(kDim * kDim, 0.0);
    std::vector<double> xty(kDim, 0.0);
    for (int i = 0; i < n; ++i) {
        double target = 0.5 * rng.normal();
        for (int j = 0; j < kDim; ++j) {
            p.x.push_back(rng.normal());
            target += (j + 1) * 0.3 * p.x.back();
        }
        p.y.push_back(target);
        for (int j = 0; j < kDim; ++j) {
            xty[j] += p.x[i * kDim + j] * target / n;
            for (int k = 0; k < kDim; ++k) p.hessian[j * kDim + k] += p.x[i * kDim + j] * p.x[i * kDim + k] / n;
        }
    }
    p.phi_star = solve(p.hessian, xty);
    return p;
}

// (1/4) E_i ||g_i||^2 at Phi*, from the tape's per-example gradient norms.
// The example loss (1/2)(phi.x - y)^2 is mse_loss of x/sqrt(2) against y/sqrt(2).
double quarter_mean_sq_grad(const Problem& p) {
    const float r = 1.0f / std::sqrt(2.0f);
    Tensor x(Shape{p.n, kDim}), y(Shape{p.n, 1});
    for (size_t k = 0; k < p.x.size(); ++k) x[k] = static_cast<float>(p.x[k]) * r;
    for (int i = 0; i < p.n; ++i) y[i] = static_cast<float>(p.y[i]) * r;
    Parameter w("w", Shape{1, kDim});
    for (int j = 0; j < kDim; ++j) w.value[j] = static_cast<float>(p.phi_star[j]);
    Tape tape;
    tape.set_statistics(true);
    tape.backward(mse_loss(tape, linear(tape, tape.input(x), w, nullptr), tape.input(y)));
    double sum = 0.0;
    for (float norm : tape.per_example_grad_norms()) sum += double(norm) * norm;
    return 0.25 * sum / p.n;
}

// L(eta) - L*: the training loss of SGD (B = 1) at stationarity, averaged over
// chains and steps. For a quadratic, L(Phi) - L* = (1/2) D^T H D with D = Phi - Phi*.
double converged_excess(const Problem& p, double eta, int chains, long burn_in, long steps, Rng& rng) {
    Parameter phi("phi", Shape{chains, kDim});
    for (int c = 0; c < chains; ++c)
        for (int j = 0; j < kDim; ++j) phi.value[c * kDim + j] = static_cast<float>(p.phi_star[j]);
    OptimizerConfig config;
    config.lr = static_cast<float>(eta);
    auto sgd = make_optimizer("sgd", {&phi}, config);
    double total = 0.0;
    for (long t = 0; t < burn_in + steps; ++t) {
        for (int c = 0; c < chains; ++c) {
            const int i = rng.index(p.n);
            const double* xi = &p.x[i * kDim];
            float* w = &phi.value[c * kDim];
            double residual = -p.y[i];
            for (int j = 0; j < kDim; ++j) residual += w[j] * xi[j];
            for (int j = 0; j < kDim; ++j) phi.grad[c * kDim + j] = static_cast<float>(residual * xi[j]);
        }
        sgd->step();
        if (t < burn_in) continue;
        for (int c = 0; c < chains; ++c) {
            double q = 0.0;
            for (int j = 0; j < kDim; ++j)
                for (int k = 0; k < kDim; ++k)
                    q += (phi.value[c * kDim + j] - p.phi_star[j]) * p.hessian[j * kDim + k] *
                         (phi.value[c * kDim + k] - p.phi_star[k]);
            total += 0.5 * q;
        }
    }
    return total / (static_cast<double>(chains) * steps);
}

}  // namespace

Result loss_vs_lr(const Settings& s) {
    Result r;
    r.name = "loss-vs-lr";
    Rng rng(s.seed);
    const Problem p = make_problem(200, rng);
    const double predicted_slope = quarter_mean_sq_grad(p);
    const int chains = s.quick ? 100 : 400;
    const long burn_in = 2500, steps = s.quick ? 10000 : 50000;
    const std::vector<double> etas = {0.004, 0.008, 0.016, 0.032, 0.064};
    std::vector<double> excess;
    for (double eta : etas) excess.push_back(converged_excess(p, eta, chains, burn_in, steps, rng));
    const std::vector<double> ab = fit_linear_quadratic(etas, excess);
    Table t{"", {"eta", "excess_loss", "theorem_slope_times_eta", "fit"}, {}};
    for (size_t i = 0; i < etas.size(); ++i)
        t.add({etas[i], excess[i], predicted_slope * etas[i], ab[0] * etas[i] + ab[1] * etas[i] * etas[i]});
    r.checks.push_back(check_relative("dL(eta)/d eta at 0 = (1/4) E_i ||g_i||^2 (fitted slope)", ab[0],
                                      predicted_slope, 0.1, false));
    r.checks.push_back(check_relative("at the smallest eta: (L(eta) - L*)/eta vs (1/4) E_i ||g_i||^2",
                                      excess[0] / etas[0], predicted_slope, 0.1, false));
    r.summary = "slope of the converged loss at eta = 0: " + fmt(ab[0], 4) + " vs (1/4) E||g_i||^2 = " +
                fmt(predicted_slope, 4) + " (linear regression, B = 1): " +
                (r.checks[0].holds ? "the theorem holds" : "the theorem is off");
    save_figure(r, s, {t},
                {{"converged training loss of SGD (B = 1), linear regression", "learning rate eta",
                  "L(eta) - L(Phi*)", "eta",
                  {{"excess_loss", "measured", Style::Points, 0},
                   {"theorem_slope_times_eta", "(1/4) E_i ||g_i||^2 eta (theorem)", Style::Predicted, 1},
                   {"fit", "fit a eta + b eta^2", Style::Predicted, 2}},
                  0, 1.0, false, false, 0.0, NAN, 0.0}});
    return r;
}

}  // namespace dl::lecture
