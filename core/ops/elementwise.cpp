// Elementwise ops: forward and backward side by side.
//
// Every loop here is over independent elements; fast::parallel_for splits a
// large one over the threads (the same numbers either way) and runs a small one
// as it is.
#include <cmath>
#include <stdexcept>
#include <string>

#include "core/fast/parallel.h"
#include "core/ops.h"

namespace dl {

namespace {

void check_same_shape(const Tape& t, const char* op, Var a, Var b) {
    if (t.shape(a) != t.shape(b))
        throw std::invalid_argument(std::string(op) + ": shapes " + t.shape(a).str() + " and " +
                                    t.shape(b).str() + " differ");
}

// for (i in [0, n)) body(i), in parallel when large
template <class F>
void each(long n, F body) {
    fast::parallel_for(n, n, [&](long first, long last) {
        for (long i = first; i < last; ++i) body(i);
    });
}

// ---- add: z = x + y;  dx += dz, dy += dz --------------------------------------
void add_backward(Tape& t, Node& n) {
    const float* dz = n.grad->data();
    for (int k = 0; k < 2; ++k) {
        if (!t.node(n.in[k]).needs_grad) continue;
        float* dx = t.grad_acc(n.in[k]).data();
        each((long)n.grad->size(), [&](long i) { dx[i] += dz[i]; });
    }
}

// ---- mul: z = x * y;  dx += dz * y, dy += dz * x ------------------------------
void mul_backward(Tape& t, Node& n) {
    const float* dz = n.grad->data();
    for (int k = 0; k < 2; ++k) {
        if (!t.node(n.in[k]).needs_grad) continue;
        const float* other = t.node(n.in[1 - k]).value->data();
        float* dx = t.grad_acc(n.in[k]).data();
        each((long)n.grad->size(), [&](long i) { dx[i] += dz[i] * other[i]; });
    }
}

// ---- scale and shift by a constant: z = s x (+ c);  dx += s dz -----------------
struct ScaleSaved {
    float s;  // dz/dx
};

void scale_backward(Tape& t, Node& n) {
    const float s = n.saved<ScaleSaved>().s;
    const float* dz = n.grad->data();
    float* dx = t.grad_acc(n.in[0]).data();
    each((long)n.grad->size(), [&](long i) { dx[i] += s * dz[i]; });
}

// ---- unary ops: y = f(x), dx += dy * f'(x, y) ------------------------------
// Each op is a pair of small functions; the templates below do the loops.
// p is the op's parameter (leaky_relu's slope). NaN in, NaN out, as IEEE arithmetic
// gives for the others: relu(NaN) is NaN (written x <= 0 ? 0 : x, not x > 0 ? x : 0).
struct Relu {
    static float f(float x, float) { return x <= 0.0f ? 0.0f : x; }
    static float df(float x, float, float) { return x <= 0.0f ? 0.0f : 1.0f; }
};
struct LeakyRelu {
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

struct UnarySaved {
    float p;
};

template <class Op>
void unary_backward(Tape& t, Node& n) {
    const float p = n.saved<UnarySaved>().p;
    const float* x = t.node(n.in[0]).value->data();
    const float* y = n.value->data();
    const float* dy = n.grad->data();
    bool assign;  // the first write of dx: assign instead of zeroing it first and adding
    float* dx = t.grad_write(n.in[0], assign).data();
    const long size = (long)n.value->size();
    if (assign) each(size, [&](long i) { dx[i] = dy[i] * Op::df(x[i], y[i], p); });
    else each(size, [&](long i) { dx[i] += dy[i] * Op::df(x[i], y[i], p); });
}

template <class Op>
Var unary(Tape& t, Var xv, const char* name, float p = 0.0f) {
    Node& n = t.record(name, t.shape(xv), {xv}, unary_backward<Op>);
    n.save<UnarySaved>().p = p;
    const float* x = t.node(xv).value->data();
    float* y = n.out.data();
    each((long)n.out.size(), [&](long i) { y[i] = Op::f(x[i], p); });
    return Var{t.size() - 1};
}

}  // namespace

Var add(Tape& t, Var a, Var b) {
    check_same_shape(t, "add", a, b);
    Node& n = t.record("add", t.shape(a), {a, b}, add_backward);
    const float* x = t.value(a).data();
    const float* y = t.value(b).data();
    float* z = n.out.data();
    each((long)n.out.size(), [&](long i) { z[i] = x[i] + y[i]; });
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
    each((long)n.out.size(), [&](long i) { z[i] = x[i] * y[i]; });
    return Var{t.size() - 1};
}

Var mul(Tape& t, Var a, float s) {
    Node& n = t.record("mul_scalar", t.shape(a), {a}, scale_backward);
    n.save<ScaleSaved>().s = s;
    const float* x = t.value(a).data();
    float* z = n.out.data();
    for (size_t i = 0; i < n.out.size(); ++i) z[i] = s * x[i];
    return Var{t.size() - 1};
}

Var add(Tape& t, Var a, float s) {
    Node& n = t.record("add_scalar", t.shape(a), {a}, scale_backward);
    n.save<ScaleSaved>().s = 1.0f;  // d(a + s)/da = 1
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
