#include "layers/init.h"

#include <sstream>
#include <stdexcept>

#include "layers/conv2d.h"
#include "layers/fused.h"
#include "layers/linear.h"
#include "layers/sequential.h"

namespace dl {

namespace {

std::string number(float v) {
    std::ostringstream s;
    s << v;
    return s.str();
}

// Draws from N(0, std^2) until |x| <= 2 std (TensorFlow's truncated normal).
float truncated_normal(std::normal_distribution<float>& n, float std, std::mt19937& rng) {
    for (;;) {
        const float x = n(rng);
        if (std::fabs(x) <= 2.0f * std) return x;
    }
}

// The weight or bias of one Linear or Conv2d; false if m is neither.
template <class Layer>
bool initialize_layer(Module& m, Role role, const Init& how, std::mt19937& rng) {
    auto* layer = dynamic_cast<Layer*>(&m);
    if (!layer) return false;
    Tensor& w = layer->weight().value;
    if (w.size() == 0)
        throw std::invalid_argument("initialize: " + layer->describe() +
                                    " does not know its input size yet; run one example through the model "
                                    "first (summary(model, shape) does)");
    const int fan_in = static_cast<int>(w.size() / w.dim(0));
    const bool has_bias = layer->parameters().size() == 2;
    if (role == Role::Weight) init_tensor(w, how, fan_in, rng);
    if (role == Role::Bias && has_bias) init_tensor(layer->bias().value, how, fan_in, rng);
    return true;
}

}  // namespace

Init Init::checked(Init init) {
    const float v = init.value;
    const bool ok = init.kind == Kind::Constant ? std::isfinite(v)
                  : init.kind == Kind::Uniform  ? std::isfinite(v) && v >= 0.0f
                  : init.kind == Kind::Normal || init.kind == Kind::TruncatedNormal ? std::isfinite(v) && v > 0.0f
                  : true;
    if (!ok)
        throw std::invalid_argument("init: '" + init.str() + "' is not valid (expected " +
                                    (init.kind == Kind::Constant  ? "a finite value"
                                     : init.kind == Kind::Uniform ? "a finite bound >= 0"
                                                                  : "a finite standard deviation > 0") +
                                    ")");
    return init;
}

std::string Init::str() const {
    switch (kind) {
        case Kind::PyTorchDefault: return "default";
        case Kind::Zeros: return "zeros";
        case Kind::Constant: return "const " + number(value);
        case Kind::Normal: return "normal " + number(value);
        case Kind::TruncatedNormal: return "truncnormal " + number(value);
        case Kind::Uniform: return "uniform " + number(value);
    }
    return "?";
}

void init_tensor(Tensor& t, const Init& how, int fan_in, std::mt19937& rng) {
    switch (how.kind) {
        case Init::Kind::PyTorchDefault: uniform_init(t, default_init_bound(fan_in), rng); return;
        case Init::Kind::Zeros: t.fill(0.0f); return;
        case Init::Kind::Constant: t.fill(how.value); return;
        case Init::Kind::Uniform: uniform_init(t, how.value, rng); return;
        case Init::Kind::Normal: {
            std::normal_distribution<float> n(0.0f, how.value);
            for (size_t i = 0; i < t.size(); ++i) t[i] = n(rng);
            return;
        }
        case Init::Kind::TruncatedNormal: {
            std::normal_distribution<float> n(0.0f, how.value);
            for (size_t i = 0; i < t.size(); ++i) t[i] = truncated_normal(n, how.value, rng);
            return;
        }
    }
}

void initialize(Module& model, Role role, const Init& how, std::mt19937& rng) {
    if (auto* seq = dynamic_cast<Sequential*>(&model)) {
        for (size_t i = 0; i < seq->size(); ++i) initialize((*seq)[i], role, how, rng);
        return;
    }
    if (auto* fused = dynamic_cast<ConvReluMaxPool*>(&model)) {
        initialize(fused->conv(), role, how, rng);
        return;
    }
    if (!initialize_layer<Linear>(model, role, how, rng)) initialize_layer<Conv2d>(model, role, how, rng);
}

}  // namespace dl
