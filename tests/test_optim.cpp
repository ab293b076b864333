// Tests of optim/: every algorithm against three steps computed by hand, the
// identities the lecture states, the registry, state save/load, and every
// error path. Schedules and diagnostics are in test_optim_schedule.cpp.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "core/core.h"
#include "optim/adam.h"
#include "optim/adam_lecture.h"
#include "optim/adaptive.h"
#include "optim/langevin.h"
#include "optim/langevin_precond.h"
#include "optim/momentum.h"
#include "optim/momentum_ema.h"
#include "optim/registry.h"
#include "optim/rmsprop.h"
#include "optim/running_average.h"
#include "optim/sgd.h"

using namespace dl;

namespace {

Parameter scalar(float value, const char* name = "x") {
    Parameter p(name, Shape{1});
    p.value[0] = value;
    return p;
}

// One gradient (and optionally per-example statistics over `batch` examples) for a scalar.
void set_grad(Parameter& p, float g, float g_sq = -1.0f, int batch = 0) {
    p.grad[0] = g;
    if (g_sq < 0.0f) return;
    p.grad_sq = Tensor(Shape{1});
    p.grad_sq[0] = g_sq;
    p.stats_batch = batch;
}

// The three gradients used by every hand-computed test: g^_1 = 1, g^_2 = 2, g^_3 = -1,
// from Phi_0 = 1; with statistics, grad_sq = 2, 5, 3 (per-example variance 1, 1, 2) at B = 2.
const float kGrad[3] = {1.0f, 2.0f, -1.0f};
const float kGradSq[3] = {2.0f, 5.0f, 3.0f};

std::vector<float> three_steps(Optimizer& opt, Parameter& p, bool with_stats = false) {
    std::vector<float> phi;
    for (int k = 0; k < 3; ++k) {
        set_grad(p, kGrad[k], with_stats ? kGradSq[k] : -1.0f, with_stats ? 2 : 0);
        opt.step();
        phi.push_back(p.value[0]);
    }
    return phi;
}

void check_steps(const std::vector<float>& got, const std::vector<double>& expected) {
    REQUIRE(got.size() == expected.size());
    for (size_t k = 0; k < got.size(); ++k) {
        CAPTURE(k);
        CHECK(got[k] == doctest::Approx(expected[k]).epsilon(1e-5));
    }
}

std::vector<float> random_values(size_t n, unsigned seed, float lo = -1.0f, float hi = 1.0f) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(lo, hi);
    std::vector<float> v(n);
    for (float& x : v) x = u(rng);
    return v;
}

}  // namespace

