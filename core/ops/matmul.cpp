// Matrix products: the generic matmul and the linear layer's op, which also
// computes per-example gradient statistics. Each is one sgemm per product.
#include <stdexcept>
#include <string>

#include "core/fast/gemm.h"
#include "core/fast/parallel.h"
#include "core/fast/rows.h"
#include "core/ops.h"

namespace dl {

namespace {

// ---- matmul: C (M,N) = A (M,K) B (K,N) ------------------------------------------
// dA (M,K) += dC (M,N) B^T;   dB (K,N) += A^T dC
void matmul_backward(Tape& t, Node& n) {
    const Node& a = t.node(n.in[0]);
    const Node& b = t.node(n.in[1]);
    const int M = a.value->dim(0), K = a.value->dim(1), N = b.value->dim(1);
    const float* dC = n.grad->data();
    if (a.needs_grad)
        sgemm(false, true, M, K, N, 1.0f, dC, N, b.value->data(), N, 1.0f, t.grad_acc(n.in[0]).data(), K);
    if (b.needs_grad)
        sgemm(true, false, K, N, M, 1.0f, a.value->data(), K, dC, N, 1.0f, t.grad_acc(n.in[1]).data(), N);
}

// ---- linear: y (N,out) = x (N,in) W^T + b ----------------------------------------
struct LinearSaved {
    int N, in, out;
    Parameter* weight;  // (out,in)
    Parameter* bias;    // (out) or nullptr
    // Statistics scratch: dy^2 (N,out), x^2 (N,in), ||dy_b||^2 then ||x_b||^2 (2,N).
    Tensor dy2, x2, sqnorms;
};

// sq (R,C) = m^2 elementwise and norms (R) = the row sums of sq.
void square_rows(float* sq, float* norms, const float* m, int R, int C) {
    if (fast::square_rows(sq, norms, m, R, C)) return;
    for (int r = 0; r < R; ++r) {
        float acc = 0.0f;
        for (int c = 0; c < C; ++c) {
            sq[(long)r * C + c] = m[(long)r * C + c] * m[(long)r * C + c];
            acc += sq[(long)r * C + c];
        }
        norms[r] = acc;
    }
}

// Per-example statistics of linear. With d_b = dL/dy_b and the per-example
// gradient g_b = s * contribution_b (s from the loss):
//   weight: sum_b g_b^2 = s^2 (d^2)^T (x^2)       one extra GEMM, (out,N)(N,in)
//   bias:   sum_b g_b^2 = s^2 sum_b d_b^2
//   ||g_b||^2 = s^2 ||d_b||^2 (||x_b||^2 + 1)      (outer product; +1 from the bias)
// begin_linear_statistics checks and prepares (it may throw); linear_statistics
// then adds to grad_sq and the norms (it must not throw: it may run on a thread
// beside the plain gradient, see linear_backward).
void begin_linear_statistics(Tape& t, LinearSaved& s) {
    if (s.N != t.stats_batch())
        throw std::invalid_argument("statistics: linear sees " + std::to_string(s.N) +
                                    " rows but the loss has " + std::to_string(t.stats_batch()) +
                                    " examples; per-example statistics need one row per example");
    t.begin_param_stats(*s.weight, "linear");
    if (s.bias) t.begin_param_stats(*s.bias, "linear");
    s.dy2.resize(Shape{s.N, s.out});
    s.x2.resize(Shape{s.N, s.in});
    s.sqnorms.resize(Shape{2, s.N});
}

void linear_statistics(Tape& t, LinearSaved& s, const float* x, const float* dy) {
    const int N = s.N, in = s.in, out = s.out;
    const float sc = t.stats_scale();
    const float w = sc * sc / static_cast<float>(N);  // grad_sq averages over the batch
    float* dy2 = s.dy2.data();
    float* x2 = s.x2.data();
    float* dsq = s.sqnorms.data();  // ||d_b||^2, then ||x_b||^2
    float* xsq = dsq + N;
    square_rows(dy2, dsq, dy, N, out);
    square_rows(x2, xsq, x, N, in);
    sgemm(true, false, out, in, N, w, dy2, out, x2, in, 1.0f, s.weight->grad_sq.data(), in);
    if (s.bias) {
        float* gsq = s.bias->grad_sq.data();
        for (int r = 0; r < N; ++r)
            for (int o = 0; o < out; ++o) gsq[o] += w * dy2[(size_t)r * out + o];
    }
    float* norms = t.per_example_sqnorm();
    for (int r = 0; r < N; ++r) norms[r] += sc * sc * dsq[r] * (xsq[r] + (s.bias ? 1.0f : 0.0f));
}

// dx (N,in) += dy W;   dW (out,in) += dy^T x;   db (out) += sum_rows dy
// The plain gradient is two GEMMs, one after the other, each on every thread
// (OpenBLAS splits it). With statistics a third, (d^2)^T x^2, runs beside them on
// the other thread of a 2-thread pool. Running dx and dW side by side, one thread
// each, was faster on an AVX-512 Xeon but 13% slower for the whole mlp step on a
// 2-core AMD EPYC (docs/performance.md), so the plain pair no longer does.
void linear_backward(Tape& t, Node& n) {
    LinearSaved& s = n.saved<LinearSaved>();
    const int N = s.N, in = s.in, out = s.out;
    Parameter* W = s.weight;
    Parameter* b = s.bias;
    const float* x = t.node(n.in[0]).value->data();
    const float* dy = n.grad->data();
    bool assign = false;  // first write of dx: beta = 0 instead of zeroing it first
    float* dx = t.node(n.in[0]).needs_grad ? t.grad_write(n.in[0], assign).data() : nullptr;
    auto input_grad = [&] {
        if (dx) sgemm(false, false, N, in, out, 1.0f, dy, out, W->value.data(), in, assign ? 0.0f : 1.0f, dx, in);
    };
    auto param_grad = [&] {
        sgemm(true, false, out, in, N, 1.0f, dy, out, x, in, 1.0f, W->grad.data(), in);
        if (b) {
            float* db = b->grad.data();
            for (int r = 0; r < N; ++r)
                for (int o = 0; o < out; ++o) db[o] += dy[(long)r * out + o];
        }
    };
    if (!t.statistics()) {
        input_grad();
        param_grad();
        return;
    }
    begin_linear_statistics(t, s);
    auto plain = [&] {
        input_grad();
        param_grad();
    };
    fast::side_by_side(plain, [&] { linear_statistics(t, s, x, dy); });
}

}  // namespace

Var matmul(Tape& t, Var a, Var b) {
    const Shape& sa = t.shape(a);
    const Shape& sb = t.shape(b);
    if (sa.rank != 2 || sb.rank != 2 || sa[1] != sb[0])
        throw std::invalid_argument("matmul: shapes " + sa.str() + " and " + sb.str() +
                                    " do not fit; expected (M, K) and (K, N)");
    const int M = sa[0], K = sa[1], N = sb[1];
    Node& n = t.record("matmul", Shape{M, N}, {a, b}, matmul_backward);
    sgemm(false, false, M, N, K, 1.0f, t.value(a).data(), K, t.value(b).data(), N, 0.0f, n.out.data(), N);
    return Var{t.size() - 1};
}

Var linear(Tape& t, Var x, Parameter& weight, Parameter* bias) {
    const Shape& sx = t.shape(x);
    const Shape& sw = weight.value.shape();
    if (sw.rank != 2)
        throw std::invalid_argument("linear: weight '" + weight.name + "' has shape " + sw.str() +
                                    "; expected (out, in)");
    if (sx.rank != 2 || sx[1] != sw[1])
        throw std::invalid_argument("linear: input " + sx.str() + " has " +
                                    std::to_string(sx.rank == 2 ? sx[1] : -1) + " features, weight '" +
                                    weight.name + "' " + sw.str() + " expects " + std::to_string(sw[1]));
    if (bias && (bias->value.rank() != 1 || bias->value.dim(0) != sw[0]))
        throw std::invalid_argument("linear: bias '" + bias->name + "' has shape " +
                                    bias->value.shape().str() + "; expected (" + std::to_string(sw[0]) + ")");
    const int N = sx[0], in = sw[1], out = sw[0];
    Node& n = t.record("linear", Shape{N, out}, {x}, linear_backward, /*owns_params=*/true);
    LinearSaved& s = n.save<LinearSaved>();
    s.N = N;
    s.in = in;
    s.out = out;
    s.weight = &weight;
    s.bias = bias;
    weight.ensure_grad();
    if (bias) bias->ensure_grad();
    float* y = n.out.data();
    if (bias)
        for (int r = 0; r < N; ++r)
            for (int o = 0; o < out; ++o) y[(long)r * out + o] = bias->value[o];
    sgemm(false, true, N, out, in, 1.0f, t.value(x).data(), in, weight.value.data(), in, bias ? 1.0f : 0.0f, y, out);
    return Var{t.size() - 1};
}

}  // namespace dl
