// The registry: every algorithm and every learning-rate schedule by name, with
// what a program needs to offer it: its options (defaults, ranges, help), whether
// it needs per-example statistics, which options a program fills itself (seed,
// batch size), and how its hyperparameters scale with the batch size.
//
//   auto opt = make_optimizer("momentum", model.parameters(), {{"lr", 0.1f}, {"n_g", 10}});
//   auto same = make_optimizer("momentum", params, {{"lr", 0.1f}, {"momentum", 0.9}});
//   auto schedule = make_schedule("step", {opt->lr(), 64}, {{"milestones", "5,10"}});
//
// An option left unset takes the algorithm's own default (its Options struct:
// AdamOptions::n_s = 1000 but RMSPropOptions::n_s = 100), so each default lives in
// one place. Setting an option the algorithm does not take is an error (nesterov
// with adam is a mistake, not something to ignore silently).
//
// Adding an algorithm: its file pair, which holds the class, its Options struct,
// the OptionTable of the options (optim/options.h) and a function `xxx_entry()`
// returning OptimizerEntry::of<Xxx>(...), plus one line in the list of built-in
// entries at the top of registry.cpp. That list, rather than a registering static
// object in each .cpp, is deliberate: the linker copies an object file out of
// libdl.a only when something refers to a symbol in it, so a file whose only job
// is to register itself would silently drop out of every program; the list is
// that reference, and it fixes the order --help shows. A program's own algorithm
// (outside the library) calls register_optimizer once before it is used, e.g.
// at the start of main (tests/test_optim_registry.cpp defines sign-SGD this way).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "optim/optimizer.h"
#include "optim/options.h"
#include "optim/schedule.h"

namespace dl {

// ---- Optimizers ------------------------------------------------------------------

// When an algorithm reads Parameter::grad_sq (per-example statistics).
enum class NeedsStatistics { Never, Always, WhenOption };

// How --scale-with-batch turns per-example hyperparameters (eta' and N'_g, the
// values at B = 1) into those at batch size B (lecture: "Putting It Together";
// the arithmetic is scale_for_batch in optim/schedule.h):
//     N_g = max(1, N'_g/B)          for the option named by time_constant
//     eta = B eta'/N_g              rule OverTimeConstant (momentum's v-form)
//     eta = B eta'                  rule Linear (an update that is a multiple of
//                                   the mean gradient, or of its running average)
// eta' and N'_g default to kPerExampleLr and kPerExampleTimeConstant when the
// user gives no lr (or no time constant).
struct BatchScaling {
    enum class Rule { None, Linear, OverTimeConstant };
    Rule rule = Rule::None;      // None: the algorithm does not say; --scale-with-batch is refused
    std::string time_constant;   // the option scaled as N = max(1, N'/B) ("n_g"), or empty

    static constexpr float kPerExampleLr = 1e-3f;
    static constexpr float kPerExampleTimeConstant = 10.0f;
};

struct OptimizerEntry {
    std::string name;                       // "momentum"
    std::string help;                       // one line: what it is, the slide or paper
    std::vector<OptionSpec> options;        // with their defaults
    NeedsStatistics statistics = NeedsStatistics::Never;
    std::string statistics_option;          // WhenOption: the Boolean option that turns them on
    BatchScaling batch_scaling;
    // Builds the algorithm from resolved values (resolve_options): the defaults,
    // then the values, then a range check of every option.
    std::function<std::unique_ptr<Optimizer>(ParameterList, const OptionValues&)> make;
    // The settings these resolved values give: "lr=0.05 n_g=10 nesterov=false".
    std::function<std::string(const OptionValues&)> settings;

    // The entry of an algorithm whose constructor is Algorithm(ParameterList, const Options&).
    // `defaults` is the Options the user's values start from (Options{} unless one
    // class serves several names, as RMSProp does).
    template <class Algorithm, class Options>
    static OptimizerEntry of(std::string name, std::string help, const OptionTable<Options>& table,
                             Options defaults = Options{});
};

// Adds an algorithm under entry.name. Throws std::invalid_argument if the name is
// taken or the entry is inconsistent (no make, an option named twice, a
// statistics or scaling option that is not among its options, a command-line
// flag that another algorithm uses for a different option).
void register_optimizer(OptimizerEntry entry);

// The registered names: the built-in ones in the order of the lecture, then the
// registered ones in the order they came.
std::vector<std::string> optimizer_names();

// Throws std::invalid_argument for an unknown name, listing the known ones.
const OptimizerEntry& find_optimizer(const std::string& name);

// Throws std::invalid_argument for an unknown name, an option the algorithm does
// not take, a value that does not parse, or one out of its range.
std::unique_ptr<Optimizer> make_optimizer(const std::string& name, ParameterList params,
                                          const OptionValues& values = {});

// "lr=0.01 n_g=10 nesterov=false": every option of `name` with its default.
std::string optimizer_defaults(const std::string& name);
// The same with `values` applied: the settings in effect.
std::string optimizer_settings(const std::string& name, const OptionValues& values);
// Several lines for --help: the name, its help, its options with defaults,
// ranges and help, whether it needs statistics, how it scales with the batch.
std::string optimizer_help(const std::string& name);
// Whether the algorithm will read per-example statistics with these values.
bool optimizer_needs_statistics(const std::string& name, const OptionValues& values);

// What a training program knows that an algorithm may need.
struct TrainingSetup {
    int batch_size = 1;             // examples per step (the initial one if it grows)
    uint64_t seed = 0;              // the program's --seed
    bool scale_with_batch = false;  // the user's lr (and time constant) are per example
};

// The values a training program hands to make_optimizer: the user's values with
// decay forms converted, rescaled for the batch size when setup.scale_with_batch
// (entry.batch_scaling), and the options whose role is Seed or BatchSize filled
// from `setup` unless the user set them. Throws std::invalid_argument as
// make_optimizer does, and for --scale-with-batch with an algorithm whose rule is None.
OptionValues training_values(const std::string& name, const OptionValues& user, const TrainingSetup& setup);

// ---- Schedules -------------------------------------------------------------------

// What a schedule is built from besides its options: the base learning rate
// (the optimizer's, after its options) and the batch size the user chose.
struct ScheduleContext {
    float lr = 0.01f;
    int batch_size = 1;
};

struct ScheduleEntry {
    std::string name;                 // "cosine-restarts"
    std::string help;                 // one line
    std::vector<OptionSpec> options;  // with their defaults
    bool cycles = false;              // the lr restarts in cycles whose ends Schedule::cycle_ends
                                      // marks (a trainer can save a snapshot there)
    // Builds the schedule from resolved values; validates every option.
    std::function<std::unique_ptr<Schedule>(const ScheduleContext&, const OptionValues&)> make;
    std::function<std::string(const OptionValues&)> settings;

