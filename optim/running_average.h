// Running averages (lecture: "Digression on Running Averages" and "Bias
// Correction of Running Averages"). Every algorithm of optim/ keeps its
// statistics with these, so the three kinds of average are written once.
//
// All three are the same update with a different rate r_t:
//
//     mu_0 = 0,    mu_t = (1 - r_t) mu_{t-1} + r_t x_t
//
//   Ema            r_t = 1/N            plain exponential average, time constant N;
//                                       biased toward 0 for t << N (E mu_t ~ (t/N) mu)
//   BiasCorrected  r_t = 1/min(N, t)    exact mean of x_1..x_t while t <= N, then an EMA
//   Exact          r_t = 1/t            exact mean of x_1..x_t (never forgets)
#pragma once
#include <cstddef>

namespace dl {

enum class Averaging { Ema, BiasCorrected, Exact };

struct RunningAverage {
    Averaging kind = Averaging::Ema;
    float n = 10.0f;  // time constant N >= 1 (unused by Exact)

    // r_t for step t >= 1.
    float rate(long t) const;
};

// a = keep * a + add * x, elementwise over n floats.
void decay_add(float* a, const float* x, size_t n, float keep, float add);
// a = keep * a + add * x^2, elementwise over n floats.
void decay_add_sq(float* a, const float* x, size_t n, float keep, float add);

// mu = (1 - rate) mu + rate x, elementwise.
inline void running_average(float* mu, const float* x, size_t n, float rate) {
    decay_add(mu, x, n, 1.0f - rate, rate);
}
// s = (1 - rate) s + rate x^2, elementwise (RMSProp's average of g^2).
inline void running_average_sq(float* s, const float* x, size_t n, float rate) {
    decay_add_sq(s, x, n, 1.0f - rate, rate);
}

}  // namespace dl
