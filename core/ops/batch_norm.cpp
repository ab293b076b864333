// Batch normalisation. In training mode it mixes the examples of a batch through
// the batch mean and variance: its node is flagged and the tape refuses
// statistics. In eval mode it is a per-channel affine map, and its gamma and beta
// get per-example statistics like linear's parameters.
//
// Channels (and examples) are independent in every loop: fast::parallel_for splits
// them over the threads, with the same numbers.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "core/fast/parallel.h"
#include "core/ops_nn.h"

namespace dl {

namespace {

// ---- batch norm ---------------------------------------------------------------------------
// x is viewed as (N, C, HW) with HW = 1 for (N, F) input; M = N*HW values per channel.
struct NormGeom {
    int N, C, HW;
    long M() const { return (long)N * HW; }
    long size() const { return (long)N * C * HW; }
};

struct BatchNormSaved {
    NormGeom g;
    bool training;
    Parameter* gamma;  // (C)
    Parameter* beta;   // (C)
    Tensor xhat;       // (N,C,HW) the normalised input
    Tensor invstd;     // (C) 1/sqrt(var + eps)
    Tensor mean;       // (C)
    Tensor sums;       // backward: per-example channel sums (N,2,C), see example_sums
    Tensor totals;     // backward: channel totals, sum dy (C) | sum dy*xhat (C)
};

// Training mode, per channel c of x (N,C,HW): batch mean and invstd = 1/sqrt(var + eps)
// (biased var, accumulated in double), and running statistics updated like PyTorch's
// (unbiased variance).  mean, invstd, running_mean, running_var: (C).
void training_moments(float* mean, float* invstd, float* running_mean, float* running_var,
                      const float* x, const NormGeom& g, float momentum, float eps) {
    const double M = (double)g.M();
    fast::parallel_for(g.C, g.size(), [&](long first, long last) {
        for (long c = first; c < last; ++c) {
            double s = 0.0, s2 = 0.0;
            for (int b = 0; b < g.N; ++b) {
                const float* xc = x + ((long)b * g.C + c) * g.HW;
                for (int i = 0; i < g.HW; ++i) {
                    s += xc[i];
                    s2 += (double)xc[i] * xc[i];
                }
            }
            const double m = s / M, d = s2 / M - m * m, v = d < 0.0 ? 0.0 : d;  // rounding: v >= 0 (NaN stays)
            mean[c] = (float)m;
            invstd[c] = (float)(1.0 / std::sqrt(v + eps));
            running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * (float)m;
            running_var[c] = (1.0f - momentum) * running_var[c] + momentum * (float)(v * M / (M - 1.0));
        }
    });
}

// xhat = (x - mean_c) invstd_c;  y = gamma_c xhat + beta_c.  All (N,C,HW); mean/invstd/gamma/beta (C).
// The channel's four numbers are copied out first: read inside the loop, the compiler
// must assume a store to xhat or y may change them, and the loop stays scalar.
void normalize(float* y, float* xhat, const float* x, const float* mean, const float* invstd,
               const float* gamma, const float* beta, const NormGeom& g) {
    fast::parallel_for(g.N, g.size(), [&](long first, long last) {
        for (long b = first; b < last; ++b)
            for (int c = 0; c < g.C; ++c) {
                const long o = ((long)b * g.C + c) * g.HW;
                const float m = mean[c], is = invstd[c], ga = gamma[c], be = beta[c];
                for (int i = 0; i < g.HW; ++i) {
                    xhat[o + i] = (x[o + i] - m) * is;
                    y[o + i] = ga * xhat[o + i] + be;
                }
            }
    });
}

// sums (N,2,C): sums[b][0][c] = sum_i dy, sums[b][1][c] = sum_i dy * xhat (the
// per-example gradients of beta and gamma).
void example_sums(float* sums, const float* dy, const float* xhat, const NormGeom& g) {
    fast::parallel_for(g.N, g.size(), [&](long first, long last) {
        for (long b = first; b < last; ++b)
            for (int c = 0; c < g.C; ++c) {
                const long o = ((long)b * g.C + c) * g.HW;
                float s = 0.0f, sx = 0.0f;
                for (int i = 0; i < g.HW; ++i) {
                    s += dy[o + i];
                    sx += dy[o + i] * xhat[o + i];
                }
                sums[((long)b * 2) * g.C + c] = s;
                sums[((long)b * 2 + 1) * g.C + c] = sx;
            }
    });
}

// Per-example statistics of gamma and beta (eval mode only: training mode is refused by the tape).
void batch_norm_statistics(Tape& t, const BatchNormSaved& s, const float* sums) {
    const NormGeom& g = s.g;
    if (g.N != t.stats_batch())
        throw std::invalid_argument("statistics: batch_norm sees " + std::to_string(g.N) +
                                    " examples but the loss has " + std::to_string(t.stats_batch()));
    Parameter* gamma = s.gamma;
    Parameter* beta = s.beta;
    t.begin_param_stats(*gamma, "batch_norm");
    t.begin_param_stats(*beta, "batch_norm");
    const float s2 = t.stats_scale() * t.stats_scale();
    float* sqnorm = t.per_example_sqnorm();
    for (int b = 0; b < g.N; ++b) {
        const float* sdy = sums + (long)b * 2 * g.C;
        const float* sdx = sdy + g.C;
        float norm = 0.0f;
        for (int c = 0; c < g.C; ++c) {
            beta->grad_sq[c] += s2 / g.N * sdy[c] * sdy[c];
            gamma->grad_sq[c] += s2 / g.N * sdx[c] * sdx[c];
            norm += sdy[c] * sdy[c] + sdx[c] * sdx[c];
        }
        sqnorm[b] += s2 * norm;
    }
}

// dx (N,C,HW) += training: gamma invstd / M (M dy - sum dy - xhat sum(dy xhat))
//                eval:     gamma invstd dy
void batch_norm_input_grad(float* dx, const float* dy, const float* xhat, const float* gamma,
                           const float* invstd, const float* sdy, const float* sdx, bool training,
                           const NormGeom& g) {
    const float M = (float)g.M();
    fast::parallel_for(g.N, g.size(), [&](long first, long last) {
        for (long b = first; b < last; ++b)
            for (int c = 0; c < g.C; ++c) {
                const long o = ((long)b * g.C + c) * g.HW;
                const float k = gamma[c] * invstd[c];
                if (training) {
                    const float mdy = sdy[c] / M, mdx = sdx[c] / M;
                    for (int i = 0; i < g.HW; ++i) dx[o + i] += k * (dy[o + i] - mdy - xhat[o + i] * mdx);
                } else {
                    for (int i = 0; i < g.HW; ++i) dx[o + i] += k * dy[o + i];
                }
            }
    });
}

// dgamma_c += sum dy xhat, dbeta_c += sum dy (over the batch and positions), then dx.
void batch_norm_backward(Tape& t, Node& n) {
    BatchNormSaved& s = n.saved<BatchNormSaved>();
    const NormGeom g = s.g;
    Parameter* gamma = s.gamma;
    Parameter* beta = s.beta;
    const float* dy = n.grad->data();
    const float* xhat = s.xhat.data();
    s.sums.resize(Shape{g.N, 2, g.C});
    float* sums = s.sums.data();
    example_sums(sums, dy, xhat, g);
    s.totals.resize(Shape{2, g.C});
    float* sdy = s.totals.data();
    float* sdx = sdy + g.C;
    for (int c = 0; c < g.C; ++c) {
        double a = 0.0, ax = 0.0;
        for (int b = 0; b < g.N; ++b) {
            a += sums[((long)b * 2) * g.C + c];
            ax += sums[((long)b * 2 + 1) * g.C + c];
        }
        sdy[c] = (float)a;
        sdx[c] = (float)ax;
        beta->grad[c] += sdy[c];
        gamma->grad[c] += sdx[c];
    }
    if (t.node(n.in[0]).needs_grad)
        batch_norm_input_grad(t.grad_acc(n.in[0]).data(), dy, xhat, gamma->value.data(), s.invstd.data(), sdy, sdx,
                              s.training, g);
    if (t.statistics()) batch_norm_statistics(t, s, sums);
}

// `name` is appended to `what` only when there is an error: building the message
// eagerly would allocate on every step.
void check_channels(const char* what, const std::string& name, const Shape& s, int C, const Shape& sx) {
    if (s.rank != 1 || s[0] != C)
        throw std::invalid_argument(std::string("batch_norm: ") + what + name + " has shape " + s.str() +
                                    " but input " + sx.str() + " has " + std::to_string(C) +
                                    " channels; expected (" + std::to_string(C) + ")");
}

NormGeom check_norm_args(const Shape& sx, const Parameter& gamma, const Parameter& beta,
                         const Tensor& running_mean, const Tensor& running_var, bool training) {
    if (sx.rank != 2 && sx.rank != 4)
        throw std::invalid_argument("batch_norm: input " + sx.str() + " must be (N, F) or (N, C, H, W)");
    const NormGeom g{sx[0], sx[1], sx.rank == 4 ? sx[2] * sx[3] : 1};
    check_channels("gamma ", gamma.name, gamma.value.shape(), g.C, sx);
    check_channels("beta ", beta.name, beta.value.shape(), g.C, sx);
    check_channels("running_mean", "", running_mean.shape(), g.C, sx);
    check_channels("running_var", "", running_var.shape(), g.C, sx);
    if (training && g.M() < 2)
        throw std::invalid_argument("batch_norm: input " + sx.str() +
                                    " has one value per channel; training needs more than one");
    return g;
}

}  // namespace

Var batch_norm(Tape& t, Var x, Parameter& gamma, Parameter& beta, Tensor& running_mean,
               Tensor& running_var, bool training, float momentum, float eps) {
    const Shape sx = t.shape(x);
    const NormGeom g = check_norm_args(sx, gamma, beta, running_mean, running_var, training);
    Node& n = t.record("batch_norm", sx, {x}, batch_norm_backward, /*owns_params=*/true);
    BatchNormSaved& s = n.save<BatchNormSaved>();
    s.g = g;
    s.training = training;
    s.gamma = &gamma;
    s.beta = &beta;
    n.mixes_examples = training;
    gamma.ensure_grad();
    beta.ensure_grad();
    s.xhat.resize(sx);
    s.invstd.resize(Shape{g.C});
    s.mean.resize(Shape{g.C});
    float* invstd = s.invstd.data();
    float* mean = s.mean.data();
    if (training) {
        training_moments(mean, invstd, running_mean.data(), running_var.data(), t.value(x).data(), g, momentum,
                         eps);
    } else {
        for (int c = 0; c < g.C; ++c) {
            mean[c] = running_mean[c];
            invstd[c] = 1.0f / std::sqrt(running_var[c] + eps);
        }
    }
    normalize(n.out.data(), s.xhat.data(), t.value(x).data(), mean, invstd, gamma.value.data(), beta.value.data(),
              g);
    return Var{t.size() - 1};
}

}  // namespace dl
