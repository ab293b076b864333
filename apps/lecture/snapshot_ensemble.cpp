// snapshot-ensemble. Lecture, "SGD as a form of MCMC: Learning Rate as a
// Temperature Parameter" (citing Gao Huang et al., "Snapshot Ensembles: Train
// 1, get M for free", ICLR 2017): SGD at a high learning rate wanders like a
// sampler; cosine annealing with restarts lets it settle into a different
// minimum in every cycle, and averaging the models saved at the end of each
// cycle (the snapshots) gives an ensemble at the cost of one run.
// An MLP (784-100-10) on a Fashion-MNIST subset, optim/'s sgd with optim/'s
// cosine schedule restarted every 3 epochs (M = 4 cycles), over a sweep of the
// restart learning rate eta_0 (the temperature) and several seeds. We compare
// the test error of
//   the last snapshot (the single model that training returns),
//   the snapshot ensemble (mean of the M snapshots' class probabilities),
//   ensembles of the last snapshots of M independent runs (M times the cost),
// and measure how much consecutive snapshots disagree against how much
// independent runs do (the fraction of test images they classify differently).
#include <algorithm>
#include <cmath>

#include "apps/lecture/experiments.h"
#include "apps/lecture/training.h"
#include "layers/evaluate.h"
#include "optim/registry.h"
#include "optim/schedule.h"

