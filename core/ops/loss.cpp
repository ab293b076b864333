// log_softmax and the losses. Losses mark their node as a per-example loss with
// its batch size and scale, so that per-example statistics of a backward pass from
// it are scaled right for mean and sum reductions.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "core/ops.h"

namespace dl {

namespace {

void check_rows(const Tape& t, const char* op, Var x) {
    if (t.shape(x).rank != 2 || t.shape(x)[1] == 0)
        throw std::invalid_argument(std::string(op) + ": input " + t.shape(x).str() +
                                    " must be (N, C) with C > 0");
}

// Writes log softmax of one row of C logits: y_c = x_c - max - log sum exp(x - max).
void log_softmax_row(const float* x, int C, float* y) {
    float m = x[0];
    for (int c = 1; c < C; ++c) m = std::max(m, x[c]);
    double z = 0.0;
    for (int c = 0; c < C; ++c) z += std::exp(static_cast<double>(x[c] - m));
    const float lz = m + static_cast<float>(std::log(z));
    for (int c = 0; c < C; ++c) y[c] = x[c] - lz;
}

// Marks n as a per-example loss over N examples (see Node::loss_scale): the
// per-example gradient is B times example b's contribution for a mean, 1 times for a sum.
void mark_loss(Node& n, int N, Reduction r) {
    n.is_loss = true;
    n.loss_examples = N;
    n.loss_scale = r == Reduction::Mean ? static_cast<float>(N) : 1.0f;
}

// A loss whose value is NaN/Inf: find and name the op that first produced one.
void check_loss_finite(const Tape& t, const Node& n) {
    if (std::isfinite(n.out[0])) return;
    t.check_finite();  // throws naming an earlier op if one produced NaN/Inf
    throw std::runtime_error(std::string("non-finite value (") + std::to_string(n.out[0]) +
                             ") first produced by op '" + n.op + "'");
}

// ---- log_softmax: y (N,C);  dx = dy - softmax(x) * sum_c dy --------------------------
void log_softmax_backward(Tape& t, Node& n) {
    const int N = n.value->dim(0), C = n.value->dim(1);
    const float* y = n.value->data();
    const float* dy = n.grad->data();
    float* dx = t.grad_acc(n.in[0]).data();
    for (int r = 0; r < N; ++r) {
        float s = 0.0f;
        for (int c = 0; c < C; ++c) s += dy[(long)r * C + c];
        for (int c = 0; c < C; ++c) dx[(long)r * C + c] += dy[(long)r * C + c] - std::exp(y[(long)r * C + c]) * s;
    }
}

// ---- softmax cross-entropy: L = w sum_b -log p_b[label_b], w = 1/N or 1 ---------------
// dlogits_b = w (p_b - onehot(label_b)) dL
struct CrossEntropySaved {
    int N, C;
    float weight;              // w
    Tensor probs;              // p (N,C)
    std::vector<int> labels;   // (N)
};

void cross_entropy_backward(Tape& t, Node& n) {
    const CrossEntropySaved& s = n.saved<CrossEntropySaved>();
    const int N = s.N, C = s.C;
    const float scale = s.weight * (*n.grad)[0];
    const float* p = s.probs.data();
    float* dx = t.grad_acc(n.in[0]).data();
    for (int r = 0; r < N; ++r) {
        for (int c = 0; c < C; ++c) dx[(long)r * C + c] += scale * p[(long)r * C + c];
        dx[(long)r * C + s.labels[r]] -= scale;
    }
}

// ---- mse: L = w sum_i (p_i - y_i)^2, w = 1/numel or 1;  dp = 2 w (p - y) dL = -dy -----
struct MseSaved {
    float weight;  // w
};

void mse_backward(Tape& t, Node& n) {
    const float scale = 2.0f * n.saved<MseSaved>().weight * (*n.grad)[0];
    const Tensor& p = *t.node(n.in[0]).value;
    const Tensor& y = *t.node(n.in[1]).value;
    for (int k = 0; k < 2; ++k) {
        if (!t.node(n.in[k]).needs_grad) continue;
        const float sign = k == 0 ? 1.0f : -1.0f;
        float* d = t.grad_acc(n.in[k]).data();
        for (size_t i = 0; i < p.size(); ++i) d[i] += sign * scale * (p[i] - y[i]);
    }
}

}  // namespace

Var log_softmax(Tape& t, Var x) {
    check_rows(t, "log_softmax", x);
    const int N = t.shape(x)[0], C = t.shape(x)[1];
    Node& n = t.record("log_softmax", t.shape(x), {x}, log_softmax_backward);
    for (int r = 0; r < N; ++r) log_softmax_row(t.value(x).data() + (long)r * C, C, n.out.data() + (long)r * C);
    return Var{t.size() - 1};
}

Var softmax_cross_entropy(Tape& t, Var logits, const std::vector<int>& labels, Reduction r) {
    check_rows(t, "softmax_cross_entropy", logits);
    const int N = t.shape(logits)[0], C = t.shape(logits)[1];
    if (static_cast<int>(labels.size()) != N)
        throw std::invalid_argument("softmax_cross_entropy: " + std::to_string(labels.size()) +
                                    " labels for " + std::to_string(N) + " rows of logits " +
                                    t.shape(logits).str());
    for (int i = 0; i < N; ++i)
        if (labels[i] < 0 || labels[i] >= C)
            throw std::invalid_argument("softmax_cross_entropy: label " + std::to_string(labels[i]) +
                                        " at index " + std::to_string(i) + " is outside [0, " +
                                        std::to_string(C) + ")");
    Node& n = t.record("softmax_cross_entropy", Shape{}, {logits}, cross_entropy_backward);
    mark_loss(n, N, r);
    CrossEntropySaved& s = n.save<CrossEntropySaved>();
    s.N = N;
    s.C = C;
    s.weight = r == Reduction::Mean ? 1.0f / static_cast<float>(N) : 1.0f;
    s.labels.assign(labels.begin(), labels.end());
    s.probs.resize(Shape{N, C});
    double total = 0.0;
    for (int i = 0; i < N; ++i) {
        float* p = s.probs.data() + (long)i * C;
        log_softmax_row(t.value(logits).data() + (long)i * C, C, p);
        total -= p[labels[i]];
        for (int c = 0; c < C; ++c) p[c] = std::exp(p[c]);
    }
    n.out[0] = static_cast<float>(total * s.weight);
    check_loss_finite(t, n);
    return Var{t.size() - 1};
}

Var mse_loss(Tape& t, Var pred, Var target, Reduction r) {
    if (t.shape(pred) != t.shape(target))
        throw std::invalid_argument("mse_loss: prediction " + t.shape(pred).str() + " and target " +
                                    t.shape(target).str() + " differ");
    if (t.shape(pred).rank < 1 || t.value(pred).size() == 0)
        throw std::invalid_argument("mse_loss: prediction " + t.shape(pred).str() +
                                    " must be (N, ...) and not empty");
    const int N = t.shape(pred)[0];
    Node& n = t.record("mse_loss", Shape{}, {pred, target}, mse_backward);
    const Tensor& p = t.value(pred);
    const Tensor& y = t.value(target);
    const float w = r == Reduction::Mean ? 1.0f / static_cast<float>(p.size()) : 1.0f;
    n.save<MseSaved>().weight = w;
    mark_loss(n, N, r);
    double total = 0.0;
    for (size_t i = 0; i < p.size(); ++i) total += static_cast<double>(p[i] - y[i]) * (p[i] - y[i]);
    n.out[0] = static_cast<float>(total * w);
    check_loss_finite(t, n);
    return Var{t.size() - 1};
}

}  // namespace dl
