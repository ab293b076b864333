#include "optim/running_average.h"

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "core/parallel.h"

namespace dl {

float RunningAverage::rate(long t) const {
    if (t < 1) throw std::invalid_argument("RunningAverage::rate: step " + std::to_string(t) +
                                           " (expected t >= 1)");
    switch (kind) {
        case Averaging::Ema: return 1.0f / n;
        case Averaging::BiasCorrected: return 1.0f / std::min(n, static_cast<float>(t));
        case Averaging::Exact: return 1.0f / static_cast<float>(t);
    }
    return 1.0f / n;
}

void decay_add(float* a, const float* x, size_t n, float keep, float add) {
#pragma omp parallel for if (n >= kParallelMin)
    for (int64_t i = 0; i < static_cast<int64_t>(n); ++i) a[i] = keep * a[i] + add * x[i];
}

void decay_add_sq(float* a, const float* x, size_t n, float keep, float add) {
#pragma omp parallel for if (n >= kParallelMin)
    for (int64_t i = 0; i < static_cast<int64_t>(n); ++i) a[i] = keep * a[i] + add * (x[i] * x[i]);
}

}  // namespace dl
