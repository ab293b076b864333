#include "optim/registry.h"

#include <algorithm>
#include <deque>
#include <mutex>
#include <set>
#include <stdexcept>

#include "optim/adam.h"
#include "optim/adam_lecture.h"
#include "optim/adaptive.h"
#include "optim/langevin.h"
#include "optim/langevin_precond.h"
#include "optim/momentum.h"
#include "optim/momentum_ema.h"
#include "optim/rmsprop.h"
#include "optim/sgd.h"

namespace dl {

namespace {

// The built-in algorithms, in the order of the lecture (and of --help).
// Adding one: its file pair and one line here.
std::vector<OptimizerEntry> builtin_optimizers() {
    return {sgd_entry(),      momentum_entry(),      momentum_ema_entry(),     rmsprop_entry(),
            rmsprop_var_entry(), rmsprop_per_example_entry(), adam_entry(), adam_lecture_entry(),
            langevin_entry(), langevin_precond_entry(), adaptive_entry()};
}

// The built-in schedules (optim/schedule.cpp).
std::vector<ScheduleEntry> builtin_schedules() {
    return {constant_schedule_entry(), robbins_monro_schedule_entry(), step_schedule_entry(),
            cosine_restarts_schedule_entry(), warmup_schedule_entry(), batch_growth_schedule_entry()};
}

// "--n-g" for n_g.
std::string flag_of(const std::string& name) {
    std::string f = "--" + name;
    for (char& c : f)
        if (c == '_') c = '-';
    return f;
}

// The flags of one option and the name each sets: its own, its older spelling,
// and its decay form's. None for an option a program fills itself.
std::vector<std::pair<std::string, std::string>> flags_of(const OptionSpec& o) {
    if (o.role != OptionRole::User) return {};
    std::vector<std::pair<std::string, std::string>> out{{flag_of(o.name), o.name}};
    if (!o.flag.empty()) out.emplace_back(o.flag, o.name);
    if (!o.decay_name.empty()) out.emplace_back(flag_of(o.decay_name), o.decay_name);
    return out;
}

// Every registered algorithm and schedule. Entries sit in deques, so a reference
// returned by find_* stays valid while others are registered.
class Registry {
public:
    Registry() {
        for (OptimizerEntry& e : builtin_optimizers()) add(std::move(e));
        for (ScheduleEntry& e : builtin_schedules()) add(std::move(e));
    }

    void add(OptimizerEntry e) {
        std::lock_guard<std::mutex> lock(mutex_);
        const std::string who = "register_optimizer: '" + e.name + "'";
        check_common(who, e.name, e.options, static_cast<bool>(e.make) && static_cast<bool>(e.settings));
        for (const OptimizerEntry& other : optimizers_)
            if (other.name == e.name) throw std::invalid_argument(who + " is already registered");
        if (e.statistics == NeedsStatistics::WhenOption)
            require_option(who, e.options, e.statistics_option, OptionType::Boolean, "statistics_option");
        if (e.batch_scaling.rule != BatchScaling::Rule::None)
            require_option(who, e.options, "lr", OptionType::Real, "batch_scaling (the learning rate)");
        if (!e.batch_scaling.time_constant.empty())
            require_option(who, e.options, e.batch_scaling.time_constant, OptionType::Real,
                           "batch_scaling.time_constant");
        check_flags(who, e.options);
        optimizers_.push_back(std::move(e));
    }

    void add(ScheduleEntry e) {
        std::lock_guard<std::mutex> lock(mutex_);
        const std::string who = "register_schedule: '" + e.name + "'";
        check_common(who, e.name, e.options, static_cast<bool>(e.make) && static_cast<bool>(e.settings));
        for (const ScheduleEntry& other : schedules_)
            if (other.name == e.name) throw std::invalid_argument(who + " is already registered");
        check_flags(who, e.options);
        schedules_.push_back(std::move(e));
    }

    const OptimizerEntry& optimizer(const std::string& name) {
        std::lock_guard<std::mutex> lock(mutex_);
        for (const OptimizerEntry& e : optimizers_)
            if (e.name == name) return e;
        throw std::invalid_argument("make_optimizer: unknown optimizer '" + name + "' (known: " +
                                    join(optimizers_) + ")");
    }

    const ScheduleEntry& schedule(const std::string& name) {
        std::lock_guard<std::mutex> lock(mutex_);
        for (const ScheduleEntry& e : schedules_)
            if (e.name == name) return e;
        throw std::invalid_argument("make_schedule: unknown schedule '" + name + "' (known: " + join(schedules_) +
                                    ")");
    }

    template <class F>
    void each_optimizer(F f) {
        std::lock_guard<std::mutex> lock(mutex_);
        for (const OptimizerEntry& e : optimizers_) f(e);
    }
    template <class F>
    void each_schedule(F f) {
        std::lock_guard<std::mutex> lock(mutex_);
        for (const ScheduleEntry& e : schedules_) f(e);
    }

private:
    template <class Entries>
    static std::string join(const Entries& entries) {
        std::string s;
        for (const auto& e : entries) s += (s.empty() ? "" : ", ") + e.name;
        return s;
    }

