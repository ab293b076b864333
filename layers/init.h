// Initialisers: how a layer's weight or bias gets its first values, always from a
// seeded generator, so that the same seed gives the same model.
//
//   name in a spec     Init                      values
//   default            Init::pytorch_default()   U(-1/sqrt(fan_in), 1/sqrt(fan_in))
//   zeros              Init::zeros()             0
//   const V            Init::constant(V)         V
//   normal STD         Init::normal(STD)         N(0, STD^2)
//   truncnormal STD    Init::truncated_normal(STD)  N(0, STD^2), redrawn while |x| > 2 STD
//   uniform A          Init::uniform(A)          U(-A, A)
//
// PyTorch's default for Linear and Conv2d is kaiming_uniform_(a = sqrt(5)): the bound
// is gain * sqrt(3 / fan_in) with gain = sqrt(2 / (1 + a^2)) = sqrt(1/3), i.e.
// U(-1/sqrt(fan_in), 1/sqrt(fan_in)); the bias uses the same bound. fan_in is the
// number of inputs of one output (Linear: in; Conv2d: C * k * k).
// The truncated normal is TensorFlow's truncated_normal_initializer (and what
// DeepOBS's PyTorch port draws with scipy's truncnorm(-2, 2)): cut at 2 std.
//
// On a layer or a whole model, by role (every Linear and Conv2d inside; the
// gamma and beta of norm layers keep 1 and 0):
//
//   initialize(model, Role::Weight, Init::truncated_normal(0.05f), rng);
//   initialize(model, Role::Bias, Init::constant(0.05f), rng);
#pragma once
#include <cmath>
#include <random>
#include <string>

#include "core/tensor.h"

namespace dl {

class Module;

struct Init {
    enum class Kind { PyTorchDefault, Zeros, Constant, Normal, TruncatedNormal, Uniform };
    Kind kind = Kind::PyTorchDefault;
    float value = 0.0f;  // the constant, the standard deviation, or the bound

    static Init pytorch_default() { return {Kind::PyTorchDefault, 0.0f}; }
    static Init zeros() { return {Kind::Zeros, 0.0f}; }
    static Init constant(float v) { return checked({Kind::Constant, v}); }
    static Init normal(float std) { return checked({Kind::Normal, std}); }
    static Init truncated_normal(float std) { return checked({Kind::TruncatedNormal, std}); }
    static Init uniform(float bound) { return checked({Kind::Uniform, bound}); }

    // As written in a model spec: "truncnormal 0.05", "default", ...
    std::string str() const;
    bool operator==(const Init& o) const { return kind == o.kind && value == o.value; }

    // Throws std::invalid_argument for a value the kind cannot take (a std <= 0, ...).
    static Init checked(Init init);
};

// Which parameter of a layer: its weight (Linear (out, in), Conv2d (OC, C, k, k)) or its bias.
enum class Role { Weight, Bias };

// Fills t as `how` says; fan_in is used by the PyTorch default only.
void init_tensor(Tensor& t, const Init& how, int fan_in, std::mt19937& rng);

// Draws the weight or bias of every Linear and Conv2d in `model` (the model itself,
// or its layers if it is a Sequential, fused ones included), in order, from rng.
// Throws for a Linear that has not yet learnt its input size (run one example
// through the model first).
void initialize(Module& model, Role role, const Init& how, std::mt19937& rng);

// The PyTorch default's draw, used by the layers' constructors.
inline void uniform_init(Tensor& t, float bound, std::mt19937& rng) {
    std::uniform_real_distribution<float> u(-bound, bound);
    for (size_t i = 0; i < t.size(); ++i) t[i] = u(rng);
}

inline float default_init_bound(int fan_in) { return 1.0f / std::sqrt(static_cast<float>(fan_in)); }

}  // namespace dl
