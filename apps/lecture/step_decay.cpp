// step-decay. Lecture, "MCMC models of SGD" (the ResNet plots): "In all cases
// eta is reduced twice, each time by a factor of 2", and the error drops
// visibly at each reduction (thick lines: validation error). The ResNet paper
// (He et al. 2016, section 3.4) divides eta by 10 each time, not by 2: we run
// both factors.
// A small MLP (784-64-10) on a Fashion-MNIST subset with optim/'s sgd and
// optim/'s step schedule (milestones at 1/2 and 3/4 of training) against a
// constant eta, several seeds. A run and its constant-eta twin share the
// initialisation and the batches, so they agree until the first milestone; the
// drop at a milestone is how much lower the decayed run's validation error
// (test images never trained on) is than its twin's over the 4 checkpoints
// after it, paired by seed, with a 95% CI over seeds.
#include <algorithm>
#include <cmath>

#include "apps/lecture/experiments.h"
#include "apps/lecture/training.h"
#include "optim/registry.h"
#include "optim/schedule.h"

namespace dl::lecture {

namespace {

constexpr int kPoints = 32, kEpochs = 4;

struct Trace {
    std::vector<double> examples, train_loss, val_error;
};

Trace run(float factor, const FashionSubset& data, const Features& eval, long steps, uint64_t seed) {
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
    Tape tape;
    Trace tr;
    const double steps_per_epoch = static_cast<double>(steps) / kEpochs;
    for (long t = 0; t <= steps; ++t) {
        if (t % (steps / kPoints) == 0) {
            tr.examples.push_back(static_cast<double>(t) * 32);
            tr.train_loss.push_back(evaluate(net, eval, tape).loss);
            tr.val_error.push_back(1.0 - evaluate(net, data.test, tape).accuracy);
        }
        if (t == steps) break;
        opt->set_lr(schedule->lr(t, t / steps_per_epoch));
        train_step(net, *opt, data.train, 32, rng, tape);
    }
    return tr;
}

// Paired drops over seeds: (constant - decayed)/constant of the validation
// error over the 4 checkpoints after checkpoint i.
Interval drop(const std::vector<Trace>& decayed, const std::vector<Trace>& constant, size_t i) {
    std::vector<double> d;
    for (size_t k = 0; k < decayed.size(); ++k) {
        double a = 0.0, b = 0.0;
        for (size_t j = i + 1; j <= i + 4; ++j) a += decayed[k].val_error[j], b += constant[k].val_error[j];
        d.push_back(1.0 - a / b);
    }
    return mean_ci95(d);
}

}  // namespace

Result step_decay(const Settings& s) {
    Result r;
    r.name = "step-decay";
    const SingleThread single_thread;
    const FashionSubset data = load_fashion(s.quick ? 4000 : 30000, s.quick ? 1000 : 5000, s.seed, 3.0f);
    const Features eval = first_examples(data.train, 1000);
    const long steps = s.quick ? 640 : 6400;
    const int seeds = s.quick ? 3 : 5;
    std::vector<Trace> constant, half, tenth;
    for (int k = 0; k < seeds; ++k) {
        const uint64_t seed = s.seed + 100 * static_cast<uint64_t>(k);
        constant.push_back(run(1.0f, data, eval, steps, seed));
        half.push_back(run(0.5f, data, eval, steps, seed));
        tenth.push_back(run(0.1f, data, eval, steps, seed));
    }
    const size_t m1 = kPoints / 2, m2 = kPoints * 3 / 4;  // checkpoints at the milestones
    const Interval tenth_1 = drop(tenth, constant, m1), tenth_2 = drop(tenth, constant, m2);
    const Interval half_1 = drop(half, constant, m1), half_2 = drop(half, constant, m2);
    r.checks.push_back(check_at_least("eta / 10 (ResNet): the validation error drops at the first reduction (lower end "
                                      "of the 95% CI of the paired relative drop)",
                                      tenth_1.lo(), 0.0));
    r.checks.push_back(check_at_least("eta / 10: a drop at the second reduction (lower end of the CI)", tenth_2.lo(), 0.0,
                                      false));
    r.checks.push_back(check_at_least("eta / 2 (as the lecture says): a drop at the first reduction (lower end of the CI)",
                                      half_1.lo(), 0.0, false));
    r.checks.push_back(check_at_least("eta / 2: a drop at the second reduction (lower end of the CI)", half_2.lo(), 0.0,
                                      false));
    auto pct = [](const Interval& i) { return fmt(100 * i.mean, 3) + " +- " + fmt(100 * i.half, 2) + "%"; };
    std::vector<double> final_c, final_t, final_h;
    for (int k = 0; k < seeds; ++k)
        final_c.push_back(constant[k].val_error.back()), final_t.push_back(tenth[k].val_error.back()),
            final_h.push_back(half[k].val_error.back());
    r.summary = "validation error below the constant-eta twin just after the two reductions (95% CI over " +
                std::to_string(seeds) + " seeds): eta/10 (He et al.) " + pct(tenth_1) + " and " + pct(tenth_2) +
                ", eta/2 (the slide's \"factor of 2\") " + pct(half_1) + " and " + pct(half_2) +
                "; final validation error " + fmt(100 * mean_of(final_c), 3) + "% (constant), " +
                fmt(100 * mean_of(final_h), 3) + "% (eta/2 twice), " + fmt(100 * mean_of(final_t), 3) +
                "% (eta/10 twice). The ResNet paper divides by 10, not 2 (slide \"MCMC models of SGD\")";

    Table t{"", {"examples"}, {}};
    for (const char* name : {"constant", "halved_twice", "divided_by_10_twice"})
        for (const char* what : {"val_error", "val_error_lo", "val_error_hi", "train_loss"})
            t.header.push_back(std::string(name) + "_" + what);
    for (size_t i = 0; i < constant[0].examples.size(); ++i) {
        std::vector<double> row = {constant[0].examples[i]};
        for (const auto* family : {&constant, &half, &tenth}) {
            std::vector<double> err, loss;
            for (const Trace& tr : *family) err.push_back(100 * tr.val_error[i]), loss.push_back(tr.train_loss[i]);
            const Interval e = mean_ci95(err);
            row.insert(row.end(), {e.mean, e.lo(), e.hi(), mean_of(loss)});
        }
        t.add(row);
    }
    const double x1 = constant[0].examples[m1] * 1e-3, x2 = constant[0].examples[m2] * 1e-3;
    // Show the second half of the first half onwards: the drops are a few percent of a curve that starts at 90%.
    const size_t from = kPoints / 4;
    double err_lo = 1e30, err_hi = 0.0, loss_lo = 1e30, loss_hi = 0.0;
    for (size_t i = from; i < t.rows.size(); ++i)
        for (size_t f = 0; f < 3; ++f) {
            err_lo = std::min(err_lo, t.rows[i][1 + 4 * f + 1]), err_hi = std::max(err_hi, t.rows[i][1 + 4 * f + 2]);
            loss_lo = std::min(loss_lo, t.rows[i][1 + 4 * f + 3]), loss_hi = std::max(loss_hi, t.rows[i][1 + 4 * f + 3]);
        }
    const double x0 = constant[0].examples[from] * 1e-3, x_end = constant[0].examples.back() * 1e-3;
    auto series = [](const std::string& what, bool band) {
        std::vector<Series> out;
        const std::vector<std::pair<std::string, std::string>> names = {
            {"constant", "constant eta"}, {"halved_twice", "eta / 2 twice"}, {"divided_by_10_twice", "eta / 10 twice"}};
        for (size_t k = 0; k < names.size(); ++k) {
            const std::string c = names[k].first + "_" + what;
            if (band) out.push_back({c, "", Style::Band, static_cast<int>(k), c + "_lo", c + "_hi"});
            out.push_back({c, names[k].second, Style::MeasuredLine, static_cast<int>(k)});
        }
        return out;
    };
    save_figure(r, s, {t},
                {{"validation error (mean and 95% CI over " + std::to_string(seeds) + " seeds)",
                  "thousands of examples seen", "validation error (%)", "examples", series("val_error", true), 0, 1e-3,
                  false, false, x0, x_end, err_lo - 0.05 * (err_hi - err_lo), err_hi + 0.05 * (err_hi - err_lo),
                  {{x1, "eta reduced"}, {x2, "again"}}},
                 {"training loss (mean over seeds)", "thousands of examples seen", "training loss", "examples",
                  series("train_loss", false), 0, 1e-3, false, false, x0, x_end, loss_lo - 0.05 * (loss_hi - loss_lo),
                  loss_hi + 0.05 * (loss_hi - loss_lo), {{x1, "eta reduced"}, {x2, "again"}}}});
    return r;
}

}  // namespace dl::lecture
