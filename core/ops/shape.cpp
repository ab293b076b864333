// Reductions, reshapes and the broadcast bias add.
#include <algorithm>
#include <stdexcept>
#include <string>

#include "core/ops.h"

namespace dl {

namespace {

// ---- sum: y = sum_i x_i;  dx_i += dy ------------------------------------------
void sum_backward(Tape& t, Node& n) {
    const float dy = (*n.grad)[0];
    Tensor& dx = t.grad_acc(n.in[0]);
    for (size_t i = 0; i < dx.size(); ++i) dx[i] += dy;
}

// ---- reshape: same data, new shape;  dx += dy (same layout) --------------------
void reshape_backward(Tape& t, Node& n) {
    bool assign;
    Tensor& dx = t.grad_write(n.in[0], assign);
    const float* dy = n.grad->data();
    if (assign) std::copy(dy, dy + dx.size(), dx.data());
    else
        for (size_t i = 0; i < dx.size(); ++i) dx[i] += dy[i];
}

// ---- add_bias: y (R,M) = x (R,M) + bias (M) --------------------------------------
void add_bias_backward(Tape& t, Node& n) {
    const int R = n.value->dim(0), M = n.value->dim(1);
    const float* dy = n.grad->data();
    if (t.node(n.in[0]).needs_grad) {
        float* dx = t.grad_acc(n.in[0]).data();
        for (long i = 0; i < (long)R * M; ++i) dx[i] += dy[i];
    }
    if (t.node(n.in[1]).needs_grad) {
        float* db = t.grad_acc(n.in[1]).data();
        for (int r = 0; r < R; ++r)
            for (int m = 0; m < M; ++m) db[m] += dy[(long)r * M + m];
    }
}

}  // namespace

Var sum(Tape& t, Var x) {
    Node& n = t.record("sum", Shape{}, {x}, sum_backward);
    n.mixes_examples = true;
    double acc = 0.0;
    const Tensor& v = t.value(x);
    for (size_t i = 0; i < v.size(); ++i) acc += v[i];
    n.out[0] = static_cast<float>(acc);
    return Var{t.size() - 1};
}

Var mean(Tape& t, Var x) {
    const size_t count = t.value(x).size();
    if (count == 0) throw std::invalid_argument("mean: input " + t.shape(x).str() + " is empty");
    return mul(t, sum(t, x), 1.0f / static_cast<float>(count));
}

Var reshape(Tape& t, Var x, const Shape& shape) {
    if (shape.numel() != t.value(x).size())
        throw std::invalid_argument("reshape: cannot view " + t.shape(x).str() + " as " + shape.str() +
                                    " (" + std::to_string(t.value(x).size()) + " vs " +
                                    std::to_string(shape.numel()) + " elements)");
    Node& n = t.record("reshape", shape, {x}, reshape_backward);
    const Tensor& v = t.value(x);
    std::copy(v.data(), v.data() + v.size(), n.out.data());
    return Var{t.size() - 1};
}

Var flatten(Tape& t, Var x) {
    const Shape& s = t.shape(x);
    if (s.rank < 1) throw std::invalid_argument("flatten: input is a scalar; expected (N, ...)");
    const int rest = s[0] == 0 ? 0 : static_cast<int>(s.numel() / s[0]);
    return reshape(t, x, Shape{s[0], rest});
}

Var add_bias(Tape& t, Var x, Var bias) {
    const Shape& s = t.shape(x);
    const Shape& b = t.shape(bias);
    if (s.rank != 2 || b.rank != 1 || b[0] != s[1])
        throw std::invalid_argument("add_bias: input " + s.str() + " and bias " + b.str() +
                                    " do not fit; expected (R, M) and (M)");
    Node& n = t.record("add_bias", s, {x, bias}, add_bias_backward);
    const int R = s[0], M = s[1];
    const float* xv = t.value(x).data();
    const float* bv = t.value(bias).data();
    float* y = n.out.data();
    for (int r = 0; r < R; ++r)
        for (int m = 0; m < M; ++m) y[(long)r * M + m] = xv[(long)r * M + m] + bv[m];
    return Var{t.size() - 1};
}

}  // namespace dl
