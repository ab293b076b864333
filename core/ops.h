// Differentiable ops. Each takes the tape first, records one node (or, for a
// composite op, a few primitive ones) and returns the output variable.
// Forward and backward of each op sit side by side in the files of core/ops/
// (the reference floor); core/fast/ holds the fast kernels they hand over to.
#pragma once
#include <vector>

#include "core/parameter.h"
#include "core/tape.h"

namespace dl {

// How a loss combines the per-example losses l_b of a batch of B examples.
enum class Reduction { Mean, Sum };

// Elementwise, same shapes (core/ops/elementwise.cpp).
Var add(Tape& t, Var a, Var b);
Var sub(Tape& t, Var a, Var b);          // composite: a + (-1) b
Var mul(Tape& t, Var a, Var b);
Var mul(Tape& t, Var a, float s);        // a * s
Var add(Tape& t, Var a, float s);        // a + s
Var relu(Tape& t, Var x);
Var leaky_relu(Tape& t, Var x, float slope = 0.01f);
Var tanh(Tape& t, Var x);
Var sigmoid(Tape& t, Var x);
Var exp(Tape& t, Var x);
Var log(Tape& t, Var x);

// Shapes and reductions (core/ops/shape.cpp).
Var sum(Tape& t, Var x);                 // all elements -> scalar
Var mean(Tape& t, Var x);                // composite: sum(x) / numel
Var reshape(Tape& t, Var x, const Shape& shape);
Var flatten(Tape& t, Var x);             // (N, ...) -> (N, rest)
Var add_bias(Tape& t, Var x, Var bias);  // x (R, M) + bias (M) on every row

// Matrix products (core/ops/matmul.cpp).
Var matmul(Tape& t, Var a, Var b);       // a (M,K) @ b (K,N) -> (M,N)
// y = x W^T + b: x (N, in), weight (out, in), bias (out) or nullptr.
// Computes per-example statistics for weight and bias when the tape asks.
Var linear(Tape& t, Var x, Parameter& weight, Parameter* bias);

// Softmax and losses (core/ops/loss.cpp).
Var log_softmax(Tape& t, Var x);         // over the last dimension of x (N, C)
// Fused, numerically stable -log softmax(logits)[label]: logits (N, C), labels in [0, C).
Var softmax_cross_entropy(Tape& t, Var logits, const std::vector<int>& labels,
                          Reduction r = Reduction::Mean);
// Squared error: Mean divides the sum of squares by the element count (like PyTorch).
Var mse_loss(Tape& t, Var pred, Var target, Reduction r = Reduction::Mean);

}  // namespace dl
