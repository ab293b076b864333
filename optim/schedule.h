// Learning-rate schedules and batch-size rules.
//
// A schedule is a pure function of training progress: lr(step, epoch), where
// step = number of optimizer steps taken before this one (0, 1, ...) and
// epoch = fractional epochs done (epoch e, batch b of n: e + b/n). It keeps no
// state, so resuming needs only the step and epoch of the checkpoint and the
// ScheduleConfig (plain data the trainer builds from its flags and can save).
//
//   constant       eta_t = eta_0
//   robbins-monro  eta_t = eta_0 / (1 + t/tau)   (lecture: "The Classical Convergence
//                  Theorem": eta_t -> 0 and sum_t eta_t = inf)
//   step           eta = eta_0 factor^k, k = number of milestones <= floor(epoch)
//                  (ResNet, He et al. 2016, as the lecture describes it: reduced twice)
//   cosine         eta = eta_min + (eta_0 - eta_min)/2 (1 + cos(pi frac)),
//                  frac = (epoch mod cycle)/cycle: cosine annealing with warm restarts,
//                  the schedule of snapshot ensembles (Huang et al., ICLR 2017, eq. 2;
//                  Loshchilov & Hutter, SGDR), cited by "SGD as a form of MCMC"; a
//                  snapshot is taken where a cycle ends.
//   + warmup       any of them times start + (1 - start) min(1, epoch/warmup_epochs):
//                  linear warm-up (Goyal et al. 2017, "Accurate, Large Minibatch SGD").
//   batch-growth   constant (with its warm-up) whose batch size grows instead of eta
//                  decaying (Smith et al., see batch_growth_at below): batch_size(epoch)
//                  and lr(step, epoch) both follow batch_growth_at.
//
// The registry (optim/registry.h) offers them by the names a command line uses:
// constant, robbins-monro, step, cosine-restarts, warmup (constant with one epoch
// of warm-up), batch-growth; their options are the fields of ScheduleConfig
// listed in schedule.cpp with their ranges and help.
#pragma once
#include <memory>
#include <string>
#include <vector>

namespace dl {

class Schedule {
public:
    virtual ~Schedule() = default;
    virtual float lr(long step, double epoch) const = 0;
    // True when a cosine cycle ends with epoch `completed_epochs` (snapshot time).
    virtual bool cycle_ends(int completed_epochs) const { (void)completed_epochs; return false; }
    // The batch size for `epoch`, given the one the user chose (batch-growth changes it).
    virtual int batch_size(int epoch, int configured) const { (void)epoch; return configured; }
};

struct ScheduleConfig {
    std::string kind = "constant";   // constant | robbins-monro | step | cosine | batch-growth
    float lr = 0.01f;                // eta_0 (> 0)
    float tau = 1000.0f;             // robbins-monro: steps until eta halves (> 0)
    float factor = 0.1f;             // step: multiplier at each milestone (0 < factor <= 1);
                                     // batch-growth: the batch grows by 1/factor instead
    std::vector<int> milestones;     // step, batch-growth: epochs, increasing, > 0
    float cycle_epochs = 10.0f;      // cosine: length of a cycle in epochs (> 0)
    float lr_min = 0.0f;             // cosine: eta_min (0 <= lr_min <= lr)
    float warmup_epochs = 0.0f;      // >= 0; 0: no warm-up
    float warmup_start = 0.1f;       // warm-up starts at this fraction of the schedule (0..1]
    int batch_size = 64;             // batch-growth: the initial batch size (>= 1)
    int max_batch = 4096;            // batch-growth: the batch grows up to max(batch_size, max_batch)
};

// Throws std::invalid_argument naming the bad field.
std::unique_ptr<Schedule> make_schedule(const ScheduleConfig& config);

// The registry's entries of the schedules above (see optim/registry.h).
struct ScheduleEntry;
ScheduleEntry constant_schedule_entry();
ScheduleEntry robbins_monro_schedule_entry();
ScheduleEntry step_schedule_entry();
ScheduleEntry cosine_restarts_schedule_entry();
ScheduleEntry warmup_schedule_entry();
ScheduleEntry batch_growth_schedule_entry();

// "Putting It Together (TZ)": from per-example hyperparameters (eta', N'_g at
// B = 1, N_g = 1) to batch size B.
//     N_g = max(1, N'_g / B)      (the slide prints min(1, N'_g/B); N_g is a time
//                                  constant >= 1, so it must be max)
//     eta = B eta' / N_g          the lr of `momentum` (v-form; eta = eta_B/N_g with
//                                  eta_B = B eta' from "Solving for eta as a function of B")
//     eta_ema = N_g eta = B eta'  the lr (eta') of `momentum-ema` and of `sgd`-like updates
struct BatchScaled {
    float n_g;
    float lr;
    float lr_ema;
};
BatchScaled scale_for_batch(float lr_per_example, float n_g_per_example, int batch);

// Batch-size growth (Smith et al., ICLR 2018, "Don't Decay the Learning Rate,
// Increase the Batch Size"): at each milestone where step decay would multiply
// the lr by 1/growth, multiply the batch size by growth instead; once the
// batch would exceed max_batch, fall back to decaying the lr (their Section 5).
struct BatchGrowth {
    int batch;        // batch size for this epoch
    float lr_factor;  // multiply the base lr by this (1 until the batch size is capped)
};
struct BatchGrowthConfig {
    int batch = 64;               // initial batch size (>= 1)
    float growth = 5.0f;          // > 1 (Smith et al. use 5 where the lr decays by 1/5)
    std::vector<int> milestones;  // epochs, increasing, > 0
    int max_batch = 1 << 30;      // >= batch
};
BatchGrowth batch_growth_at(const BatchGrowthConfig& config, int epoch);

}  // namespace dl