TEST_SUITE("optim") {

TEST_CASE("running averages: EMA, bias-corrected, exact mean") {
    const auto x = random_values(25, 1);
    const RunningAverage ema{Averaging::Ema, 10.0f}, corrected{Averaging::BiasCorrected, 10.0f},
        exact{Averaging::Exact, 10.0f};
    float mu_ema = 0.0f, mu_corr = 0.0f, mu_exact = 0.0f;
    double sum = 0.0;
    for (long t = 1; t <= 25; ++t) {
        const float xt = x[t - 1];
        sum += xt;
        running_average(&mu_ema, &xt, 1, ema.rate(t));
        running_average(&mu_corr, &xt, 1, corrected.rate(t));
        running_average(&mu_exact, &xt, 1, exact.rate(t));
        CAPTURE(t);
        CHECK(mu_exact == doctest::Approx(sum / t).epsilon(1e-5));
        // The bias-corrected average is the exact mean while t <= N.
        if (t <= 10) CHECK(mu_corr == doctest::Approx(sum / t).epsilon(1e-5));
    }
    // After N it forgets (an EMA of time constant N), unlike the exact mean.
    CHECK(std::fabs(mu_corr - mu_exact) > 1e-3f);
    // The plain EMA is biased toward 0 at first: mu_1 = x_1 / N.
    float first = 0.0f;
    running_average(&first, &x[0], 1, ema.rate(1));
    CHECK(first == doctest::Approx(x[0] / 10.0f));
    CHECK_THROWS_WITH_AS(ema.rate(0), "RunningAverage::rate: step 0 (expected t >= 1)",
                         std::invalid_argument);
}

TEST_CASE("sgd: three steps by hand") {
    // Phi -= 0.1 g: 1 - 0.1 = 0.9; 0.9 - 0.2 = 0.7; 0.7 + 0.1 = 0.8.
    Parameter p = scalar(1.0f);
    SGD opt({&p}, {0.1f});
    check_steps(three_steps(opt, p), {0.9, 0.7, 0.8});
}

TEST_CASE("momentum: three steps by hand, plain and Nesterov") {
    // eta = 0.1, N_g = 2 (v = 0.5 v + 0.1 g):
    // v1 = 0.1               Phi1 = 0.9
    // v2 = 0.05 + 0.2 = 0.25 Phi2 = 0.65
    // v3 = 0.125 - 0.1 = 0.025  Phi3 = 0.625
    Parameter p = scalar(1.0f);
    Momentum opt({&p}, {0.1f, 2.0f, false});
    check_steps(three_steps(opt, p), {0.9, 0.65, 0.625});

    // Nesterov: Phi -= 0.1 g + 0.5 v (same v):
    // Phi1 = 1 - (0.1 + 0.05) = 0.85; Phi2 = 0.85 - (0.2 + 0.125) = 0.525;
    // Phi3 = 0.525 - (-0.1 + 0.0125) = 0.6125.
    Parameter q = scalar(1.0f);
    Momentum nesterov({&q}, {0.1f, 2.0f, true});
    check_steps(three_steps(nesterov, q), {0.85, 0.525, 0.6125});
}

TEST_CASE("momentum-ema: three steps by hand") {
    // eta' = 0.2, N_g = 2 (mu = 0.5 mu + 0.5 g, Phi -= 0.2 mu):
    // mu1 = 0.5   Phi1 = 1 - 0.1 = 0.9
    // mu2 = 0.25 + 1 = 1.25   Phi2 = 0.9 - 0.25 = 0.65
    // mu3 = 0.625 - 0.5 = 0.125   Phi3 = 0.65 - 0.025 = 0.625   (= momentum with eta = 0.1)
    Parameter p = scalar(1.0f);
    MomentumEMA opt({&p}, {0.2f, 2.0f});
    check_steps(three_steps(opt, p), {0.9, 0.65, 0.625});
}

TEST_CASE("identity: momentum with eta equals momentum-ema with eta' = N_g eta, step for step") {
    const float eta = 0.01f, n_g = 10.0f;
    Parameter a("w", Shape{2, 3}), b("w", Shape{2, 3});
    const auto init = random_values(6, 2);
    a.value.vec() = init;
    b.value.vec() = init;
    Momentum momentum({&a}, {eta, n_g, false});
    MomentumEMA ema({&b}, {n_g * eta, n_g});
    for (int step = 0; step < 50; ++step) {
        const auto g = random_values(6, 100 + step);
        a.grad.vec() = g;
        b.grad.vec() = g;
        momentum.step();
        ema.step();
        for (size_t i = 0; i < 6; ++i) CHECK(a.value[i] == doctest::Approx(b.value[i]).epsilon(1e-5));
    }
}

TEST_CASE("rmsprop: three steps by hand, variants (1), (2) and per-example") {
    // eta = 0.1, N_s = 2, eps = 0 (s = 0.5 s + 0.5 x):
    // (1) x = g^2: s = 0.5, 2.25, 1.625
    //   Phi1 = 1 - 0.1/sqrt(0.5) = 0.8585786; Phi2 = Phi1 - 0.2/1.5 = 0.7252453;
    //   Phi3 = Phi2 + 0.1/sqrt(1.625) = 0.8036918
    Parameter p = scalar(1.0f);
    RMSProp rms({&p}, {0.1f, 2.0f, 0.0f, false, false});
    CHECK_FALSE(rms.needs_statistics());
    check_steps(three_steps(rms, p), {0.8585786, 0.7252453, 0.8036918});

    // (2) Phi -= eta g/(s + eps): Phi1 = 1 - 0.1/0.5 = 0.8; Phi2 = 0.8 - 0.2/2.25 = 0.7111111;
    //   Phi3 = 0.7111111 + 0.1/1.625 = 0.7726496
    Parameter q = scalar(1.0f);
    RMSProp var({&q}, {0.1f, 2.0f, 0.0f, true, false});
    CHECK(var.name() == "rmsprop-var");
    check_steps(three_steps(var, q), {0.8, 0.7111111, 0.7726496});

    // per-example: x = grad_sq = 2, 5, 3: s = 1, 3, 3
    //   Phi1 = 1 - 0.1/1 = 0.9; Phi2 = 0.9 - 0.2/sqrt(3) = 0.7845299; Phi3 = Phi2 + 0.1/sqrt(3) = 0.8422650
    Parameter r = scalar(1.0f);
    RMSProp per_example({&r}, {0.1f, 2.0f, 0.0f, false, true});
    CHECK(per_example.needs_statistics());
    CHECK(per_example.name() == "rmsprop-per-example");
    check_steps(three_steps(per_example, r, true), {0.9, 0.7845299, 0.8422650});
}

TEST_CASE("identity: rmsprop-per-example equals rmsprop at B = 1 (grad_sq = grad^2)") {
    Parameter a("w", Shape{4}), b("w", Shape{4});
    a.value.vec() = b.value.vec() = random_values(4, 3);
    auto plain = make_optimizer("rmsprop", {&a});
    auto per_example = make_optimizer("rmsprop-per-example", {&b});
    for (int step = 0; step < 20; ++step) {
        const auto g = random_values(4, 200 + step);
        a.grad.vec() = b.grad.vec() = g;
        b.grad_sq = Tensor(Shape{4});
        for (size_t i = 0; i < 4; ++i) b.grad_sq[i] = g[i] * g[i];
        b.stats_batch = 1;
        plain->step();
        per_example->step();
        CHECK(std::memcmp(a.value.data(), b.value.data(), 4 * sizeof(float)) == 0);
    }
}

TEST_CASE("adam: three steps by hand, with and without decoupled weight decay") {
    // eta = 0.1, N_g = 2 (beta1 = 0.5), N_s = 4 (beta2 = 0.75), eps = 0:
    // t=1: mu = 0.5, s = 0.25; mu^ = 0.5/0.5 = 1, s^ = 0.25/0.25 = 1; Phi1 = 1 - 0.1 = 0.9
    // t=2: mu = 1.25, s = 1.1875; mu^ = 1.25/0.75 = 1.666667, s^ = 1.1875/0.4375 = 2.714286;
    //      Phi2 = 0.9 - 0.1 * 1.666667/1.647509 = 0.7988372
    // t=3: mu = 0.125, s = 1.140625; mu^ = 0.125/0.875 = 0.142857, s^ = 1.140625/0.578125 = 1.972973;
    //      Phi3 = 0.7988372 - 0.1 * 0.142857/1.404626 = 0.7886667
    Parameter p = scalar(1.0f);
    Adam adam({&p}, {0.1f, 2.0f, 4.0f, 0.0f, 0.0f});
    check_steps(three_steps(adam, p), {0.9, 0.7988372, 0.7886667});

    // AdamW, lambda = 0.5: Phi <- (1 - 0.05) Phi first:
    // Phi1 = 0.95 - 0.1 = 0.85; Phi2 = 0.95*0.85 - 0.1011628 = 0.7063372;
    // Phi3 = 0.95*0.7063372 - 0.0101705 = 0.6608498
    Parameter q = scalar(1.0f);
    Adam adamw({&q}, {0.1f, 2.0f, 4.0f, 0.0f, 0.5f});
    check_steps(three_steps(adamw, q), {0.85, 0.7063372, 0.6608498});
}

TEST_CASE("adam: a parameter's update does not depend on the others (t advances once per step)") {
    Parameter alone("w", Shape{3}), w("w", Shape{3}), other1("u", Shape{5}), other2("v", Shape{2});
    alone.value.vec() = w.value.vec() = random_values(3, 4);
    Adam solo({&alone});
    Adam crowd({&other1, &w, &other2});
    for (int step = 1; step <= 10; ++step) {
        alone.grad.vec() = w.grad.vec() = random_values(3, 300 + step);
        other1.grad.vec() = random_values(5, 400 + step);
        other2.grad.vec() = random_values(2, 500 + step);
        solo.step();
        crowd.step();
        CHECK(crowd.t() == step);
        CHECK(std::memcmp(alone.value.data(), w.value.data(), 3 * sizeof(float)) == 0);
    }
}

TEST_CASE("adam-lecture: three steps by hand") {
    // eta = 0.1, N_g = 2, N_s = 4, eps = 0; rates 1/min(t, N):
    // t=1: r_g = 1, r_s = 1: mu = 1, s = 1; Phi1 = 1 - 0.1 = 0.9
    // t=2: r_g = 1/2, r_s = 1/2: mu = 0.5 + 1 = 1.5, s = 0.5 + 2 = 2.5; Phi2 = 0.9 - 0.15/sqrt(2.5) = 0.8051317
    // t=3: r_g = 1/2, r_s = 1/3: mu = 0.75 - 0.5 = 0.25, s = 5/3 + 1/3 = 2; Phi3 = Phi2 - 0.025/sqrt(2) = 0.7874540
    Parameter p = scalar(1.0f);
    AdamLecture opt({&p}, {0.1f, 2.0f, 4.0f, 0.0f});
    check_steps(three_steps(opt, p), {0.9, 0.8051317, 0.7874540});
}

TEST_CASE("langevin: three steps by hand with the same noise stream; T = 0 is sgd") {
    // Phi -= 0.1 g + sqrt(2 * 0.1 * 0.5) xi = 0.1 g + sqrt(0.1) xi, xi from NormalRng(7).
    Parameter p = scalar(1.0f);
    Langevin opt({&p}, {0.1f, 0.5f, 7});
    NormalRng rng(7);
    double phi = 1.0;
    std::vector<double> expected;
    for (float g : kGrad) {
        phi -= 0.1 * g + std::sqrt(0.1) * rng.next();
        expected.push_back(phi);
    }
    check_steps(three_steps(opt, p), expected);

    Parameter q = scalar(1.0f);
    Langevin cold({&q}, {0.1f, 0.0f, 7});
    check_steps(three_steps(cold, q), {0.9, 0.7, 0.8});
}

TEST_CASE("normal-rng: the stream's first values, blocks equal single draws, state round trip") {
    // The first six samples of NormalRng(7), computed in double by an independent
    // Python transcription of the header's formula (SplitMix64 + Box-Muller).
    NormalRng rng(7);
    const double expected[6] = {-0.3309737, 1.0870435, -1.5432047, -0.1107032, 0.3318185, 0.1073720};
    for (double e : expected) CHECK(rng.next() == doctest::Approx(e).epsilon(1e-5));

    // fill() from an even and an odd position gives the same numbers as next(), bit for bit.
    for (size_t skip : {0, 1, 2, 5}) {
        for (size_t n : {0, 1, 2, 3, 7, 1000}) {
            NormalRng a(3), b(3);
            for (size_t i = 0; i < skip; ++i) a.next(), b.next();
            std::vector<float> block(n + 1, 0.0f);
            a.fill(block.data(), n);
            for (size_t i = 0; i < n; ++i) REQUIRE(block[i] == b.next());
            CHECK(a.next() == b.next());  // and both stand at the same place after it
        }
    }

    // Saved after 5 draws and loaded into a generator with another seed: the same continuation.
    NormalRng saved(11);
    for (int i = 0; i < 5; ++i) saved.next();
    Fields out = Fields::writer();
    saved.state_fields(out);
    NormalRng restored(99);
    Fields in = Fields::reader(out.bytes(), "rng");
    restored.state_fields(in);
    in.finish();
    for (int i = 0; i < 9; ++i) CHECK(restored.next() == saved.next());

    // A state of another kind (a checkpoint from before the counter-based stream) is refused.
    std::string old_state = "5489 1 2 3";
    Fields old = Fields::writer();
    old("rng", old_state);
    Fields old_in = Fields::reader(old.bytes(), "rng");
    NormalRng fresh(1);
    CHECK_THROWS_WITH_AS(fresh.state_fields(old_in), doctest::Contains("is not 'splitmix64-box-muller KEY COUNT'"),
                         std::runtime_error);
}

TEST_CASE("normal-rng: two million samples have the moments and tails of N(0, 1)") {
    // With n = 2e6 the standard errors are: mean 7e-4, variance 1e-3, P(|z| > 1.96)
    // 1.5e-4, correlations 7e-4; the bounds are about 5 standard errors.
    const size_t n = 2000000;
    std::vector<float> z(n), other(n);
    NormalRng(5).fill(z.data(), n);
    NormalRng(6).fill(other.data(), n);  // a neighbouring seed
    double sum = 0, sum2 = 0, sum3 = 0, sum4 = 0, lag1 = 0, cross = 0;
    size_t beyond = 0;
    for (size_t i = 0; i < n; ++i) {
        const double x = z[i];
        sum += x, sum2 += x * x, sum3 += x * x * x, sum4 += x * x * x * x;
        if (i + 1 < n) lag1 += x * z[i + 1];
        cross += x * other[i];
        beyond += std::fabs(x) > 1.959964;
    }
    CHECK(std::fabs(sum / n) < 0.0035);
    CHECK(std::fabs(sum2 / n - 1.0) < 0.005);
    CHECK(std::fabs(sum3 / n) < 0.01);           // skewness 0 (se 1.7e-3)
    CHECK(std::fabs(sum4 / n - 3.0) < 0.03);     // kurtosis 3 (se 5.5e-3)
    CHECK(std::fabs(static_cast<double>(beyond) / n - 0.05) < 0.0008);
    CHECK(std::fabs(lag1 / n) < 0.0035);         // sin and cos of one pair are independent
    CHECK(std::fabs(cross / n) < 0.0035);        // seeds 5 and 6 are unrelated streams
}

TEST_CASE("langevin: stationary variance on a noisy 1-D quadratic") {
    // L = (h/2) x^2 with gradient h x + sigma n, n ~ N(0, 1). The update
    //   x' = (1 - eta h) x - eta sigma n - sqrt(2 eta T) xi
    // is an AR(1) process with stationary variance
    //   (eta^2 sigma^2 + 2 eta T) / (1 - (1 - eta h)^2) = (0.01 + 0.01)/(1 - 0.81) = 0.1052632
    // (the continuous-time Langevin limit gives (eta sigma^2/2 + T)/h = 0.1).
    const float h = 1.0f, sigma = 1.0f, eta = 0.1f, T = 0.05f;
    const double predicted = (eta * eta * sigma * sigma + 2.0 * eta * T) /
                             (1.0 - (1.0 - eta * h) * (1.0 - eta * h));
    Parameter x = scalar(0.0f);
    Langevin opt({&x}, {eta, T, 11});
    std::mt19937 rng(12);
    std::normal_distribution<float> noise(0.0f, 1.0f);
    double sum = 0.0, sum_sq = 0.0;
    const int burn_in = 1000, samples = 200000;
    for (int k = 0; k < burn_in + samples; ++k) {
        x.grad[0] = h * x.value[0] + sigma * noise(rng);
        opt.step();
        if (k < burn_in) continue;
        sum += x.value[0];
        sum_sq += double(x.value[0]) * x.value[0];
    }
    const double mean = sum / samples, variance = sum_sq / samples - mean * mean;
    CAPTURE(variance);
    CAPTURE(predicted);
    CHECK(std::fabs(variance - predicted) < 0.1 * predicted);
    CHECK(std::fabs(mean) < 0.02);
}

TEST_CASE("langevin-precond: three steps by hand and the floor") {
    // eta' = 0.1, N_s = 2, floor = 0.01, T = 0; batch variance grad_sq - g^2 = 1, 1, 2:
    // t=1: r = 1:   sigma2 = 1,   eta = 0.1       Phi1 = 1 - 0.1 = 0.9
    // t=2: r = 1/2: sigma2 = 1,   eta = 0.1       Phi2 = 0.9 - 0.2 = 0.7
    // t=3: r = 1/2: sigma2 = 1.5, eta = 0.0666667 Phi3 = 0.7 + 0.0666667 = 0.7666667
    Parameter p = scalar(1.0f);
    LangevinPrecond opt({&p}, {0.1f, 2.0f, 0.01f, 0.0f, 0});
    CHECK(opt.needs_statistics());
    check_steps(three_steps(opt, p, true), {0.9, 0.7, 0.7666667});

    // No per-example variance (grad_sq = g^2): eta = eta'/floor = 10, Phi = 1 - 10 * 0.5 = -4.
    Parameter q = scalar(1.0f);
    LangevinPrecond floored({&q}, {0.1f, 2.0f, 0.01f, 0.0f, 0});
    set_grad(q, 0.5f, 0.25f, 2);
    floored.step();
    CHECK(q.value[0] == doctest::Approx(-4.0));
}

TEST_CASE("adaptive: three steps by hand, per-example sigma") {
    // lambda_eta = 0.1, K = 1, lambda_B = 16, B = 2 (stats_batch), per-example sigma:
    // t=1: B*(0) = K = 1 <= B: rate 1: g~ = 1, s~ = 2; t <= K: no step        Phi1 = 1
    // t=2: B*(1) = K = 1: rate 1: g~ = 2, s~ = 5, sigma~^2 = 5 - 4 = 1;
    //      B*(2) = 16 * 1/4 = 4, eta = 0.1 * 4/1 = 0.4                          Phi2 = 1 - 0.8 = 0.2
    // t=3: rate = B/B*(2) = 2/4 = 0.5: g~ = 1 - 0.5 = 0.5, s~ = 2.5 + 1.5 = 4, sigma~^2 = 3.75;
    //      eta = 0.1 * 0.25/3.75 = 0.0066667                                    Phi3 = 0.2066667
    Parameter p = scalar(1.0f);
    AdaptiveOptions o;
    o.lr = 0.1f;
    o.k = 1;
    o.max_eta = 10.0f;
    o.per_example_sigma = true;
    Adaptive opt({&p}, o);
    CHECK(opt.needs_statistics());
    check_steps(three_steps(opt, p, true), {1.0, 0.2, 0.2066667});
}

TEST_CASE("adaptive: three steps by hand, batch sigma (the slide) at B = 1") {
    // lambda_eta = 0.1, K = 2, B = 1, x = g^2, sigma~^2 = B (s~ - g~^2):
    // t=1: rate B/K = 0.5: g~ = 0.5, s~ = 0.5; no step                        Phi1 = 1
    // t=2: rate 0.5: g~ = 0.25 + 1 = 1.25, s~ = 0.25 + 2 = 2.25; no step      Phi2 = 1
    // t=3: B*(2) = K: rate 0.5: g~ = 0.625 - 0.5 = 0.125, s~ = 1.125 + 0.5 = 1.625,
    //      sigma~^2 = 1.625 - 0.015625 = 1.609375, eta = 0.1 * 0.015625/1.609375 = 0.00097087
    //                                                                          Phi3 = 1.00097087
    Parameter p = scalar(1.0f);
    AdaptiveOptions o;
    o.lr = 0.1f;
    o.k = 2;
    o.batch_size = 1;
    Adaptive opt({&p}, o);
    CHECK_FALSE(opt.needs_statistics());
    check_steps(three_steps(opt, p), {1.0, 1.0, 1.00097087});
}

TEST_CASE("identity: adaptive takes no step for t <= K") {
    Parameter p("w", Shape{8});
    p.value.vec() = random_values(8, 5);
    const auto init = p.value.vec();
    OptimizerConfig c;
    c.k = 5;
    c.batch_size = 4;
    c.per_example_sigma = false;  // by name it defaults to per-example sigma
    auto opt = make_optimizer("adaptive", {&p}, c);
    for (int t = 1; t <= 6; ++t) {
        p.grad.vec() = random_values(8, 600 + t, 0.5f, 1.5f);
        opt->step();
        CAPTURE(t);
        if (t <= 5)
            CHECK(p.value.vec() == init);
        else
            CHECK(p.value.vec() != init);
    }
}

TEST_CASE("optimizer: the step counter advances once per step, whatever the parameter count") {
    Parameter a("a", Shape{2}), b("b", Shape{3}), c("c", Shape{4});
    for (const std::string& name : optimizer_names()) {
        CAPTURE(name);
        OptimizerConfig config;
        if (name == "adaptive") config.batch_size = 2;
        auto opt = make_optimizer(name, {&a, &b, &c}, config);
        CHECK(opt->t() == 0);
        for (Parameter* p : {&a, &b, &c}) {
            p->grad_sq = Tensor(p->value.shape(), 1.0f);
            p->stats_batch = 2;
        }
        opt->step();
        opt->step();
        CHECK(opt->t() == 2);
    }
}

TEST_CASE("optimizer: zero_grad clears gradients and statistics; set_lr") {
    Parameter p("w", Shape{3});
    p.grad.fill(1.0f);
    p.grad_sq = Tensor(Shape{3}, 2.0f);
    p.stats_batch = 8;
    SGD opt({&p}, {0.5f});
    opt.zero_grad();
    CHECK(p.grad.vec() == std::vector<float>(3, 0.0f));
    CHECK(p.grad_sq.vec() == std::vector<float>(3, 0.0f));
    CHECK(p.stats_batch == 0);
    opt.set_lr(0.25f);
    CHECK(opt.lr() == 0.25f);
    CHECK_THROWS_WITH_AS(opt.set_lr(-1.0f), "Invalid lr for sgd: -1 (expected 0 <= lr < inf)",
                         std::invalid_argument);
}

TEST_CASE("optimizer: algorithms that need statistics refuse to step without them") {
    for (const std::string name : {"rmsprop-per-example", "langevin-precond"}) {
        CAPTURE(name);
        Parameter p("fc.weight", Shape{3});
        p.value.fill(1.0f);
        p.grad.fill(0.5f);
        auto opt = make_optimizer(name, {&p});
        CHECK(opt->needs_statistics());
        CHECK_THROWS_WITH_AS(opt->step(),
                             (name +
                              ": parameter 'fc.weight' has no per-example statistics (grad_sq) for "
                              "this step; this algorithm needs them: turn them on with "
                              "tape.set_statistics(true) before backward")
                                 .c_str(),
                             std::invalid_argument);
        CHECK(opt->t() == 0);
        CHECK(p.value.vec() == std::vector<float>(3, 1.0f));
    }
    Parameter p("w", Shape{2});
    OptimizerConfig c;
    c.per_example_sigma = true;
    auto adaptive = make_optimizer("adaptive", {&p}, c);
    CHECK(adaptive->needs_statistics());
    CHECK_THROWS_AS(adaptive->step(), std::invalid_argument);
    // A gradient of the wrong size is caught before any parameter moves.
    Parameter q("b", Shape{2});
    q.grad = Tensor(Shape{3});
    SGD sgd({&p, &q});
    CHECK_THROWS_WITH_AS(sgd.step(), "sgd: parameter 'b' has 2 values but a gradient of 3",
                         std::invalid_argument);
}

TEST_CASE("optimizer: every invalid option has its message") {
    Parameter p = scalar(1.0f);
    const ParameterList ps{&p};
    using E = std::invalid_argument;
    CHECK_THROWS_WITH_AS(SGD(ps, {-0.1f}), "Invalid lr for sgd: -0.1 (expected 0 <= lr < inf)", E);
    CHECK_THROWS_WITH_AS(SGD(ps, {NAN}), "Invalid lr for sgd: nan (expected 0 <= lr < inf)", E);
    CHECK_THROWS_WITH_AS(Momentum(ps, {0.1f, 0.5f, false}),
                         "Invalid n_g for momentum: 0.5 (expected 1 <= n_g < inf, momentum = 1 - 1/n_g)", E);
    CHECK_THROWS_WITH_AS(MomentumEMA(ps, {0.1f, 0.0f}),
                         "Invalid n_g for momentum-ema: 0 (expected 1 <= n_g < inf, momentum = 1 - 1/n_g)", E);
    CHECK_THROWS_WITH_AS(RMSProp(ps, {0.1f, 0.9f, 1e-8f, false, false}),
                         "Invalid n_s for rmsprop: 0.9 (expected 1 <= n_s < inf, alpha = 1 - 1/n_s)", E);
    CHECK_THROWS_WITH_AS(RMSProp(ps, {0.1f, 100.0f, -1.0f, true, false}),
                         "Invalid eps for rmsprop-var: -1 (expected 0 <= eps < inf)", E);
    CHECK_THROWS_WITH_AS(Adam(ps, {0.1f, 0.5f, 1000.0f, 1e-8f, 0.0f}),
                         "Invalid n_g for adam: 0.5 (expected 1 <= n_g < inf, beta1 = 1 - 1/n_g)", E);
    CHECK_THROWS_WITH_AS(Adam(ps, {0.1f, 10.0f, INFINITY, 1e-8f, 0.0f}),
                         "Invalid n_s for adam: inf (expected 1 <= n_s < inf, beta2 = 1 - 1/n_s)", E);
    CHECK_THROWS_WITH_AS(Adam(ps, {0.1f, 10.0f, 1000.0f, -1e-8f, 0.0f}),
                         "Invalid eps for adam: -1e-08 (expected 0 <= eps < inf)", E);
    CHECK_THROWS_WITH_AS(Adam(ps, {0.1f, 10.0f, 1000.0f, 1e-8f, -0.01f}),
                         "Invalid weight_decay for adam: -0.01 (expected 0 <= weight_decay < inf)", E);
    CHECK_THROWS_WITH_AS(AdamLecture(ps, {0.1f, 0.0f, 10.0f, 0.0f}),
                         "Invalid n_g for adam-lecture: 0 (expected 1 <= n_g < inf, beta1 = 1 - 1/n_g)", E);
    CHECK_THROWS_WITH_AS(AdamLecture(ps, {0.1f, 10.0f, 0.0f, 0.0f}),
                         "Invalid n_s for adam-lecture: 0 (expected 1 <= n_s < inf, beta2 = 1 - 1/n_s)", E);
    CHECK_THROWS_WITH_AS(AdamLecture(ps, {0.1f, 10.0f, 10.0f, -1.0f}),
                         "Invalid eps for adam-lecture: -1 (expected 0 <= eps < inf)", E);
    CHECK_THROWS_WITH_AS(Langevin(ps, {0.1f, -1.0f, 0}),
                         "Invalid temperature for langevin: -1 (expected 0 <= temperature < inf)", E);
    CHECK_THROWS_WITH_AS(LangevinPrecond(ps, {0.1f, 0.0f, 1e-4f, 0.0f, 0}),
                         "Invalid n_s for langevin-precond: 0 (expected 1 <= n_s < inf, alpha = 1 - 1/n_s)", E);
    CHECK_THROWS_WITH_AS(LangevinPrecond(ps, {0.1f, 10.0f, 0.0f, 0.0f, 0}),
                         "Invalid sigma2_floor for langevin-precond: 0 (expected 0 < sigma2_floor < inf)", E);
    CHECK_THROWS_WITH_AS(LangevinPrecond(ps, {0.1f, 10.0f, 1e-4f, -2.0f, 0}),
                         "Invalid temperature for langevin-precond: -2 (expected 0 <= temperature < inf)", E);
    AdaptiveOptions a;
    a.batch_size = 1;
    a.k = -1;
    CHECK_THROWS_WITH_AS(Adaptive(ps, a), "Invalid k for adaptive: -1 (expected 0 <= k < inf)", E);
    a.k = 10;
    a.lambda_b = 0.0f;
    CHECK_THROWS_WITH_AS(Adaptive(ps, a), "Invalid lambda_b for adaptive: 0 (expected 0 < lambda_b < inf)", E);
    a.lambda_b = 16.0f;
    a.eps = 0.0f;
    CHECK_THROWS_WITH_AS(Adaptive(ps, a), "Invalid eps for adaptive: 0 (expected 0 < eps < inf)", E);
    a.eps = 1e-8f;
    a.max_eta = 0.0f;
    CHECK_THROWS_WITH_AS(Adaptive(ps, a), "Invalid max_eta for adaptive: 0 (expected 0 < max_eta <= inf)", E);
    a.max_eta = 1.0f;
    a.batch_size = 0;
    CHECK_THROWS_WITH_AS(Adaptive(ps, a),
                         "Invalid batch_size for adaptive: 0 (expected batch_size >= 1 unless per_example_sigma)", E);
    CHECK_THROWS_WITH_AS(SGD({nullptr}), "sgd: parameter 0 is null", E);
}

TEST_CASE("registry: names, unknown names, unused options") {
    const std::vector<std::string> expected = {
        "sgd", "momentum", "momentum-ema", "rmsprop", "rmsprop-var", "rmsprop-per-example",
        "adam", "adam-lecture", "langevin", "langevin-precond", "adaptive"};
    // The built-in ones first, in this order (tests may register more after them).
    const std::vector<std::string> names = optimizer_names();
    REQUIRE(names.size() >= expected.size());
    CHECK(std::vector<std::string>(names.begin(), names.begin() + expected.size()) == expected);
    Parameter p = scalar(1.0f);
    for (const std::string& name : expected) {
        OptimizerConfig c;
        if (name == "adaptive") c.batch_size = 1;
        CHECK(make_optimizer(name, {&p}, c)->name() == name);
    }
    CHECK_THROWS_WITH_AS(make_optimizer("adagrad", {&p}),
                         doctest::Contains("make_optimizer: unknown optimizer 'adagrad' (known: sgd, momentum, "
                                           "momentum-ema, rmsprop, rmsprop-var, rmsprop-per-example, adam, "
                                           "adam-lecture, langevin, langevin-precond, adaptive"),
                         std::invalid_argument);
    OptimizerConfig c;
    c.nesterov = true;
    CHECK_THROWS_WITH_AS(make_optimizer("adam", {&p}, c),
                         "make_optimizer: option 'nesterov' is not used by 'adam' (it takes: lr, n_g (or beta1), n_s "
                         "(or beta2), eps, weight_decay)", std::invalid_argument);
    // Options reach the algorithm: lr and n_g of momentum.
    OptimizerConfig m;
    m.lr = 0.1f;
    m.n_g = 2.0f;
    auto opt = make_optimizer("momentum", {&p}, m);
    CHECK(opt->lr() == 0.1f);
    check_steps(three_steps(*opt, p), {0.9, 0.65, 0.625});
    m.n_g = 0.5f;
    CHECK_THROWS_WITH_AS(make_optimizer("momentum", {&p}, m),
                         "Invalid n_g for momentum: 0.5 (expected 1 <= n_g < inf, momentum = 1 - 1/n_g)",
                         std::invalid_argument);
}

TEST_CASE("state: save after 3 steps, load into a fresh optimizer, 3 more steps are bit-identical") {
    // Two parameters with random gradients and statistics (B = 4) for every step.
    auto set_step_grads = [](Parameter& a, Parameter& b, int step) {
        for (Parameter* p : {&a, &b}) {
            const size_t n = p->size();
            p->grad.vec() = random_values(n, 1000 * step + static_cast<unsigned>(n));
            p->grad_sq = Tensor(p->value.shape());
            for (size_t i = 0; i < n; ++i) p->grad_sq[i] = p->grad[i] * p->grad[i] + 0.5f;
            p->stats_batch = 4;
        }
    };
    for (const std::string& name : optimizer_names()) {
        CAPTURE(name);
        OptimizerConfig c;
        if (name == "adaptive") {
            c.batch_size = 4;
            c.k = 1;
        }
        if (name == "langevin-precond") c.temperature = 1e-3f;
        Parameter a("a", Shape{2, 3}), b("b", Shape{4});
        a.value.vec() = random_values(6, 7);
        b.value.vec() = random_values(4, 8);
        auto first = make_optimizer(name, {&a, &b}, c);
        for (int step = 1; step <= 3; ++step) {
            set_step_grads(a, b, step);
            first->step();
        }
        std::stringstream saved;
        first->save_state(saved);
        Parameter a2 = a, b2 = b;  // the checkpointed model
        for (int step = 4; step <= 6; ++step) {
            set_step_grads(a, b, step);
            first->step();
        }
        auto resumed = make_optimizer(name, {&a2, &b2}, c);
        resumed->load_state(saved);
        CHECK(resumed->t() == 3);
        for (int step = 4; step <= 6; ++step) {
            set_step_grads(a2, b2, step);
            resumed->step();
        }
        CHECK(std::memcmp(a.value.data(), a2.value.data(), 6 * sizeof(float)) == 0);
        CHECK(std::memcmp(b.value.data(), b2.value.data(), 4 * sizeof(float)) == 0);
        std::stringstream end1, end2;
        first->save_state(end1);
        resumed->save_state(end2);
        CHECK(end1.str() == end2.str());
    }
}

TEST_CASE("state: load_state errors") {
    Parameter a("a", Shape{3}), b("b", Shape{4});
    Adam adam({&a});
    std::stringstream saved;
    adam.save_state(saved);
    const std::string bytes = saved.str();

    std::stringstream s1(bytes);
    AdamLecture other({&a});
    CHECK_THROWS_WITH_AS(other.load_state(s1),
                         "adam-lecture: load_state: the state was saved by 'adam', expected 'adam-lecture'",
                         std::runtime_error);
    std::stringstream s2(bytes);
    Adam two({&a, &b});
    CHECK_THROWS_WITH_AS(two.load_state(s2),
                         "adam: load_state: the state holds 1 parameters, this optimizer has 2",
                         std::runtime_error);
    std::stringstream s3(bytes);
    Adam wrong_size({&b});
    CHECK_THROWS_WITH_AS(wrong_size.load_state(s3), "adam: load_state: field 'buffer.0.0' has 3 values, expected 4",
                         std::runtime_error);
    std::stringstream s4(bytes.substr(0, bytes.size() - 5));
    Adam truncated({&a});
    CHECK_THROWS_WITH_AS(truncated.load_state(s4), doctest::Contains("adam: load_state: the field list is cut short"),
                         std::runtime_error);
    std::stringstream s5("not a state at all");
    CHECK_THROWS_WITH_AS(truncated.load_state(s5), "adam: load_state: not an optimizer state (bad header)",
                         std::runtime_error);
    CHECK(truncated.t() == 0);
}

TEST_CASE("end to end: softmax regression with statistics, the loss falls for every algorithm") {
    // 3 classes of 4-D points around different centres; linear + softmax cross-entropy.
    const int N = 32, D = 4, C = 3;
    std::vector<float> xs = random_values(N * D, 9, -0.5f, 0.5f);
    std::vector<int> labels(N);
    for (int n = 0; n < N; ++n) {
        labels[n] = n % C;
        xs[n * D + labels[n]] += 1.5f;
    }
    const Tensor x(Shape{N, D}, xs);
    const std::pair<const char*, float> runs[] = {
        {"sgd", 0.5f}, {"momentum", 0.05f}, {"momentum-ema", 0.5f}, {"rmsprop", 0.01f},
        {"rmsprop-var", 1e-3f}, {"rmsprop-per-example", 0.01f}, {"adam", 0.05f},
        {"adam-lecture", 0.05f}, {"langevin", 0.5f}, {"langevin-precond", 0.01f}, {"adaptive", 1.0f}};
    for (const auto& [algorithm, lr] : runs) {
        const std::string name = algorithm;
        CAPTURE(name);
        Parameter W("fc.weight", Shape{C, D}), b("fc.bias", Shape{C});
        W.value.vec() = random_values(C * D, 10, -0.1f, 0.1f);
        OptimizerConfig c;
        c.lr = lr;
        // (2) divides by s ~ g^2 on this noise-free problem: steps ~ eta/g grow near the optimum
        // unless eps bounds them.
        if (name == "rmsprop-var") c.eps = 0.01f;
        if (name == "adaptive") {
            c.per_example_sigma = true;
            c.k = 2;
        }
        auto opt = make_optimizer(name, {&W, &b}, c);
        Tape tape;
        tape.set_statistics(opt->needs_statistics());
        float first = 0.0f, last = 0.0f;
        for (int step = 0; step < 30; ++step) {
            tape.reset();
            opt->zero_grad();
            Var loss = softmax_cross_entropy(tape, linear(tape, tape.input(x), W, &b), labels);
            tape.backward(loss);
            (step == 0 ? first : last) = tape.value(loss)[0];
            opt->step();
        }
        CAPTURE(first);
        CAPTURE(last);
        CHECK(last < 0.8f * first);
    }
}

TEST_CASE("optimizer: large parameters (parallel loops) give the same bits on 1 and 2 threads") {
    const size_t n = 3 * kParallelMin;  // above the threshold of the OpenMP loops
    const auto init = random_values(n, 13), grad = random_values(n, 14);
    const int threads_before = num_threads();
    for (const std::string name : {"momentum", "rmsprop", "adam", "adaptive"}) {
        CAPTURE(name);
        std::vector<float> result[2];
        for (int threads = 1; threads <= 2; ++threads) {
            set_num_threads(threads);
            Parameter p("w", Shape{static_cast<int>(n)});
            p.value.vec() = init;
            p.grad.vec() = grad;
            OptimizerConfig c;
            if (name == "adaptive") {
                c.k = 1;
                c.batch_size = 1;
                c.per_example_sigma = false;  // by name it defaults to per-example sigma
            }
            auto opt = make_optimizer(name, {&p}, c);
            for (int step = 0; step < 3; ++step) opt->step();
            result[threads - 1] = p.value.vec();
        }
        CHECK(result[0] == result[1]);
        CHECK(result[0] != init);
    }
    set_num_threads(threads_before);
}

}  // TEST_SUITE
