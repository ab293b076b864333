#include "optim/schedule.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

#include "optim/registry.h"

namespace dl {

namespace {

void check_value(bool ok, const char* who, const char* field, double value, const char* expected) {
    if (ok) return;
    std::ostringstream s;
    s << "Invalid " << field << " for " << who << ": " << value << " (expected " << expected << ")";
    throw std::invalid_argument(s.str());
}

void check_milestones(const std::vector<int>& m, const char* who) {
    for (size_t i = 0; i < m.size(); ++i)
        if (m[i] <= 0 || (i > 0 && m[i] <= m[i - 1]))
            throw std::invalid_argument(std::string(who) + ": milestones must be increasing epochs > 0, got " +
                                        std::to_string(m[i]) + " at position " + std::to_string(i));
}

// Number of milestones m <= epoch.
int passed(const std::vector<int>& milestones, int epoch) {
    return static_cast<int>(std::upper_bound(milestones.begin(), milestones.end(), epoch) -
                            milestones.begin());
}

class Constant : public Schedule {
public:
    explicit Constant(float lr) : lr_(lr) {}
    float lr(long, double) const override { return lr_; }
private:
    float lr_;
};

class RobbinsMonro : public Schedule {
public:
    RobbinsMonro(float lr, float tau) : lr_(lr), tau_(tau) {}
    float lr(long step, double) const override {
        return static_cast<float>(lr_ / (1.0 + static_cast<double>(step) / tau_));
    }
private:
    float lr_, tau_;
};

class StepDecay : public Schedule {
public:
    StepDecay(float lr, float factor, std::vector<int> milestones)
        : lr_(lr), factor_(factor), milestones_(std::move(milestones)) {}
    float lr(long, double epoch) const override {
        const int k = passed(milestones_, static_cast<int>(std::floor(epoch)));
        return static_cast<float>(lr_ * std::pow(static_cast<double>(factor_), k));
    }
private:
    float lr_, factor_;
    std::vector<int> milestones_;
};

class CosineRestarts : public Schedule {
public:
    CosineRestarts(float lr, float lr_min, float cycle) : lr_(lr), lr_min_(lr_min), cycle_(cycle) {}
    float lr(long, double epoch) const override {
        const double frac = std::fmod(epoch, static_cast<double>(cycle_)) / cycle_;
        const double pi = 3.141592653589793;
        return static_cast<float>(lr_min_ + 0.5 * (lr_ - lr_min_) * (1.0 + std::cos(pi * frac)));
    }
    // A cycle ends when completed_epochs reaches a multiple of the cycle length.
    bool cycle_ends(int completed_epochs) const override {
        if (completed_epochs <= 0) return false;
        const double cycles = completed_epochs / static_cast<double>(cycle_);
        const double prev = (completed_epochs - 1) / static_cast<double>(cycle_);
        return std::floor(cycles + 1e-9) > std::floor(prev + 1e-9);
    }
private:
    float lr_, lr_min_, cycle_;
};

class Warmup : public Schedule {
public:
    Warmup(std::unique_ptr<Schedule> inner, float epochs, float start)
        : inner_(std::move(inner)), epochs_(epochs), start_(start) {}
    float lr(long step, double epoch) const override {
        const double ramp = std::min(1.0, epoch / epochs_);
        return static_cast<float>(inner_->lr(step, epoch) * (start_ + (1.0 - start_) * ramp));
    }
    bool cycle_ends(int completed_epochs) const override { return inner_->cycle_ends(completed_epochs); }
    int batch_size(int epoch, int configured) const override { return inner_->batch_size(epoch, configured); }
private:
    std::unique_ptr<Schedule> inner_;
    float epochs_, start_;
};

// Smith et al.: the inner schedule's lr times batch_growth_at's lr_factor, and
// its batch size. (The factor multiplies the warmed-up lr, in that order.)
class BatchGrowthSchedule : public Schedule {
public:
    BatchGrowthSchedule(std::unique_ptr<Schedule> inner, BatchGrowthConfig growth)
        : inner_(std::move(inner)), growth_(std::move(growth)) {
        batch_growth_at(growth_, 0);  // checks the configuration once, here
    }
    float lr(long step, double epoch) const override {
        return inner_->lr(step, epoch) * batch_growth_at(growth_, static_cast<int>(epoch)).lr_factor;
    }
    bool cycle_ends(int completed_epochs) const override { return inner_->cycle_ends(completed_epochs); }
    int batch_size(int epoch, int) const override { return batch_growth_at(growth_, epoch).batch; }
private:
    std::unique_ptr<Schedule> inner_;
    BatchGrowthConfig growth_;
};

// Every option of every schedule, with its range and help: the one place they are declared.
const OptionTable<ScheduleConfig>& config_table() {
    using C = ScheduleConfig;
    static const OptionTable<C> table{
        option("tau", &C::tau, "steps until eta halves: eta_t = eta_0/(1 + t/tau)", above(0)),
        option("milestones", &C::milestones, "epochs (increasing) where eta drops, or the batch grows", at_least(1)),
        option("factor", &C::factor, "multiplier of eta at each milestone (batch-growth: the batch grows by 1/factor)",
               above_up_to(0, 1))
            .also_flag("--decay"),
        option("cycle_epochs", &C::cycle_epochs, "length of a cosine cycle in epochs", above(0)),
        option("lr_min", &C::lr_min, "eta at the end of a cycle (at most the base lr)", at_least(0)),
        option("max_batch", &C::max_batch, "the batch grows up to max(batch size, max_batch)", at_least(1)),
        option("warmup_epochs", &C::warmup_epochs, "epochs of linear warm-up (0: none)", at_least(0)),
        option("warmup_start", &C::warmup_start, "the warm-up starts at this fraction of eta", above_up_to(0, 1)),
    };
    return table;
}

// The options each kind takes (warm-up applies to all).
std::vector<std::string> options_of(const std::string& kind) {
    std::vector<std::string> names;
    if (kind == "robbins-monro") names = {"tau"};
    if (kind == "step") names = {"milestones", "factor"};
    if (kind == "cosine") names = {"cycle_epochs", "lr_min"};
    if (kind == "batch-growth") names = {"milestones", "factor", "max_batch"};
    names.insert(names.end(), {"warmup_epochs", "warmup_start"});
    return names;
}

std::unique_ptr<Schedule> make_base(const ScheduleConfig& c) {
    if (c.kind == "constant" || c.kind == "batch-growth") return std::make_unique<Constant>(c.lr);
    if (c.kind == "robbins-monro") return std::make_unique<RobbinsMonro>(c.lr, c.tau);
    if (c.kind == "step") {
        check_milestones(c.milestones, "step schedule");
        return std::make_unique<StepDecay>(c.lr, c.factor, c.milestones);
    }
    check_value(c.lr_min <= c.lr, "schedule cosine", "lr_min", c.lr_min, "0 <= lr_min <= lr");
    return std::make_unique<CosineRestarts>(c.lr, c.lr_min, c.cycle_epochs);
}

}  // namespace

std::unique_ptr<Schedule> make_schedule(const ScheduleConfig& c) {
    static const char* const kinds[] = {"constant", "robbins-monro", "step", "cosine", "batch-growth"};
    if (std::find(std::begin(kinds), std::end(kinds), c.kind) == std::end(kinds))
        throw std::invalid_argument("make_schedule: unknown schedule '" + c.kind +
                                    "' (known: constant, robbins-monro, step, cosine, batch-growth)");
    const std::string who = "schedule " + c.kind;
    check_value(std::isfinite(c.lr) && c.lr > 0.0f, who.c_str(), "lr", c.lr, "0 < lr < inf");
    config_table().subset(options_of(c.kind)).validate(c, who);
    auto s = make_base(c);
    if (c.warmup_epochs > 0.0f) s = std::make_unique<Warmup>(std::move(s), c.warmup_epochs, c.warmup_start);
    if (c.kind != "batch-growth") return s;
    check_value(c.batch_size >= 1, who.c_str(), "batch_size", c.batch_size, "batch_size >= 1");
    BatchGrowthConfig g;
    g.batch = c.batch_size;
    g.growth = 1.0f / c.factor;
    g.milestones = c.milestones;
    g.max_batch = std::max(c.batch_size, c.max_batch);
    return std::make_unique<BatchGrowthSchedule>(std::move(s), std::move(g));
}

// ---- The registry's entries ----------------------------------------------------

namespace {

// An entry whose options are the fields of ScheduleConfig that `kind` takes.
ScheduleEntry config_entry(const char* name, const char* help, ScheduleConfig defaults) {
    auto build = [](const ScheduleContext& context, ScheduleConfig c) {
        c.lr = context.lr;
        c.batch_size = context.batch_size;
        return make_schedule(c);
    };
    const auto table = config_table().subset(options_of(defaults.kind));
    return ScheduleEntry::of<ScheduleConfig>(name, help, table, build, defaults);
}

ScheduleConfig of_kind(const char* kind) {
    ScheduleConfig c;
    c.kind = kind;
    return c;
}

}  // namespace

ScheduleEntry constant_schedule_entry() {
    return config_entry("constant", "eta = eta_0", of_kind("constant"));
}

ScheduleEntry robbins_monro_schedule_entry() {
    return config_entry("robbins-monro",
                        "eta_t = eta_0/(1 + t/tau): eta -> 0 and sum eta = inf (Classical Convergence Theorem)",
                        of_kind("robbins-monro"));
}

ScheduleEntry step_schedule_entry() {
    return config_entry("step", "eta times factor at each milestone (ResNet: eta reduced twice)", of_kind("step"));
}

ScheduleEntry cosine_restarts_schedule_entry() {
    ScheduleEntry e = config_entry("cosine-restarts",
                                   "cosine annealing with warm restarts every cycle_epochs (SGDR; snapshot ensembles)",
                                   of_kind("cosine"));
    e.cycles = true;
    return e;
}

ScheduleEntry warmup_schedule_entry() {
    ScheduleConfig c = of_kind("constant");
    c.warmup_epochs = 1.0f;
    return config_entry("warmup", "constant eta after a linear warm-up (Goyal et al. 2017)", c);
}

ScheduleEntry batch_growth_schedule_entry() {
    return config_entry("batch-growth",
                        "the batch grows by 1/factor at each milestone instead of eta decaying, up to max_batch, "
                        "then eta decays (Smith et al. 2018)",
                        of_kind("batch-growth"));
}

BatchScaled scale_for_batch(float lr_per_example, float n_g_per_example, int batch) {
    check_value(lr_per_example > 0.0f, "scale_for_batch", "per-example lr", lr_per_example, "lr > 0");
    check_value(n_g_per_example >= 1.0f, "scale_for_batch", "per-example n_g", n_g_per_example, "n_g >= 1");
    check_value(batch >= 1, "scale_for_batch", "batch", batch, "batch >= 1");
    const float B = static_cast<float>(batch);
    const float n_g = std::max(1.0f, n_g_per_example / B);
    return {n_g, B * lr_per_example / n_g, B * lr_per_example};
}

BatchGrowth batch_growth_at(const BatchGrowthConfig& c, int epoch) {
    check_value(c.batch >= 1, "batch_growth_at", "batch", c.batch, "batch >= 1");
    check_value(c.growth > 1.0f, "batch_growth_at", "growth", c.growth, "growth > 1");
    check_value(c.max_batch >= c.batch, "batch_growth_at", "max_batch", c.max_batch, "max_batch >= batch");
    check_milestones(c.milestones, "batch growth");
    BatchGrowth out{c.batch, 1.0f};
    double batch = c.batch;
    for (int k = passed(c.milestones, epoch); k > 0; --k) {
        if (batch * c.growth <= c.max_batch)
            batch *= c.growth;
        else
            out.lr_factor /= c.growth;
    }
    out.batch = static_cast<int>(std::lround(batch));
    return out;
}

}  // namespace dl
