// Central-difference gradient checks, shared by the test files.
//
// The function under test maps tape inputs (and parameters) to some output;
// the check reduces the output to a scalar with fixed random weights R,
// L = sum(out * R), so every output element matters, then compares
// dL/dx from backward with (L(x + e) - L(x - e)) / 2e for every element.
// A point where the difference quotient changes with e (a kink: relu at 0,
// a max-pool tie) is skipped, as ggml's test-backend-ops does; the check fails
// if more than a tenth of the points are skipped.
#pragma once
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "core/core.h"
#include "core/fast/fast.h"
#include "core/fast/winograd_hwy.h"

namespace dl::testing {

inline Tensor random_tensor(const Shape& s, unsigned seed, float lo = -1.0f, float hi = 1.0f) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(lo, hi);
    Tensor t(s);
    for (size_t i = 0; i < t.size(); ++i) t[i] = u(rng);
    return t;
}

using Forward = std::function<Var(Tape&, const std::vector<Var>&)>;

struct GradCheckOptions {
    double eps = 1e-2;   // step of the central difference
    double tol = 2e-2;   // |analytic - numeric| <= tol * (|numeric| + scale)
    double scale = 1e-1; // absolute part of the tolerance, relative to max |numeric|
};

// L = sum(f(inputs) * R) with fixed random R, evaluated in double-checked float.
inline double reduced_loss(const Forward& f, const std::vector<Tensor>& inputs, const Tensor* weights,
                           Tensor* out_weights = nullptr) {
    Tape tape;
    NoGrad ng(tape);
    std::vector<Var> vars;
    for (const Tensor& x : inputs) vars.push_back(tape.input(x));
    const Tensor& y = tape.value(f(tape, vars));
    if (out_weights) *out_weights = random_tensor(y.shape(), 4242);
    const Tensor& r = weights ? *weights : *out_weights;
    double acc = 0.0;
    for (size_t i = 0; i < y.size(); ++i) acc += static_cast<double>(y[i]) * r[i];
    return acc;
}

// Checks d/d(inputs) and d/d(params) of f. `what` names the case in messages.
inline void check_gradients(const std::string& what, const Forward& f, std::vector<Tensor> inputs,
                            const std::vector<Parameter*>& params = {}, GradCheckOptions o = {}) {
    Tensor R;
    reduced_loss(f, inputs, nullptr, &R);
    // Analytic gradients from one backward pass.
    std::vector<Tensor> analytic_in;
    std::vector<Tensor> analytic_p;
    {
        Tape tape;
        for (Parameter* p : params) p->zero_grad();
        std::vector<Var> vars;
        for (const Tensor& x : inputs) vars.push_back(tape.input(x, /*requires_grad=*/true));
        Var y = f(tape, vars);
        Var loss = sum(tape, mul(tape, y, tape.input(R)));
        tape.backward(loss);
        for (Var v : vars) analytic_in.push_back(tape.grad(v));
        for (Parameter* p : params) analytic_p.push_back(p->grad);
    }
    // Numeric gradient of one element, skipping kinks.
    int checked = 0, skipped = 0;
    auto compare = [&](float* x, float analytic, const std::string& where) {
        const float keep = *x;
        auto diff = [&](double e) {
            *x = keep + static_cast<float>(e);
            double lp = reduced_loss(f, inputs, &R);
            *x = keep - static_cast<float>(e);
            double lm = reduced_loss(f, inputs, &R);
            *x = keep;
            return (lp - lm) / (2.0 * e);
        };
        const double n1 = diff(o.eps), n2 = diff(o.eps / 2);
        if (std::fabs(n1 - n2) > o.tol * (std::fabs(n2) + o.scale)) { ++skipped; return; }
        ++checked;
        INFO(what << ": " << where << " analytic " << analytic << " numeric " << n2);
        CHECK(std::fabs(analytic - n2) <= o.tol * (std::fabs(n2) + o.scale));
    };
    for (size_t k = 0; k < inputs.size(); ++k)
        for (size_t i = 0; i < inputs[k].size(); ++i)
            compare(&inputs[k][i], analytic_in[k][i], "input " + std::to_string(k) + "[" + std::to_string(i) + "]");
    for (size_t k = 0; k < params.size(); ++k)
        for (size_t i = 0; i < params[k]->value.size(); ++i)
            compare(&params[k]->value[i], analytic_p[k][i], "param " + params[k]->name + "[" + std::to_string(i) + "]");
    INFO(what << ": " << skipped << " kink points skipped of " << (checked + skipped));
    CHECK(checked > 0);
    CHECK(skipped * 10 <= checked + skipped);
}

// ---- the fast floor against the reference floor ------------------------------------------