    static void check_common(const std::string& who, const std::string& name, const std::vector<OptionSpec>& options,
                             bool has_functions) {
        if (name.empty()) throw std::invalid_argument("register: an entry needs a name");
        if (!has_functions) throw std::invalid_argument(who + " has no make or settings function");
        std::set<std::string> seen;
        for (const OptionSpec& o : options) {
            if (o.name.empty()) throw std::invalid_argument(who + " has an option without a name");
            for (const std::string& n : {o.name, o.decay_name})
                if (!n.empty() && !seen.insert(n).second)
                    throw std::invalid_argument(who + " names option '" + n + "' twice");
            if (!o.decay_name.empty() && o.type != OptionType::Real)
                throw std::invalid_argument(who + ": option '" + o.name + "' has a decay form but is not a number");
        }
    }

    static void require_option(const std::string& who, const std::vector<OptionSpec>& options,
                               const std::string& name, OptionType type, const char* what) {
        for (const OptionSpec& o : options)
            if (o.name == name && o.type == type) return;
        throw std::invalid_argument(who + ": " + what + " names '" + name + "', which is not one of its options of type " +
                                    option_type_name(type));
    }

    // A flag means one option name for every algorithm and schedule, so that a
    // command line can offer each flag once.
    void check_flags(const std::string& who, const std::vector<OptionSpec>& options) const {
        auto check = [&](const std::vector<OptionSpec>& others) {
            for (const OptionSpec& mine : options)
                for (const auto& [flag, name] : flags_of(mine))
                    for (const OptionSpec& other : others)
                        for (const auto& [other_flag, other_name] : flags_of(other))
                            if (flag == other_flag && name != other_name)
                                throw std::invalid_argument(who + ": flag " + flag + " would set '" + name +
                                                            "', but it already sets '" + other_name + "'");
        };
        for (const OptimizerEntry& e : optimizers_) check(e.options);
        for (const ScheduleEntry& e : schedules_) check(e.options);
    }

