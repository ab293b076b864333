// Dropout and batch normalisation.
//
// Dropout is per-example (each element has its own mask bit), so it is fine for
// per-example statistics. Batch norm in training mode mixes the examples of a
// batch through the batch mean and variance: its node is flagged and the tape
// refuses statistics. In eval mode it is a per-channel affine map, and its
// gamma and beta get per-example statistics like linear's parameters.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "core/ops_nn.h"
#include "core/parallel.h"

namespace dl {

namespace {

// splitmix64: a fast, well-mixed hash of a 64-bit counter (Steele et al. 2014).
std::uint64_t splitmix64(std::uint64_t z) {
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

// ---- dropout: y = x * mask, mask_i in {0, 1/(1-p)};  dx += dy * mask ----------------------
void dropout_backward(Tape& t, Node& n) {
    const float* mask = n.aux[0].data();
    const float* dy = n.grad->data();
    float* dx = t.grad_acc(n.in[0]).data();
    const long size = (long)n.out.size();
#pragma omp parallel for schedule(static) if (size >= (long)kParallelMin)
    for (long i = 0; i < size; ++i) dx[i] += dy[i] * mask[i];
}

// ---- batch norm ---------------------------------------------------------------------------
// x is viewed as (N, C, HW) with HW = 1 for (N, F) input; M = N*HW values per channel.
// iarg: N, C, HW, training.  aux[0]: xhat (x's shape), aux[1]: invstd | mean (2, C);
// backward: aux[2] per-example channel sums (N, 2, C), aux[3] channel totals (2, C).
struct NormGeom {
    int N, C, HW;
    long M() const { return (long)N * HW; }
};

NormGeom norm_geom(const Node& n) { return NormGeom{n.iarg[0], n.iarg[1], n.iarg[2]}; }

bool norm_parallel(const NormGeom& g) { return (long)g.N * g.C * g.HW >= (long)kParallelMin; }

// Training mode, per channel c of x (N,C,HW): batch mean and invstd = 1/sqrt(var + eps)
// (biased var, accumulated in double), and running statistics updated like PyTorch's
// (unbiased variance).  mean, invstd, running_mean, running_var: (C).
void training_moments(float* mean, float* invstd, float* running_mean, float* running_var,
                      const float* x, const NormGeom& g, float momentum, float eps) {
    const double M = (double)g.M();
#pragma omp parallel for schedule(static) if (norm_parallel(g))
    for (int c = 0; c < g.C; ++c) {
        double s = 0.0, s2 = 0.0;
        for (int b = 0; b < g.N; ++b) {
            const float* xc = x + ((long)b * g.C + c) * g.HW;
            for (int i = 0; i < g.HW; ++i) {
                s += xc[i];
                s2 += (double)xc[i] * xc[i];
            }
        }
        const double m = s / M, v = std::max(0.0, s2 / M - m * m);
        mean[c] = (float)m;
        invstd[c] = (float)(1.0 / std::sqrt(v + eps));
        running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * (float)m;
        running_var[c] = (1.0f - momentum) * running_var[c] + momentum * (float)(v * M / (M - 1.0));
    }
}

// xhat = (x - mean_c) invstd_c;  y = gamma_c xhat + beta_c.  All (N,C,HW); mean/invstd/gamma/beta (C).
void normalize(float* y, float* xhat, const float* x, const float* mean, const float* invstd,
               const float* gamma, const float* beta, const NormGeom& g) {
#pragma omp parallel for schedule(static) if (norm_parallel(g))
    for (int b = 0; b < g.N; ++b)
        for (int c = 0; c < g.C; ++c) {
            const long o = ((long)b * g.C + c) * g.HW;
            for (int i = 0; i < g.HW; ++i) {
                xhat[o + i] = (x[o + i] - mean[c]) * invstd[c];
                y[o + i] = gamma[c] * xhat[o + i] + beta[c];
            }
        }
}

// sums (N,2,C): sums[b][0][c] = sum_i dy, sums[b][1][c] = sum_i dy * xhat (the
// per-example gradients of beta and gamma).
void example_sums(float* sums, const float* dy, const float* xhat, const NormGeom& g) {
#pragma omp parallel for schedule(static) if (norm_parallel(g))
    for (int b = 0; b < g.N; ++b)
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
}

// Per-example statistics of gamma and beta (eval mode only: training mode is refused by the tape).
void batch_norm_statistics(Tape& t, Node& n, const float* sums, const NormGeom& g) {
    if (g.N != t.stats_batch())
        throw std::invalid_argument("statistics: batch_norm sees " + std::to_string(g.N) +
                                    " examples but the loss has " + std::to_string(t.stats_batch()));
    Parameter* gamma = n.params[0];
    Parameter* beta = n.params[1];
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
#pragma omp parallel for schedule(static) if (norm_parallel(g))
    for (int b = 0; b < g.N; ++b)
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
}

void batch_norm_backward(Tape& t, Node& n) {
    const NormGeom g = norm_geom(n);
    const bool training = n.iarg[3] != 0;
    Parameter* gamma = n.params[0];
    Parameter* beta = n.params[1];
    const float* dy = n.grad->data();
    const float* xhat = n.aux[0].data();
    n.aux[2].resize(Shape{g.N, 2, g.C});
    float* sums = n.aux[2].data();
    example_sums(sums, dy, xhat, g);
    n.aux[3].resize(Shape{2, g.C});  // channel totals: sum dy (C) | sum dy*xhat (C)
    float* sdy = n.aux[3].data();
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
        batch_norm_input_grad(t.grad_acc(n.in[0]).data(), dy, xhat, gamma->value.data(), n.aux[1].data(),
                              sdy, sdx, training, g);
    if (t.statistics()) batch_norm_statistics(t, n, sums, g);
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

Var dropout(Tape& t, Var x, float p, bool training, std::uint64_t& rng_state) {
    if (!(p >= 0.0f && p < 1.0f))
        throw std::invalid_argument("dropout: probability " + std::to_string(p) + " must be in [0, 1)");
    if (!training || p == 0.0f) return x;
    Node& n = t.record("dropout", t.shape(x), {x}, dropout_backward);
    const long size = (long)n.out.size();
    n.aux[0].resize(t.shape(x));
    float* mask = n.aux[0].data();
    const float keep = 1.0f / (1.0f - p);
    const std::uint64_t base = rng_state;
    const float* xv = t.value(x).data();
    float* y = n.out.data();
#pragma omp parallel for schedule(static) if (size >= (long)kParallelMin)
    for (long i = 0; i < size; ++i) {
        const float u = (float)(splitmix64(base + (std::uint64_t)i) >> 40) * 0x1.0p-24f;  // [0, 1)
        mask[i] = u < p ? 0.0f : keep;
        y[i] = xv[i] * mask[i];
    }
    rng_state = base + (std::uint64_t)size;
    return Var{t.size() - 1};
}

Var batch_norm(Tape& t, Var x, Parameter& gamma, Parameter& beta, Tensor& running_mean,
               Tensor& running_var, bool training, float momentum, float eps) {
    const Shape sx = t.shape(x);
    const NormGeom g = check_norm_args(sx, gamma, beta, running_mean, running_var, training);
    Node& n = t.record("batch_norm", sx, {x}, batch_norm_backward, /*owns_params=*/true);
    const int args[4] = {g.N, g.C, g.HW, training ? 1 : 0};
    std::copy(args, args + 4, n.iarg);
    n.params[0] = &gamma;
    n.params[1] = &beta;
    n.mixes_examples = training;
    gamma.ensure_grad();
    beta.ensure_grad();
    n.aux[0].resize(sx);
    n.aux[1].resize(Shape{2, g.C});  // invstd (C) | mean (C)
    float* invstd = n.aux[1].data();
    float* mean = invstd + g.C;
    if (training) {
        training_moments(mean, invstd, running_mean.data(), running_var.data(), t.value(x).data(), g, momentum,
                         eps);
    } else {
        for (int c = 0; c < g.C; ++c) {
            mean[c] = running_mean[c];
            invstd[c] = 1.0f / std::sqrt(running_var[c] + eps);
        }
    }
    normalize(n.out.data(), n.aux[0].data(), t.value(x).data(), mean, invstd, gamma.value.data(),
              beta.value.data(), g);
    return Var{t.size() - 1};
}

}  // namespace dl
