#include "optim/diagnostics.h"

#include <algorithm>
#include <stdexcept>

namespace dl {

namespace {

void require_statistics(const Parameter& p, const char* who) {
    if (p.stats_batch <= 0 || p.grad_sq.size() != p.size() || p.grad.size() != p.size())
        throw std::invalid_argument(std::string(who) + ": parameter '" + p.name +
                                    "' has no per-example statistics (turn them on with "
                                    "tape.set_statistics(true))");
}

}  // namespace

void critical_batch_sizes(const Parameter& p, std::vector<float>& out, float eps) {
    require_statistics(p, "critical_batch_sizes");
    out.resize(p.size());
    for (size_t i = 0; i < p.size(); ++i) {
        const float g2 = p.grad[i] * p.grad[i];
        const float variance = std::max(0.0f, p.grad_sq[i] - g2);
        out[i] = 16.0f * variance / (g2 + eps);
    }
}

NoiseScale gradient_noise_scale(const ParameterList& params) {
    NoiseScale s;
    for (const Parameter* p : params) {
        require_statistics(*p, "gradient_noise_scale");
        for (size_t i = 0; i < p->size(); ++i) {
            const double g2 = static_cast<double>(p->grad[i]) * p->grad[i];
            s.sum_grad_sq += g2;
            s.sum_variance += std::max(0.0, p->grad_sq[i] - g2);
        }
    }
    s.noise_scale = s.sum_grad_sq > 0.0 ? s.sum_variance / s.sum_grad_sq : 0.0;
    return s;
}

}  // namespace dl
