#include "optim/schedule.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

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
private:
    std::unique_ptr<Schedule> inner_;
    float epochs_, start_;
};

std::unique_ptr<Schedule> make_base(const ScheduleConfig& c) {
    if (c.kind == "constant") return std::make_unique<Constant>(c.lr);
    if (c.kind == "robbins-monro") {
        check_value(c.tau > 0.0f, "the schedule", "tau", c.tau, "tau > 0");
        return std::make_unique<RobbinsMonro>(c.lr, c.tau);
    }
    if (c.kind == "step") {
        check_value(c.factor > 0.0f && c.factor <= 1.0f, "the schedule", "factor", c.factor, "0 < factor <= 1");
        check_milestones(c.milestones, "step schedule");
        return std::make_unique<StepDecay>(c.lr, c.factor, c.milestones);
    }
    if (c.kind == "cosine") {
        check_value(c.cycle_epochs > 0.0f, "the schedule", "cycle_epochs", c.cycle_epochs, "cycle_epochs > 0");
        check_value(c.lr_min >= 0.0f && c.lr_min <= c.lr, "the schedule", "lr_min", c.lr_min, "0 <= lr_min <= lr");
        return std::make_unique<CosineRestarts>(c.lr, c.lr_min, c.cycle_epochs);
    }
    throw std::invalid_argument("make_schedule: unknown schedule '" + c.kind +
                                "' (known: constant, robbins-monro, step, cosine)");
}

}  // namespace

std::unique_ptr<Schedule> make_schedule(const ScheduleConfig& c) {
    check_value(std::isfinite(c.lr) && c.lr > 0.0f, "the schedule", "lr", c.lr, "0 < lr < inf");
    check_value(c.warmup_epochs >= 0.0f, "the schedule", "warmup_epochs", c.warmup_epochs, "warmup_epochs >= 0");
    check_value(c.warmup_start > 0.0f && c.warmup_start <= 1.0f, "the schedule", "warmup_start", c.warmup_start,
                   "0 < warmup_start <= 1");
    auto base = make_base(c);
    if (c.warmup_epochs == 0.0f) return base;
    return std::make_unique<Warmup>(std::move(base), c.warmup_epochs, c.warmup_start);
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