    // The entry of a schedule whose options are the struct Options: `build` gets
    // the defaults with the user's values applied and range-checked.
    template <class Options>
    static ScheduleEntry of(std::string name, std::string help, const OptionTable<Options>& table,
                            std::function<std::unique_ptr<Schedule>(const ScheduleContext&, const Options&)> build,
                            Options defaults = Options{});
};

void register_schedule(ScheduleEntry entry);  // as register_optimizer
std::vector<std::string> schedule_names();
const ScheduleEntry& find_schedule(const std::string& name);
std::unique_ptr<Schedule> make_schedule(const std::string& name, const ScheduleContext& context,
                                        const OptionValues& values = {});
std::string schedule_settings(const std::string& name, const OptionValues& values);
std::string schedule_help(const std::string& name);

// ---- Command lines ----------------------------------------------------------------

// What a training program uses when the user names no optimizer (no schedule):
// "momentum" ("constant").
const char* default_optimizer_name();
const char* default_schedule_name();

// One flag a command line can offer for the options of the registered
// optimizers (or schedules): "--n-g" for option n_g, the decay form "--momentum",
// and an option's extra spelling ("--momentum-n"). Options a program fills
// itself (seed, batch size) have none.
struct OptionFlag {
    std::string flag;    // "--n-g"
    std::string option;  // the name to set in OptionValues: "n_g" (or the decay form "momentum")
    OptionType type;
    std::string help;    // what it is and which algorithms take it
};
std::vector<OptionFlag> optimizer_flags();
std::vector<OptionFlag> schedule_flags();

// ---- The typed form the lecture's experiments use -------------------------------

// Every option of the built-in algorithms as std::optional (only what is set is
// passed on). Kept for existing callers; an algorithm added later needs no field
// here: its options are reached by name through OptionValues.
struct OptimizerConfig {
    std::optional<float> lr;            // eta (eta' for momentum-ema, langevin-precond; lambda_eta for adaptive)
    std::optional<float> n_g;           // N_g: momentum time constant
    std::optional<float> n_s;           // N_s: time constant of the second-moment average
    std::optional<float> eps;
    std::optional<bool> nesterov;       // momentum
    std::optional<float> weight_decay;  // adam (decoupled)
    std::optional<float> temperature;   // langevin, langevin-precond
    std::optional<uint64_t> seed;       // langevin, langevin-precond
    std::optional<float> sigma2_floor;  // langevin-precond
    std::optional<int> k;               // adaptive: K
    std::optional<float> lambda_b;      // adaptive: lambda_B
    std::optional<float> max_eta;       // adaptive
    std::optional<bool> per_example_sigma;  // adaptive
    std::optional<int> batch_size;      // adaptive: B when statistics are off
};
OptionValues to_values(const OptimizerConfig& config);
std::unique_ptr<Optimizer> make_optimizer(const std::string& name, ParameterList params,
                                          const OptimizerConfig& config);

// ---- Templates ----------------------------------------------------------------------

template <class Algorithm, class Options>
OptimizerEntry OptimizerEntry::of(std::string name, std::string help, const OptionTable<Options>& table,
                                  Options defaults) {
    OptimizerEntry e;
    e.name = std::move(name);
    e.help = std::move(help);
    e.options = table.specs(defaults);
    e.make = [table, defaults, who = e.name](ParameterList params, const OptionValues& values) {
        Options o = defaults;
        table.apply(o, values, who);
        table.validate(o, who);
        return std::unique_ptr<Optimizer>(std::make_unique<Algorithm>(std::move(params), o));
    };
    e.settings = [table, defaults, who = e.name](const OptionValues& values) {
        Options o = defaults;
        table.apply(o, values, who);
        return table.show(o);
    };
    return e;
}

template <class Options>
ScheduleEntry ScheduleEntry::of(std::string name, std::string help, const OptionTable<Options>& table,
                                std::function<std::unique_ptr<Schedule>(const ScheduleContext&, const Options&)> build,
                                Options defaults) {
    ScheduleEntry e;
    e.name = std::move(name);
    e.help = std::move(help);
    e.options = table.specs(defaults);
    const std::string who = "schedule " + e.name;
    e.make = [table, defaults, build, who](const ScheduleContext& context, const OptionValues& values) {
        Options o = defaults;
        table.apply(o, values, who);
        table.validate(o, who);
        return build(context, o);
    };
    e.settings = [table, defaults, who](const OptionValues& values) {
        Options o = defaults;
        table.apply(o, values, who);
        return table.show(o);
    };
    return e;
}

}  // namespace dl
