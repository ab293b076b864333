// Elementwise ops: forward and backward side by side.
#include <cmath>
#include <stdexcept>
#include <string>

#include "core/ops.h"
#include "core/parallel.h"

namespace dl {

namespace {

void check_same_shape(const Tape& t, const char* op, Var a, Var b) {
    if (t.shape(a) != t.shape(b))
        throw std::invalid_argument(std::string(op) + ": shapes " + t.shape(a).str() + " and " +
                                    t.shape(b).str() + " differ");
}

// ---- add -----------------------------------------------------------------
void add_backward(Tape& t, Node& n) {
    const float* dy = n.grad->data();
    const long size = static_cast<long>(n.grad->size());
    for (int k = 0; k < 2; ++k) {
        if (!t.node(n.in[k]).needs_grad) continue;
        float* dx = t.grad_acc(n.in[k]).data();
#pragma omp parallel for schedule(static) if (size >= (long)kParallelMin)
        for (long i = 0; i < size; ++i) dx[i] += dy[i];
    }
}

// ---- mul -----------------------------------------------------------------
void mul_backward(Tape& t, Node& n) {
    const float* dy = n.grad->data();
    const long size = static_cast<long>(n.grad->size());
    for (int k = 0; k < 2; ++k) {
        if (!t.node(n.in[k]).needs_grad) continue;
        const float* other = t.node(n.in[1 - k]).value->data();
        float* dx = t.grad_acc(n.in[k]).data();
#pragma omp parallel for schedule(static) if (size >= (long)kParallelMin)
        for (long i = 0; i < size; ++i) dx[i] += dy[i] * other[i];
    }
}

// ---- scale and shift by a constant ----------------------------------------
void scale_backward(Tape& t, Node& n) {  // farg[0] = s
    const float s = n.farg[0];
    const float* dy = n.grad->data();
    float* dx = t.grad_acc(n.in[0]).data();
    const long size = static_cast<long>(n.grad->size());
#pragma omp parallel for schedule(static) if (size >= (long)kParallelMin)
    for (long i = 0; i < size; ++i) dx[i] += s * dy[i];
}

// ---- unary ops: y = f(x), dx += dy * f'(x, y) ------------------------------
// Each op is a pair of small functions; the templates below do the loops.
struct Relu {
    static float f(float x, float) { return x > 0.0f ? x : 0.0f; }
    static float df(float x, float, float) { return x > 0.0f ? 1.0f : 0.0f; }
};
struct LeakyRelu {  // p = slope
    static float f(float x, float p) { return x > 0.0f ? x : p * x; }
    static float df(float x, float, float p) { return x > 0.0f ? 1.0f : p; }
};
struct Tanh {
    static float f(float x, float) { return std::tanh(x); }
    static float df(float, float y, float) { return 1.0f - y * y; }
};
struct Sigmoid {
    static float f(float x, float) { return 1.0f / (1.0f + std::exp(-x)); }
    static float df(float, float y, float) { return y * (1.0f - y); }
};
struct Exp {
    static float f(float x, float) { return std::exp(x); }
    static float df(float, float y, float) { return y; }
};
struct Log {
    static float f(float x, float) { return std::log(x); }
    static float df(float x, float, float) { return 1.0f / x; }
};

template <class Op>
void unary_backward(Tape& t, Node& n) {
    const float p = n.farg[0];
    const float* x = t.node(n.in[0]).value->data();
    const float* y = n.value->data();
    const float* dy = n.grad->data();
    bool assign;
    float* dx = t.grad_write(n.in[0], assign).data();
    const long size = static_cast<long>(n.value->size());
    if (assign) {
#pragma omp parallel for schedule(static) if (size >= (long)kParallelMin)
        for (long i = 0; i < size; ++i) dx[i] = dy[i] * Op::df(x[i], y[i], p);
    } else {
#pragma omp parallel for schedule(static) if (size >= (long)kParallelMin)
        for (long i = 0; i < size; ++i) dx[i] += dy[i] * Op::df(x[i], y[i], p);
    }
}

template <class Op>
Var unary(Tape& t, Var xv, const char* name, float p = 0.0f) {
    Node& n = t.record(name, t.shape(xv), {xv}, unary_backward<Op>);
    n.farg[0] = p;
    const float* x = t.node(xv).value->data();
    float* y = n.out.data();
    const long size = static_cast<long>(n.out.size());
#pragma omp parallel for schedule(static) if (size >= (long)kParallelMin)
    for (long i = 0; i < size; ++i) y[i] = Op::f(x[i], p);
    return Var{t.size() - 1};
}

}  // namespace

Var add(Tape& t, Var a, Var b) {
    check_same_shape(t, "add", a, b);
    Node& n = t.record("add", t.shape(a), {a, b}, add_backward);
    const float* x = t.value(a).data();
    const float* y = t.value(b).data();
    float* z = n.out.data();
    const long size = static_cast<long>(n.out.size());
#pragma omp parallel for schedule(static) if (size >= (long)kParallelMin)
    for (long i = 0; i < size; ++i) z[i] = x[i] + y[i];
    return Var{t.size() - 1};
}

Var sub(Tape& t, Var a, Var b) {
    check_same_shape(t, "sub", a, b);
    return add(t, a, mul(t, b, -1.0f));
}

Var mul(Tape& t, Var a, Var b) {
    check_same_shape(t, "mul", a, b);
    Node& n = t.record("mul", t.shape(a), {a, b}, mul_backward);
    const float* x = t.value(a).data();
    const float* y = t.value(b).data();
    float* z = n.out.data();
    const long size = static_cast<long>(n.out.size());
#pragma omp parallel for schedule(static) if (size >= (long)kParallelMin)
    for (long i = 0; i < size; ++i) z[i] = x[i] * y[i];
    return Var{t.size() - 1};
}

Var mul(Tape& t, Var a, float s) {
    Node& n = t.record("mul_scalar", t.shape(a), {a}, scale_backward);
    n.farg[0] = s;
    const float* x = t.value(a).data();
    float* z = n.out.data();
    for (size_t i = 0; i < n.out.size(); ++i) z[i] = s * x[i];
    return Var{t.size() - 1};
}

Var add(Tape& t, Var a, float s) {
    Node& n = t.record("add_scalar", t.shape(a), {a}, scale_backward);
    n.farg[0] = 1.0f;  // d(a + s)/da = 1
    const float* x = t.value(a).data();
    float* z = n.out.data();
    for (size_t i = 0; i < n.out.size(); ++i) z[i] = x[i] + s;
    return Var{t.size() - 1};
}

Var relu(Tape& t, Var x) { return unary<Relu>(t, x, "relu"); }
Var leaky_relu(Tape& t, Var x, float slope) { return unary<LeakyRelu>(t, x, "leaky_relu", slope); }
Var tanh(Tape& t, Var x) { return unary<Tanh>(t, x, "tanh"); }
Var sigmoid(Tape& t, Var x) { return unary<Sigmoid>(t, x, "sigmoid"); }
Var exp(Tape& t, Var x) { return unary<Exp>(t, x, "exp"); }
Var log(Tape& t, Var x) { return unary<Log>(t, x, "log"); }

}  // namespace dl