    std::mutex mutex_;
    std::deque<OptimizerEntry> optimizers_;
    std::deque<ScheduleEntry> schedules_;
};

// Built on first use, so a registration from another file's static initialiser is safe.
Registry& registry() {
    static Registry r;
    return r;
}

const OptionSpec* find_option(const std::vector<OptionSpec>& options, const std::string& name) {
    for (const OptionSpec& o : options)
        if (o.name == name) return &o;
    return nullptr;
}

std::string statistics_note(const OptimizerEntry& e) {
    switch (e.statistics) {
        case NeedsStatistics::Never: return "";
        case NeedsStatistics::Always: return "    needs per-example statistics (a trainer turns them on)\n";
        case NeedsStatistics::WhenOption:
            return "    needs per-example statistics when " + e.statistics_option + "=true\n";
    }
    return "";
}

std::string scaling_note(const BatchScaling& s) {
    if (s.rule == BatchScaling::Rule::None) return "    --scale-with-batch: not defined for this algorithm\n";
    const std::string& n = s.time_constant;
    std::string line = "    --scale-with-batch (lr, " + (n.empty() ? std::string() : n + ", ") + "given per example): ";
    if (!n.empty()) line += n + " = max(1, " + n + "'/B), ";
    line += s.rule == BatchScaling::Rule::Linear ? "lr = B lr'" : "lr = B lr'/" + n;
    return line + "\n";
}

template <class Entry>
void collect_flags(const Entry& e, std::vector<OptionFlag>& out) {
    for (const OptionSpec& o : e.options)
        for (const auto& [flag, name] : flags_of(o)) {
            auto it = std::find_if(out.begin(), out.end(), [&](const OptionFlag& f) { return f.flag == flag; });
            if (it != out.end()) {
                it->help += ", " + e.name;
                continue;
            }
            std::string help = o.help;
            if (name != o.name)
                help = "decay factor " + name + " = 1 - 1/" + o.name + " in [0, 1), instead of " + flag_of(o.name);
            else if (flag != flag_of(o.name))
                help = "the same as " + flag_of(o.name);
            out.push_back({flag, name, o.type, help + "; taken by " + e.name});
        }
}

}  // namespace

// ---- Optimizers ------------------------------------------------------------------

void register_optimizer(OptimizerEntry entry) { registry().add(std::move(entry)); }

std::vector<std::string> optimizer_names() {
    std::vector<std::string> names;
    registry().each_optimizer([&](const OptimizerEntry& e) { names.push_back(e.name); });
    return names;
}

const OptimizerEntry& find_optimizer(const std::string& name) { return registry().optimizer(name); }

std::unique_ptr<Optimizer> make_optimizer(const std::string& name, ParameterList params,
                                          const OptionValues& values) {
    const OptimizerEntry& e = find_optimizer(name);
    return e.make(std::move(params), resolve_options(e.options, values, name, "make_optimizer"));
}

std::string optimizer_defaults(const std::string& name) { return optimizer_settings(name, {}); }

std::string optimizer_settings(const std::string& name, const OptionValues& values) {
    const OptimizerEntry& e = find_optimizer(name);
    return e.settings(resolve_options(e.options, values, name, "make_optimizer"));
}

std::string optimizer_help(const std::string& name) {
    const OptimizerEntry& e = find_optimizer(name);
    return e.name + ": " + e.help + "\n" + describe_options(e.options) + statistics_note(e) +
           scaling_note(e.batch_scaling);
}

bool optimizer_needs_statistics(const std::string& name, const OptionValues& values) {
    const OptimizerEntry& e = find_optimizer(name);
    switch (e.statistics) {
        case NeedsStatistics::Never: return false;
        case NeedsStatistics::Always: return true;
        case NeedsStatistics::WhenOption: break;
    }
    const OptionValues v = resolve_options(e.options, values, name, "make_optimizer");
    const std::string& option = e.statistics_option;
    const std::string text = v.has(option) ? v.text(option) : find_option(e.options, option)->default_text;
    return parse_boolean(text, name, option);
}

OptionValues training_values(const std::string& name, const OptionValues& user, const TrainingSetup& setup) {
    const OptimizerEntry& e = find_optimizer(name);
    OptionValues v = resolve_options(e.options, user, name, "make_optimizer");
    if (setup.scale_with_batch) {
        const BatchScaling& s = e.batch_scaling;
        if (s.rule == BatchScaling::Rule::None)
            throw std::invalid_argument("--scale-with-batch: '" + name +
                                        "' does not say how its options scale with the batch size");
        const float lr = v.has("lr") ? parse_real(v.text("lr"), name, "lr") : BatchScaling::kPerExampleLr;
        const bool has_n = !s.time_constant.empty() && v.has(s.time_constant);
        const float n = has_n ? parse_real(v.text(s.time_constant), name, s.time_constant)
                              : BatchScaling::kPerExampleTimeConstant;
        const BatchScaled scaled = scale_for_batch(lr, n, setup.batch_size);
        v.set("lr", s.rule == BatchScaling::Rule::OverTimeConstant ? scaled.lr : scaled.lr_ema);
        if (!s.time_constant.empty()) v.set(s.time_constant, scaled.n_g);
    }
    for (const OptionSpec& o : e.options) {
        if (v.has(o.name)) continue;
        if (o.role == OptionRole::Seed) v.set(o.name, static_cast<unsigned long long>(setup.seed));
        if (o.role == OptionRole::BatchSize) v.set(o.name, setup.batch_size);
    }
    return v;
}

// ---- Schedules -------------------------------------------------------------------

void register_schedule(ScheduleEntry entry) { registry().add(std::move(entry)); }

std::vector<std::string> schedule_names() {
    std::vector<std::string> names;
    registry().each_schedule([&](const ScheduleEntry& e) { names.push_back(e.name); });
    return names;
}

const ScheduleEntry& find_schedule(const std::string& name) { return registry().schedule(name); }

std::unique_ptr<Schedule> make_schedule(const std::string& name, const ScheduleContext& context,
                                        const OptionValues& values) {
    const ScheduleEntry& e = find_schedule(name);
    return e.make(context, resolve_options(e.options, values, "schedule " + name, "make_schedule"));
}

std::string schedule_settings(const std::string& name, const OptionValues& values) {
    const ScheduleEntry& e = find_schedule(name);
    return e.settings(resolve_options(e.options, values, "schedule " + name, "make_schedule"));
}

std::string schedule_help(const std::string& name) {
    const ScheduleEntry& e = find_schedule(name);
    return e.name + ": " + e.help + "\n" + describe_options(e.options) +
           (e.cycles ? "    restarts in cycles (a trainer can save a snapshot at the end of each)\n" : "");
}

// ---- Command lines ----------------------------------------------------------------

const char* default_optimizer_name() { return "momentum"; }
const char* default_schedule_name() { return "constant"; }

std::vector<OptionFlag> optimizer_flags() {
    std::vector<OptionFlag> out;
    registry().each_optimizer([&](const OptimizerEntry& e) { collect_flags(e, out); });
    return out;
}

std::vector<OptionFlag> schedule_flags() {
    std::vector<OptionFlag> out;
    registry().each_schedule([&](const ScheduleEntry& e) { collect_flags(e, out); });
    return out;
}

// ---- The typed form ---------------------------------------------------------------

OptionValues to_values(const OptimizerConfig& c) {
    OptionValues v;
    auto put = [&v](const char* name, const auto& field) {
        if (field) v.set(name, *field);
    };
    put("lr", c.lr);
    put("n_g", c.n_g);
    put("n_s", c.n_s);
    put("eps", c.eps);
    put("nesterov", c.nesterov);
    put("weight_decay", c.weight_decay);
    put("temperature", c.temperature);
    put("seed", c.seed);
    put("sigma2_floor", c.sigma2_floor);
    put("k", c.k);
    put("lambda_b", c.lambda_b);
    put("max_eta", c.max_eta);
    put("per_example_sigma", c.per_example_sigma);
    put("batch_size", c.batch_size);
    return v;
}

std::unique_ptr<Optimizer> make_optimizer(const std::string& name, ParameterList params,
                                          const OptimizerConfig& config) {
    return make_optimizer(name, std::move(params), to_values(config));
}

}  // namespace dl
