// Group normalisation and layer normalisation: each example is normalised by its
// own statistics, so, unlike batch norm in training, neither mixes the examples of
// a batch, and the per-example statistics of gamma and beta are exact.
//
// Both are one computation. Each example's F values fall into G groups of M = F/G
// consecutive values, each normalised by its mean and (biased) variance; then each
// value i of an example is scaled and shifted by the affine parameter p = i / A:
//   group_norm  x (N,C,HW): G = groups, M = (C/G) HW, A = HW (gamma, beta per channel)
//   layer_norm  x (N,F):    G = 1,      M = F,        A = 1  (gamma, beta per value)
// For one group of one example, with xhat = (x - mean) invstd and invstd = 1/sqrt(var + eps):
//   y_i     = gamma_p xhat_i + beta_p
//   dx_i   += invstd (dxhat_i - mean(dxhat) - xhat_i mean(dxhat xhat)),  dxhat_i = dy_i gamma_p
//   dgamma_p += sum dy_i xhat_i,  dbeta_p += sum dy_i   (over the i with i / A = p)
// Examples are independent: fast::parallel_for splits them over the threads, with
// the same numbers.
#include <cmath>
#include <stdexcept>
#include <string>

#include "core/fast/parallel.h"
#include "core/ops_nn.h"

namespace dl {

namespace {

struct NormGroups {
    int N, G, M, A;  // examples, groups per example, values per group, values per affine parameter
    long F() const { return (long)G * M; }   // values per example
    long P() const { return F() / A; }       // affine parameters
    long size() const { return N * F(); }
};

struct GroupNormSaved {
    const char* op;    // "group_norm" or "layer_norm", for messages
    NormGroups g;
    Parameter* gamma;  // (P)
    Parameter* beta;   // (P)
    Tensor xhat;       // (N,F)
    Tensor invstd;     // (N,G)
    Tensor sums;       // backward: per example sum dy xhat (P) | sum dy (P), (N,2,P)
};

// The loops below walk a group as its affine parameters p (channels) times the A
// values of each, so that no index is divided per value; the group sums run in double.

// One example: xhat, invstd (G) and y (F) from x (F).
void normalize_example(float* y, float* xhat, float* invstd, const float* x, const float* gamma, const float* beta,
                       const NormGroups& g, float eps) {
    for (int k = 0; k < g.G; ++k) {
        const long o = (long)k * g.M;
        const float* xg = x + o;
        double sum = 0.0;
        for (int i = 0; i < g.M; ++i) sum += xg[i];
        const double mean = sum / g.M;
        double var = 0.0;
        for (int i = 0; i < g.M; ++i) var += (xg[i] - mean) * (xg[i] - mean);
        invstd[k] = (float)(1.0 / std::sqrt(var / g.M + eps));
        const float m = (float)mean, is = invstd[k];
        for (long p = o / g.A; p < (o + g.M) / g.A; ++p) {  // the group's affine parameters
            const long at = p * g.A;
            const float ga = gamma[p], be = beta[p];  // copied out, or the loop stays scalar
            for (int j = 0; j < g.A; ++j) {
                xhat[at + j] = (x[at + j] - m) * is;
                y[at + j] = ga * xhat[at + j] + be;
            }
        }
    }
}

// One example: sums (2,P) = sum dy xhat | sum dy per affine parameter (the example's
// gradient of gamma and beta), and dx (F) += its input gradient (if dx).
void backward_example(float* dx, float* sums, const float* dy, const float* xhat, const float* invstd,
                      const float* gamma, const NormGroups& g) {
    const long P = g.P();
    for (long p = 0; p < P; ++p) {
        const long at = p * g.A;
        float s_dyx = 0.0f, s_dy = 0.0f;
        for (int j = 0; j < g.A; ++j) {
            s_dyx += dy[at + j] * xhat[at + j];
            s_dy += dy[at + j];
        }
        sums[p] = s_dyx;
        sums[P + p] = s_dy;
    }
    if (!dx) return;
    for (int k = 0; k < g.G; ++k) {
        const long o = (long)k * g.M;
        // mean(dxhat) and mean(dxhat xhat), with dxhat = dy gamma_p: from the sums per parameter
        double mean_d = 0.0, mean_dx = 0.0;
        for (long p = o / g.A; p < (o + g.M) / g.A; ++p) {
            mean_d += (double)gamma[p] * sums[P + p];
            mean_dx += (double)gamma[p] * sums[p];
        }
        const float md = (float)(mean_d / g.M), mdx = (float)(mean_dx / g.M), is = invstd[k];
        for (long p = o / g.A; p < (o + g.M) / g.A; ++p) {
            const long at = p * g.A;
            const float ga = gamma[p];  // copied out, or the loop stays scalar
            for (int j = 0; j < g.A; ++j)
                dx[at + j] += is * (dy[at + j] * ga - md - xhat[at + j] * mdx);
        }
    }
}

// gamma.grad, beta.grad += the examples' sums, in example order; with statistics also
// grad_sq += (s^2/N) sums^2 and the per-example norms.
void add_param_grads(Tape& t, const GroupNormSaved& s) {
    const NormGroups& g = s.g;
    const char* op = s.op;
    const long P = g.P();
    const bool stats = t.statistics();
    if (stats) {
        if (g.N != t.stats_batch())
            throw std::invalid_argument(std::string("statistics: ") + op + " sees " + std::to_string(g.N) +
                                        " examples but the loss has " + std::to_string(t.stats_batch()));
        t.begin_param_stats(*s.gamma, op);
        t.begin_param_stats(*s.beta, op);
    }
    const float s2 = stats ? t.stats_scale() * t.stats_scale() : 0.0f;
    for (int b = 0; b < g.N; ++b) {
        const float* c = s.sums.data() + (long)b * 2 * P;  // gamma's part, then beta's
        float norm = 0.0f;
        for (long p = 0; p < P; ++p) {
            s.gamma->grad[p] += c[p];
            s.beta->grad[p] += c[P + p];
            if (!stats) continue;
            s.gamma->grad_sq[p] += s2 / g.N * c[p] * c[p];
            s.beta->grad_sq[p] += s2 / g.N * c[P + p] * c[P + p];
            norm += c[p] * c[p] + c[P + p] * c[P + p];
        }
        if (stats) t.per_example_sqnorm()[b] += s2 * norm;
    }
}

void norm_backward(Tape& t, Node& n) {
    GroupNormSaved& s = n.saved<GroupNormSaved>();
    const NormGroups& g = s.g;
    const float* dy = n.grad->data();
    float* dx = t.node(n.in[0]).needs_grad ? t.grad_acc(n.in[0]).data() : nullptr;
    s.sums.resize(Shape{g.N, 2, (int)g.P()});
    fast::parallel_for(g.N, g.size(), [&](long first, long last) {
        for (long b = first; b < last; ++b)
            backward_example(dx ? dx + b * g.F() : nullptr, s.sums.data() + b * 2 * g.P(), dy + b * g.F(),
                             s.xhat.data() + b * g.F(), s.invstd.data() + b * g.G, s.gamma->value.data(), g);
    });
    add_param_grads(t, s);
}

// Records the node and computes y; shapes checked by the caller.
Var norm(Tape& t, const char* op, Var x, Parameter& gamma, Parameter& beta, const NormGroups& g, float eps) {
    Node& n = t.record(op, t.shape(x), {x}, norm_backward, /*owns_params=*/true);
    GroupNormSaved& s = n.save<GroupNormSaved>();
    s.op = op;
    s.g = g;
    s.gamma = &gamma;
    s.beta = &beta;
    gamma.ensure_grad();
    beta.ensure_grad();
    s.xhat.resize(Shape{g.N, (int)g.F()});
    s.invstd.resize(Shape{g.N, g.G});
    const float* xv = t.value(x).data();
    fast::parallel_for(g.N, g.size(), [&](long first, long last) {
        for (long b = first; b < last; ++b)
            normalize_example(n.out.data() + b * g.F(), s.xhat.data() + b * g.F(), s.invstd.data() + b * g.G,
                              xv + b * g.F(), gamma.value.data(), beta.value.data(), g, eps);
    });
    return Var{t.size() - 1};
}

void check_affine(const char* op, const char* what, const Parameter& p, const Shape& expected, const Shape& sx) {
    if (p.value.shape() != expected)
        throw std::invalid_argument(std::string(op) + ": " + what + " '" + p.name + "' has shape " +
                                    p.value.shape().str() + " but input " + sx.str() + " needs " + expected.str());
}

}  // namespace

Var group_norm(Tape& t, Var x, Parameter& gamma, Parameter& beta, int groups, float eps) {
    const Shape sx = t.shape(x);
    if (sx.rank != 2 && sx.rank != 4)
        throw std::invalid_argument("group_norm: input " + sx.str() + " must be (N, C) or (N, C, H, W)");
    const int C = sx[1], HW = sx.rank == 4 ? sx[2] * sx[3] : 1;
    if (groups < 1 || C % groups != 0)
        throw std::invalid_argument("group_norm: " + std::to_string(groups) + " groups do not divide the " +
                                    std::to_string(C) + " channels of input " + sx.str());
    check_affine("group_norm", "gamma", gamma, Shape{C}, sx);
    check_affine("group_norm", "beta", beta, Shape{C}, sx);
    return norm(t, "group_norm", x, gamma, beta, NormGroups{sx[0], groups, C / groups * HW, HW}, eps);
}

Var layer_norm(Tape& t, Var x, Parameter& gamma, Parameter& beta, float eps) {
    const Shape sx = t.shape(x);
    if (sx.rank < 2 || sx.numel() == 0)
        throw std::invalid_argument("layer_norm: input " + sx.str() + " must be (N, ...) with features");
    Shape features;  // x's shape without the batch dimension
    for (int i = 1; i < sx.rank; ++i) features.dims[features.rank++] = sx[i];
    check_affine("layer_norm", "gamma", gamma, features, sx);
    check_affine("layer_norm", "beta", beta, features, sx);
    return norm(t, "layer_norm", x, gamma, beta, NormGroups{sx[0], 1, (int)features.numel(), 1}, eps);
}

}  // namespace dl