// What one floor computed: f's output, the gradients of the inputs and parameters,
// and with statistics grad_sq and the per-example norms.
struct FloorRun {
    std::vector<std::pair<std::string, Tensor>> tensors;
    std::vector<float> norms;
};

// Records f on a fresh tape and runs backward from a per-example loss: softmax
// cross-entropy of 0.1 times f's output flattened per example (labels b % classes;
// scaled down so that the rounding differences of the two floors' forwards barely
// move the softmax), or with `sum_loss` sum(out * R) with fixed random R.
inline FloorRun run_floor(const Forward& f, const std::vector<Tensor>& inputs, const std::vector<Parameter*>& params,
                          bool stats, bool sum_loss) {
    for (Parameter* p : params) {
        p->zero_grad();
        p->grad_sq = Tensor();
        p->stats_batch = 0;
    }
    Tape tape;
    tape.set_statistics(stats);
    std::vector<Var> vars;
    for (const Tensor& x : inputs) vars.push_back(tape.input(x, /*requires_grad=*/true));
    Var y = f(tape, vars);
    Var loss;
    if (sum_loss) {
        loss = sum(tape, mul(tape, y, tape.input(random_tensor(tape.shape(y), 4343))));
    } else {
        Var logits = mul(tape, flatten(tape, y), 0.1f);
        std::vector<int> labels(tape.shape(logits)[0]);
        for (size_t b = 0; b < labels.size(); ++b) labels[b] = (int)(b % tape.shape(logits)[1]);
        loss = softmax_cross_entropy(tape, logits, labels);
    }
    tape.backward(loss);
    FloorRun run;
    run.tensors.emplace_back("output", tape.value(y));
    for (size_t k = 0; k < vars.size(); ++k) run.tensors.emplace_back("d input " + std::to_string(k), tape.grad(vars[k]));
    for (Parameter* p : params) {
        run.tensors.emplace_back("d " + p->name, p->grad);
        if (stats) run.tensors.emplace_back("grad_sq " + p->name, p->grad_sq);
    }
    if (stats) run.norms = tape.per_example_grad_norms();
    return run;
}

// compare_floors' tolerance for a convolution of geometry g: Winograd's method (the fast
// floor's 5x5 and 3x3 layers, core/fast/winograd_hwy.h) rounds relative to the largest values of a
// tile, up to about 1e-5 of the output's scale, not of each element.
inline double conv_floor_tolerance(const ConvGeom& g) { return fast::conv_winograd(g) ? 2e-3 : 1e-4; }

// f on the fast floor against f on the reference floor (fast::ReferenceOnly): the
// output, every gradient and with `stats` the per-example statistics agree within
// `tol` relative to (|reference| + 1e-3 max|reference|), or bit for bit with tol = 0.
inline void compare_floors(const std::string& what, const Forward& f, const std::vector<Tensor>& inputs,
                           const std::vector<Parameter*>& params = {}, bool stats = false, double tol = 1e-4,
                           bool sum_loss = false) {
    const FloorRun fast_run = run_floor(f, inputs, params, stats, sum_loss);
    FloorRun ref;
    {
        fast::ReferenceOnly reference;
        ref = run_floor(f, inputs, params, stats, sum_loss);
    }
    REQUIRE(fast_run.tensors.size() == ref.tensors.size());
    auto close = [&](const float* a, const float* b, size_t n, const std::string& name) {
        double largest = 0.0;
        for (size_t i = 0; i < n; ++i) largest = std::max(largest, (double)std::fabs(b[i]));
        size_t bad = 0, first = n;
        for (size_t i = 0; i < n; ++i) {
            const bool same = a[i] == b[i] || (std::isnan(a[i]) && std::isnan(b[i]));
            if (!same && !(std::fabs(a[i] - b[i]) <= tol * (std::fabs(b[i]) + 1e-2 * largest))) {
                if (bad++ == 0) first = i;
            }
        }
        INFO(what << ": " << name << ": " << bad << " of " << n << " differ, first at " << first << ": fast "
                  << (bad ? a[first] : 0.0f) << " reference " << (bad ? b[first] : 0.0f));
        CHECK(bad == 0);
    };
    for (size_t k = 0; k < ref.tensors.size(); ++k) {
        const Tensor& a = fast_run.tensors[k].second;
        const Tensor& b = ref.tensors[k].second;
        INFO(what << ": " << ref.tensors[k].first);
        REQUIRE(a.shape() == b.shape());
        close(a.data(), b.data(), b.size(), ref.tensors[k].first);
    }
    REQUIRE(fast_run.norms.size() == ref.norms.size());
    close(fast_run.norms.data(), ref.norms.data(), ref.norms.size(), "per-example norms");
}

}  // namespace dl::testing
