// Initialisation like PyTorch's defaults, from a seeded generator so that the
// same seed gives the same model.
//
// PyTorch's Linear and Conv2d use kaiming_uniform_(a = sqrt(5)): the bound is
// gain * sqrt(3 / fan_in) with gain = sqrt(2 / (1 + a^2)) = sqrt(1/3), i.e.
// weight ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)); the bias uses the same bound.
#pragma once
#include <cmath>
#include <random>

#include "core/tensor.h"

namespace dl {

inline void uniform_init(Tensor& t, float bound, std::mt19937& rng) {
    std::uniform_real_distribution<float> u(-bound, bound);
    for (size_t i = 0; i < t.size(); ++i) t[i] = u(rng);
}

inline float default_init_bound(int fan_in) { return 1.0f / std::sqrt(static_cast<float>(fan_in)); }

}  // namespace dl