namespace dl::lecture {

namespace {

constexpr int kBatch = 64, kCycles = 4;
constexpr float kCycleEpochs = 3.0f;

// Class probabilities on the test set of the snapshot at the end of each cycle.
std::vector<std::vector<float>> snapshots(const FashionSubset& data, float lr, uint64_t seed) {
    ScheduleConfig sc;
    sc.kind = "cosine";
    sc.lr = lr;
    sc.cycle_epochs = kCycleEpochs;
    const auto schedule = make_schedule(sc);
    Net net({784, 100, 10}, seed);
    OptimizerConfig c;
    c.lr = sc.lr;
    auto opt = make_optimizer("sgd", net.parameters(), c);
    Rng rng(seed + 1);
    Tape tape;
    const long per_epoch = data.train.count() / kBatch, per_cycle = static_cast<long>(kCycleEpochs * per_epoch);
    std::vector<std::vector<float>> out;
    for (long t = 0; t < kCycles * per_cycle; ++t) {
        opt->set_lr(schedule->lr(t, static_cast<double>(t) / per_epoch));
        train_step(net, *opt, data.train, kBatch, rng, tape);
        if ((t + 1) % per_cycle == 0) out.push_back(predict_probabilities(net, data.test, tape));
    }
    return out;
}

std::vector<float> average(const std::vector<const std::vector<float>*>& members) {
    std::vector<float> mean(members[0]->size(), 0.0f);
    for (const auto* m : members)
        for (size_t i = 0; i < mean.size(); ++i) mean[i] += (*m)[i] / static_cast<float>(members.size());
    return mean;
}

// Fraction of examples on which the two models' top classes differ.
double disagreement(const std::vector<float>& a, const std::vector<float>& b, int count) {
    const size_t C = a.size() / static_cast<size_t>(count);
    double differ = 0.0;
    for (size_t r = 0; r < static_cast<size_t>(count); ++r) {
        const float* pa = a.data() + r * C;
        const float* pb = b.data() + r * C;
        differ += predicted_class(pa, static_cast<int>(C)) != predicted_class(pb, static_cast<int>(C));
    }
    return differ / count;
}

// Everything measured at one eta_0 (errors in percent).
struct AtRate {
    std::vector<std::vector<double>> alone, last_m;  // [m - 1][run]: snapshot m alone, ensemble of the last m
    std::vector<double> gain;                        // per run: snapshot ensemble minus last snapshot
    std::vector<double> independent;                 // every ensemble of M independent runs
    double snapshot_disagreement = 0.0, independent_disagreement = 0.0;
};

AtRate measure(const FashionSubset& data, float lr, int runs, uint64_t seed) {
    std::vector<std::vector<std::vector<float>>> snaps;
    for (int k = 0; k < runs; ++k) snaps.push_back(snapshots(data, lr, seed + 100 * static_cast<uint64_t>(k)));
    AtRate a;
    a.alone.resize(kCycles), a.last_m.resize(kCycles);
    std::vector<double> dis;
    for (int k = 0; k < runs; ++k) {
        for (int c = 0; c < kCycles; ++c) {
            a.alone[c].push_back(100 * error_rate(snaps[k][c], data.test));
            std::vector<const std::vector<float>*> members;
            for (int j = kCycles - 1 - c; j < kCycles; ++j) members.push_back(&snaps[k][j]);
            a.last_m[c].push_back(100 * error_rate(average(members), data.test));
        }
        a.gain.push_back(a.last_m[kCycles - 1].back() - a.alone[kCycles - 1].back());
        for (int c = 0; c + 1 < kCycles; ++c) dis.push_back(100 * disagreement(snaps[k][c], snaps[k][c + 1], data.test.count()));
    }
    a.snapshot_disagreement = mean_of(dis);
    for (int mask = 0; mask < (1 << runs); ++mask) {
        if (__builtin_popcount(static_cast<unsigned>(mask)) != kCycles) continue;
        std::vector<const std::vector<float>*> members;
        for (int k = 0; k < runs; ++k)
            if (mask & (1 << k)) members.push_back(&snaps[k][kCycles - 1]);
        a.independent.push_back(100 * error_rate(average(members), data.test));
    }
    dis.clear();
    for (int i = 0; i < runs; ++i)
        for (int j = i + 1; j < runs; ++j)
            dis.push_back(100 * disagreement(snaps[i][kCycles - 1], snaps[j][kCycles - 1], data.test.count()));
    a.independent_disagreement = mean_of(dis);
    return a;
}

}  // namespace

Result snapshot_ensemble(const Settings& s) {
    Result r;
    r.name = "snapshot-ensemble";
    const SingleThread single_thread;
    const FashionSubset data = load_fashion(s.quick ? 3000 : 20000, s.quick ? 1000 : 5000, s.seed, 3.0f);
    const int runs = s.quick ? 4 : 6;  // at least M = 4 for an independent ensemble
    const std::vector<float> lrs = s.quick ? std::vector<float>{0.5f} : std::vector<float>{0.1f, 0.2f, 0.5f};
    std::vector<AtRate> at;
    for (float lr : lrs) at.push_back(measure(data, lr, runs, s.seed));

    Table sweep{"", {"eta0", "last", "last_lo", "last_hi", "snapshot_ensemble", "snapshot_ensemble_lo",
                     "snapshot_ensemble_hi", "independent", "independent_lo", "independent_hi"}, {}};
    int helps = 0;
    size_t best_last = 0, best_ensemble = 0, most_gain = 0;
    std::string per_rate;
    for (size_t i = 0; i < lrs.size(); ++i) {
        const Interval last = mean_ci95(at[i].alone[kCycles - 1]), ens = mean_ci95(at[i].last_m[kCycles - 1]);
        const Interval g = mean_ci95(at[i].gain);
        const auto [lo, hi] = std::minmax_element(at[i].independent.begin(), at[i].independent.end());
        sweep.add({lrs[i], last.mean, last.lo(), last.hi(), ens.mean, ens.lo(), ens.hi(), mean_of(at[i].independent),
                   *lo, *hi});
        helps += g.hi() < 0.0;
        if (last.mean < mean_of(at[best_last].alone[kCycles - 1])) best_last = i;
        if (ens.mean < mean_of(at[best_ensemble].last_m[kCycles - 1])) best_ensemble = i;
        if (g.mean < mean_of(at[most_gain].gain)) most_gain = i;
        per_rate += (i ? "; " : "") + std::string("eta_0 = ") + fmt(lrs[i], 2) + ": last snapshot " + fmt(last.mean, 4) +
                    "%, snapshot ensemble " + fmt(ens.mean, 4) + "% (gain " + fmt(-g.mean, 2) + " +- " + fmt(g.half, 2) +
                    "), independent " + fmt(mean_of(at[i].independent), 4) + "%, disagreement " +
                    fmt(at[i].snapshot_disagreement, 2) + "% vs " + fmt(at[i].independent_disagreement, 2) + "%";
    }
    const double best_last_err = mean_of(at[best_last].alone[kCycles - 1]);
    const double best_ens_err = mean_of(at[best_ensemble].last_m[kCycles - 1]);
    double indep_minus_snap = -1e30, dis_snap = 0.0, dis_indep = 0.0;
    for (size_t i = 0; i < lrs.size(); ++i) {
        indep_minus_snap = std::max(indep_minus_snap, mean_of(at[i].independent) - mean_of(at[i].last_m[kCycles - 1]));
        dis_snap += at[i].snapshot_disagreement / lrs.size(), dis_indep += at[i].independent_disagreement / lrs.size();
    }
    r.checks.push_back(check_at_least("snapshot ensemble better than its last snapshot (95% CI of the paired gain above "
                                      "0) at every eta_0 of the sweep (fraction of eta_0)",
                                      double(helps) / lrs.size(), 1.0, false));
    r.checks.push_back(check_at_most("\"train 1, get M for free\": the best snapshot ensemble (over eta_0) vs the best "
                                     "last snapshot (over eta_0), test error (%)",
                                     best_ens_err, best_last_err, false));
    r.checks.push_back(check_at_most("independent runs (M times the cost) at least as good as snapshots at every eta_0: "
                                     "largest mean error difference independent - snapshot ensemble (points)",
                                     indep_minus_snap, 0.0, false));
    r.checks.push_back(check_at_least("snapshots are different models: mean disagreement of consecutive snapshots "
                                      "(% of test images, > 1%)",
                                      dis_snap, 1.0, false));
    r.summary = "test error over " + std::to_string(runs) + " runs per eta_0 (M = " + std::to_string(kCycles) +
                " cycles of " + fmt(kCycleEpochs, 2) + " epochs): " + per_rate + ". Best last snapshot " +
                fmt(best_last_err, 4) + "% (eta_0 " + fmt(lrs[best_last], 2) + "), best snapshot ensemble " +
                fmt(best_ens_err, 4) + "% (eta_0 " + fmt(lrs[best_ensemble], 2) +
                "): snapshots are less diverse than independent runs (slide \"SGD as a form of MCMC\", Huang et al.)";

    const AtRate& g = at[most_gain];
    Table by_m{"by-m", {"m", "snapshot_alone", "snapshot_alone_lo", "snapshot_alone_hi", "ensemble_last_m",
                        "ensemble_last_m_lo", "ensemble_last_m_hi", "independent_ensemble_of_M"}, {}};
    for (int c = 0; c < kCycles; ++c) {
        const Interval a = mean_ci95(g.alone[c]), e = mean_ci95(g.last_m[c]);
        by_m.add({double(c + 1), a.mean, a.lo(), a.hi(), e.mean, e.lo(), e.hi(),
                  c + 1 == kCycles ? mean_of(g.independent) : NAN});
    }
    const Style bars = runs > 1 ? Style::ErrorBars : Style::Measured;
    Panel by_rate{"test error against the restart learning rate (mean, 95% CI over runs)", "eta_0 (log scale)",
                  "test error (%)", "eta0",
                  {{"last", "last snapshot", bars, 1, "last_lo", "last_hi"},
                   {"snapshot_ensemble", "snapshot ensemble (M = 4)", bars, 0, "snapshot_ensemble_lo",
                    "snapshot_ensemble_hi"},
                   {"independent", "4 independent runs (range)", bars, 2, "independent_lo", "independent_hi"}},
                  0, 1.0, true, false};
    by_rate.xtic_list.assign(lrs.begin(), lrs.end());
    save_figure(r, s, {sweep, by_m},
                {by_rate,
                 {"at eta_0 = " + fmt(lrs[most_gain], 2) + ": snapshots alone and ensembles of the last m",
                  "m", "test error (%)", "m",
                  {{"snapshot_alone", "snapshot m alone (cycle m)", bars, 1, "snapshot_alone_lo", "snapshot_alone_hi"},
                   {"ensemble_last_m", "ensemble of the last m snapshots", bars, 0, "ensemble_last_m_lo",
                    "ensemble_last_m_hi"},
                   {"independent_ensemble_of_M", "ensemble of M = 4 independent runs", Style::Points, 2}},
                  1, 1.0, false, false, 0.7, kCycles + 0.3, NAN, NAN, {}, 1.0}});
    return r;
}

}  // namespace dl::lecture
