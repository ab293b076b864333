// Tests of optim/schedule.h and optim/diagnostics.h: schedules at known
// points, the batch-size rules of "Putting It Together" and Smith et al., the
// B* and noise-scale diagnostics.
#include <doctest/doctest.h>

#include <cmath>
#include <stdexcept>
#include <vector>

#include "core/parameter.h"
#include "optim/diagnostics.h"
#include "optim/registry.h"
#include "optim/schedule.h"

using namespace dl;

TEST_SUITE("optim schedule") {

TEST_CASE("schedules: constant, Robbins-Monro, step decay") {
    ScheduleConfig c;
    c.lr = 0.1f;
    auto constant = make_schedule(c);
    CHECK(constant->lr(0, 0.0) == doctest::Approx(0.1));
    CHECK(constant->lr(100000, 50.0) == doctest::Approx(0.1));

    // eta_t = 0.1/(1 + t/100): 0.1 at t = 0, 0.05 at t = 100, 0.01 at t = 900.
    c.kind = "robbins-monro";
    c.tau = 100.0f;
    auto rm = make_schedule(c);
    CHECK(rm->lr(0, 0.0) == doctest::Approx(0.1));
    CHECK(rm->lr(100, 0.0) == doctest::Approx(0.05));
    CHECK(rm->lr(900, 0.0) == doctest::Approx(0.01));

    // ResNet-style: divided by 2 at epochs 30 and 60 (the lecture: "reduced twice").
    c.kind = "step";
    c.factor = 0.5f;
    c.milestones = {30, 60};
    auto step = make_schedule(c);
    CHECK(step->lr(0, 29.9) == doctest::Approx(0.1));
    CHECK(step->lr(0, 30.0) == doctest::Approx(0.05));
    CHECK(step->lr(0, 59.5) == doctest::Approx(0.05));
    CHECK(step->lr(0, 60.0) == doctest::Approx(0.025));
    CHECK(step->lr(0, 500.0) == doctest::Approx(0.025));
}

TEST_CASE("schedules: cosine annealing with restarts and its cycle ends") {
    // lr = 0.1/2 (1 + cos(pi frac)), cycles of 10 epochs.
    ScheduleConfig c;
    c.kind = "cosine";
    c.lr = 0.1f;
    c.cycle_epochs = 10.0f;
    auto cos = make_schedule(c);
    CHECK(cos->lr(0, 0.0) == doctest::Approx(0.1));
    CHECK(cos->lr(0, 5.0) == doctest::Approx(0.05));
    CHECK(cos->lr(0, 9.999) < 1e-6f);
    CHECK(cos->lr(0, 10.0) == doctest::Approx(0.1));  // restart
    CHECK(cos->lr(0, 12.5) == doctest::Approx(0.05 * (1 + std::cos(M_PI / 4))));
    std::vector<int> ends;
    for (int e = 0; e <= 30; ++e)
        if (cos->cycle_ends(e)) ends.push_back(e);
    CHECK(ends == std::vector<int>{10, 20, 30});
}

TEST_CASE("schedules: linear warm-up composes with the others") {
    // Step decay with a 5-epoch warm-up from 0.2 of the lr: factor 0.2 + 0.8 epoch/5.
    ScheduleConfig c;
    c.kind = "step";
    c.lr = 0.1f;
    c.factor = 0.1f;
    c.milestones = {10};
    c.warmup_epochs = 5.0f;
    c.warmup_start = 0.2f;
    auto s = make_schedule(c);
    CHECK(s->lr(0, 0.0) == doctest::Approx(0.02));
    CHECK(s->lr(0, 2.5) == doctest::Approx(0.06));
    CHECK(s->lr(0, 5.0) == doctest::Approx(0.1));
    CHECK(s->lr(0, 10.0) == doctest::Approx(0.01));
    c.kind = "cosine";
    c.cycle_epochs = 4.0f;
    CHECK(make_schedule(c)->cycle_ends(8));
}

TEST_CASE("schedules: invalid configurations") {
    using E = std::invalid_argument;
    ScheduleConfig c;
    c.kind = "exponential";
    CHECK_THROWS_WITH_AS(make_schedule(c),
                         "make_schedule: unknown schedule 'exponential' (known: constant, robbins-monro, step, cosine, batch-growth)", E);
    c = {};
    c.lr = 0.0f;
    CHECK_THROWS_WITH_AS(make_schedule(c), "Invalid lr for schedule constant: 0 (expected 0 < lr < inf)", E);
    c = {};
    c.kind = "robbins-monro";
    c.tau = 0.0f;
    CHECK_THROWS_WITH_AS(make_schedule(c), "Invalid tau for schedule robbins-monro: 0 (expected 0 < tau < inf)", E);
    c = {};
    c.kind = "step";
    c.factor = 2.0f;
    CHECK_THROWS_WITH_AS(make_schedule(c), "Invalid factor for schedule step: 2 (expected 0 < factor <= 1)", E);
    c.factor = 0.1f;
    c.milestones = {30, 20};
    CHECK_THROWS_WITH_AS(make_schedule(c),
                         "step schedule: milestones must be increasing epochs > 0, got 20 at position 1", E);
    c = {};
    c.kind = "cosine";
    c.cycle_epochs = 0.0f;
    CHECK_THROWS_WITH_AS(make_schedule(c), "Invalid cycle_epochs for schedule cosine: 0 (expected 0 < cycle_epochs < inf)", E);
    c.cycle_epochs = 10.0f;
    c.lr_min = 1.0f;
    CHECK_THROWS_WITH_AS(make_schedule(c), "Invalid lr_min for schedule cosine: 1 (expected 0 <= lr_min <= lr)", E);
    c = {};
    c.warmup_epochs = -1.0f;
    CHECK_THROWS_WITH_AS(make_schedule(c), "Invalid warmup_epochs for schedule constant: -1 (expected 0 <= warmup_epochs < inf)", E);
    c = {};
    c.warmup_start = 0.0f;
    CHECK_THROWS_WITH_AS(make_schedule(c), "Invalid warmup_start for schedule constant: 0 (expected 0 < warmup_start <= 1)", E);
}

TEST_CASE("batch scaling: N_g = max(1, N'_g/B), eta = B eta'/N_g") {
    // eta' = 0.001, N'_g = 100:
    // B = 10:  N_g = 10, eta = 10 * 0.001/10 = 0.001, momentum-ema lr = B eta' = 0.01
    // B = 400: N'_g/B = 0.25 -> N_g = 1 (no momentum), eta = 0.4 (linear scaling)
    const BatchScaled b10 = scale_for_batch(0.001f, 100.0f, 10);
    CHECK(b10.n_g == doctest::Approx(10.0));
    CHECK(b10.lr == doctest::Approx(0.001));
    CHECK(b10.lr_ema == doctest::Approx(0.01));
    const BatchScaled b400 = scale_for_batch(0.001f, 100.0f, 400);
    CHECK(b400.n_g == doctest::Approx(1.0));
    CHECK(b400.lr == doctest::Approx(0.4));
    CHECK(b400.lr_ema == doctest::Approx(0.4));
    // The rule keeps the product N_g B (examples averaged by the momentum) at N'_g while N_g >= 1,
    // and lr_ema = N_g lr (the momentum/momentum-ema conjugacy).
    for (int B : {1, 2, 5, 25, 100}) {
        const BatchScaled s = scale_for_batch(0.001f, 100.0f, B);
        CHECK(s.n_g * B == doctest::Approx(100.0));
        CHECK(s.lr_ema == doctest::Approx(s.n_g * s.lr));
    }
    CHECK_THROWS_WITH_AS(scale_for_batch(0.001f, 100.0f, 0),
                         "Invalid batch for scale_for_batch: 0 (expected batch >= 1)", std::invalid_argument);
    CHECK_THROWS_AS(scale_for_batch(0.001f, 0.5f, 4), std::invalid_argument);
    CHECK_THROWS_AS(scale_for_batch(0.0f, 10.0f, 4), std::invalid_argument);
}

TEST_CASE("batch growth: multiply B where step decay would divide eta, then decay eta at the cap") {
    BatchGrowthConfig c;
    c.batch = 128;
    c.growth = 5.0f;
    c.milestones = {60, 120, 160};
    c.max_batch = 5000;
    CHECK(batch_growth_at(c, 0).batch == 128);
    CHECK(batch_growth_at(c, 59).lr_factor == 1.0f);
    CHECK(batch_growth_at(c, 60).batch == 640);
    CHECK(batch_growth_at(c, 120).batch == 3200);
    const BatchGrowth capped = batch_growth_at(c, 160);  // 16000 > 5000: decay eta instead
    CHECK(capped.batch == 3200);
    CHECK(capped.lr_factor == doctest::Approx(0.2));
    c.growth = 1.0f;
    CHECK_THROWS_WITH_AS(batch_growth_at(c, 0), "Invalid growth for batch_growth_at: 1 (expected growth > 1)",
                         std::invalid_argument);
}

TEST_CASE("diagnostics: B* = 16 sigma^2/g^2 and the gradient noise scale") {
    // grad = (1, 0.5), grad_sq = (2, 1.25): sigma^2 = (1, 1); B* = (16, 64).
    Parameter w("w", Shape{2});
    w.grad[0] = 1.0f;
    w.grad[1] = 0.5f;
    w.grad_sq = Tensor(Shape{2}, std::vector<float>{2.0f, 1.25f});
    w.stats_batch = 8;
    std::vector<float> b_star;
    critical_batch_sizes(w, b_star);
    REQUIRE(b_star.size() == 2);
    CHECK(b_star[0] == doctest::Approx(16.0));
    CHECK(b_star[1] == doctest::Approx(64.0));
    // A second parameter: grad = 2, grad_sq = 7, sigma^2 = 3.
    // noise scale = (1 + 1 + 3)/(1 + 0.25 + 4) = 5/5.25
    Parameter b("b", Shape{1});
    b.grad[0] = 2.0f;
    b.grad_sq = Tensor(Shape{1}, 7.0f);
    b.stats_batch = 8;
    const NoiseScale s = gradient_noise_scale({&w, &b});
    CHECK(s.sum_variance == doctest::Approx(5.0));
    CHECK(s.sum_grad_sq == doctest::Approx(5.25));
    CHECK(s.noise_scale == doctest::Approx(5.0 / 5.25));
    b.stats_batch = 0;
    CHECK_THROWS_WITH_AS(gradient_noise_scale({&w, &b}),
                         "gradient_noise_scale: parameter 'b' has no per-example statistics (turn them "
                         "on with tape.set_statistics(true))",
                         std::invalid_argument);
}

}  // TEST_SUITE

TEST_CASE("registry: optimizer_defaults lists each algorithm's options with their defaults") {
    CHECK(dl::optimizer_defaults("sgd") == "lr=0.1");
    CHECK(dl::optimizer_defaults("momentum") == "lr=0.03 n_g=10 nesterov=false");
    CHECK(dl::optimizer_defaults("adam") == "lr=0.001 n_g=10 n_s=1000 eps=1e-08 weight_decay=0");
    CHECK(dl::optimizer_defaults("adaptive").find("k=10 lambda_b=16") != std::string::npos);
    for (const std::string& n : dl::optimizer_names()) CHECK_FALSE(dl::optimizer_defaults(n).empty());
    CHECK_THROWS_AS(dl::optimizer_defaults("nope"), std::invalid_argument);
}
