// step-decay. Lecture, "MCMC models of SGD" (the ResNet plots): "In all cases
// eta is reduced twice, each time by a factor of 2", and the loss drops
// visibly at each reduction. (The ResNet paper, He et al. 2016, divides eta by
// 10 each time; we run both factors.)
// A small MLP (784-64-10) on a Fashion-MNIST subset with optim/'s sgd and
// optim/'s step schedule (milestones at 1/2 and 3/4 of training) against a
// constant eta. The drop at a milestone: how much lower the loss is than with
// the constant eta just after it.
#include <cmath>

#include "apps/lecture/experiments.h"
#include "apps/lecture/training.h"
#include "optim/registry.h"
#include "optim/schedule.h"

namespace dl::lecture {

namespace {

constexpr int kPoints = 40, kEpochs = 4;

Curve run(float factor, const FashionSubset& data, const Features& eval, long steps, uint64_t seed) {
    ScheduleConfig sc;
    sc.kind = factor < 1.0f ? "step" : "constant";
    sc.lr = 0.1f;
    sc.factor = factor < 1.0f ? factor : 0.1f;
    if (factor < 1.0f) sc.milestones = {2, 3};
    const auto schedule = make_schedule(sc);
    Net net({784, 64, 10}, seed);
    OptimizerConfig c;
    c.lr = sc.lr;
    auto opt = make_optimizer("sgd", net.parameters(), c);
    Rng rng(seed + 1);
    const double steps_per_epoch = static_cast<double>(steps) / kEpochs;
    return train_curve(net, *opt, data.train, eval, 32, steps, kPoints, rng,
                       [&](long t) { opt->set_lr(schedule->lr(t, t / steps_per_epoch)); });
}

// The runs share their initialisation and batches, so they agree until the
// first milestone; the drop at checkpoint i is how much lower the decayed
// run's loss is than the constant run's over the 4 checkpoints after i.
double drop(const Curve& decayed, const Curve& constant, size_t i) {
    double a = 0.0, b = 0.0;
    for (size_t k = i + 1; k <= i + 4; ++k) a += decayed.loss[k], b += constant.loss[k];
    return 1.0 - a / b;
}

}  // namespace

Result step_decay(const Settings& s) {
    Result r;
    r.name = "step-decay";
    const SingleThread single_thread;
    const FashionSubset data = load_fashion(s.quick ? 4000 : 30000, 1000, s.seed, 3.0f);
    const Features eval = first_examples(data.train, 1000);
    const long steps = s.quick ? 800 : 8000;
    const Curve constant = run(1.0f, data, eval, steps, s.seed);
    const Curve half = run(0.5f, data, eval, steps, s.seed);
    const Curve tenth = run(0.1f, data, eval, steps, s.seed);
    const size_t m1 = kPoints / 2, m2 = kPoints * 3 / 4;  // checkpoints at the milestones
    const double drop_tenth_1 = drop(tenth, constant, m1), drop_tenth_2 = drop(tenth, constant, m2);
    const double drop_half_1 = drop(half, constant, m1), drop_half_2 = drop(half, constant, m2);
    r.checks.push_back(check_at_least("eta / 10 (ResNet): a visible drop at the first reduction (loss below constant eta)",
                                      drop_tenth_1, 0.03));
    r.checks.push_back(check_at_least("eta / 10: a visible drop at the second reduction", drop_tenth_2, 0.03, false));
    r.checks.push_back(check_at_least("eta / 2 (as the lecture says): a visible drop at the first reduction",
                                      drop_half_1, 0.03, false));
    r.checks.push_back(check_at_least("eta / 2: a visible drop at the second reduction", drop_half_2, 0.03, false));
    r.summary = "training loss below the constant-eta run just after the two reductions: " +
                fmt(100 * drop_tenth_1, 3) + "% and " + fmt(100 * drop_tenth_2, 3) + "% for eta/10, " +
                fmt(100 * drop_half_1, 3) + "% and " + fmt(100 * drop_half_2, 3) + "% for eta/2; final loss " +
                fmt(constant.loss.back(), 3) + " (constant) vs " + fmt(tenth.loss.back(), 3) + " (eta/10 twice)";
    Table t{{"examples", "constant", "halved_twice", "divided_by_10_twice"}, {}};
    for (size_t i = 0; i < constant.loss.size(); ++i)
        t.add({constant.examples[i], constant.loss[i], half.loss[i], tenth.loss[i]});
    save_table(r, s, t,
               {{"SGD, eta reduced at 1/2 and 3/4 of training", "examples seen", "training loss", "examples",
                 {"constant", "halved_twice", "divided_by_10_twice"}, false, true, "lines"}});
    return r;
}

}  // namespace dl::lecture
