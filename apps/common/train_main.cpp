// build/train: trains a model from the command line (apps/common/train_main.h).
//
//   build/train --model cnn --epochs 5 --optimizer momentum --lr 0.01
//   build/train --resume runs/cnn-momentum-.../model.ckpt --epochs 10   (continue the run)
//   build/train --init-from runs/.../best.ckpt --optimizer sgd --lr 0.001 (fine-tune: a new run from its weights)
//   mpirun -np 2 build/train --threads 1 ...                             (data-parallel)
//
// Progress on stderr, per-epoch metrics in OUT/metrics.csv, checkpoints
// OUT/model.ckpt (last, resumable) and OUT/best.ckpt (best on validation),
// curves in OUT/curves.png, and as the last line on stdout a one-line JSON summary.
//
// This file knows no optimizer or schedule by name: their flags, help, checks
// and defaults come from the registry's entries (optim/registry.h).
#include "apps/common/train_main.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <deque>
#include <map>
#include <memory>
#include <new>
#include <optional>
#include <set>

#include "apps/common/report.h"
#include "apps/common/run_dir.h"
#include "apps/common/task.h"
#include "apps/common/trainer.h"
#include "core/fast/dispatch.h"
#include "core/parallel.h"
#include "layers/spec.h"

namespace dl {

namespace {

// What --resume may change; every other option keeps the run's value, and giving
// another one is refused (it would silently not apply, or change the run's meaning).
const std::set<std::string> kMayChangeOnResume = {"--epochs", "--lr", "--threads", "--out", "--max-steps", "--stats"};
// Options that belong to one invocation, never stored with the run.
const std::set<std::string> kNotStored = {"--help", "--resume", "--init-from", "--out", "--max-steps"};

// The first word of the stored options (a checkpoint's 'args' record) names their
// form. This one stores the run's own optimizer and schedule options, each as
// given or with the default it had. Older builds wrote "train" and stored every
// schedule option of their command line with its default, whatever the schedule.
const char* const kStoredForm = "train/2";
// What those older builds stored for schedule options nobody gave. The registry's
// entries have the same defaults, except that a warm-up of 0 epochs then meant
// the entry's own default (one epoch for a schedule made for warming up); so a
// stored default is dropped, and the entry's default applies as it did then.
const std::set<std::string> kOlderBuildDefaults = {"--tau=1000", "--decay=0.1", "--cycle-epochs=10",
                                                   "--warmup-epochs=0"};

std::string default_out(const TrainOptions& o, const std::string& label) {
    char stamp[32];
    std::time_t now = std::time(nullptr);
    std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&now));
    return "runs/" + label + "-" + o.optimizer + "-" + stamp;
}

// NaN passes CLI::Range (every comparison with it is false): floating options check this first.
const CLI::Validator kFinite(
    [](std::string& s) -> std::string {
        char* end = nullptr;
        const double v = std::strtod(s.c_str(), &end);
        return end != s.c_str() && !std::isfinite(v) ? "expected a finite number, got " + s : "";
    },
    "FINITE");

// "a", "a and b", "a, b and c".
std::string join_names(const std::vector<std::string>& names) {
    std::string s;
    for (size_t i = 0; i < names.size(); ++i)
        s += (i == 0 ? "" : i + 1 == names.size() ? " and " : ", ") + names[i];
    return s;
}

// "--n-g" for the option n_g (the registry's spelling of its flags).
std::string flag_of(const std::string& option) {
    std::string f = "--" + option;
    std::replace(f.begin(), f.end(), '_', '-');
    return f;
}

// Whether options include `name`, or a time constant whose decay form it is.
bool takes(const std::vector<OptionSpec>& options, const std::string& name) {
    return std::any_of(options.begin(), options.end(),
                       [&](const OptionSpec& o) { return o.name == name || o.decay_name == name; });
}

std::vector<std::string> optimizers_taking(const std::string& option) {
    std::vector<std::string> out;
    for (const std::string& n : optimizer_names())
        if (takes(find_optimizer(n).options, option)) out.push_back(n);
    return out;
}

std::vector<std::string> schedules_taking(const std::string& option) {
    std::vector<std::string> out;
    for (const std::string& n : schedule_names())
        if (takes(find_schedule(n).options, option)) out.push_back(n);
    return out;
}

// The optimizers that need per-example statistics ("NAME --option true" for one that needs them when an
// option says so).
std::string statistics_optimizers() {
    std::vector<std::string> names;
    for (const std::string& n : optimizer_names()) {
        const OptimizerEntry& e = find_optimizer(n);
        if (e.statistics == NeedsStatistics::Never) continue;
        names.push_back(n + (e.statistics == NeedsStatistics::WhenOption ? " " + flag_of(e.statistics_option) + " true"
                                                                        : ""));
    }
    std::string s;
    for (const std::string& n : names) s += (s.empty() ? "" : ", ") + n;
    return s;
}

// "; a time constant also as its decay factor (beta = 1 - 1/n: --beta 0.9)", from the first registered
// option that has a decay form.
std::string decay_form_example() {
    for (const std::string& n : optimizer_names())
        for (const OptionSpec& o : find_optimizer(n).options)
            if (!o.decay_name.empty())
                return "; a time constant also as its decay factor (" + o.decay_name + " = 1 - 1/" + o.name + ": " +
                       flag_of(o.decay_name) + " 0.9)";
    return "";
}

// One command-line flag of a registered optimizer or schedule option (optimizer_flags, schedule_flags).
struct RegistryFlag {
    OptionFlag flag;
    CLI::Option* cli = nullptr;
    std::string text;  // the value given ("5,10" for a list)
};

// The command line: CLI11's parser and the options it fills.
struct CommandLine {
    CLI::App app{"Trains a model on Fashion-MNIST (or any MNIST-like set, or an image folder)."};
    TrainOptions o;
    std::string resume, init_from;
    std::deque<RegistryFlag> flags;  // a deque: the parser's callbacks hold references into it
    CommandLine();
    bool given(const std::string& name) const { return app.get_option(name)->count() > 0; }

private:
    void add_registry_flags();
    std::string help_footer() const;
};

CommandLine::CommandLine() {
    app.add_option("--model", o.model, "a named model (" + [] {
        std::string s;
        for (const std::string& n : model_names()) s += (s.empty() ? "" : ", ") + n;
        return s;
    }() + "), a spec such as \"conv 32 5 pad same, relu, maxpool 2, flatten, linear\" (layers: " +
                                           spec_layer_words() + "; see README), or @FILE holding a spec")
        ->capture_default_str();
    app.add_option("--data", o.data_dir, "directory of MNIST-style IDX files (default: the Fashion-MNIST package)");
    app.add_option("--images", o.images_dir, "train on an image folder ROOT/<class>/<image> (.png, .jpg, .jpeg, .bmp) "
                                             "instead");
    app.add_option("--image-size", o.image_size, "--images: resize to this square")->capture_default_str()
        ->check(CLI::Range(4, 512));
    app.add_flag("--rgb", o.rgb, "--images: keep colour (default: grayscale)");
    app.add_flag("--skip-unreadable", o.skip_unreadable, "--images: leave out images that cannot be decoded "
                                                         "(they are counted in the log) instead of stopping");
    app.add_option("--epochs", o.epochs, "passes over the training set")->capture_default_str()->check(CLI::Range(1, 100000));
    app.add_option("--batch-size", o.batch_size, "examples per step (the global batch with MPI)")->capture_default_str()
        ->check(CLI::Range(1, 1 << 20));
    app.add_flag("--drop-last", o.drop_last, "leave out every incomplete last batch of an epoch (a last batch that "
                                             "would give a rank one example is always left out)");
    app.add_option("--optimizer", o.optimizer, "any of: " + join_names(optimizer_names()) + " (each with its "
                                               "options below)")
        ->capture_default_str()->check(CLI::IsMember(optimizer_names()));
    app.add_option("--schedule", o.schedule, "learning-rate schedule, any of: " + join_names(schedule_names()))
        ->capture_default_str()->check(CLI::IsMember(schedule_names()));
    add_registry_flags();
    app.add_flag("--scale-with-batch", o.scale_with_batch,
                 "treat --lr and the optimizer's time constant as per-example values (B = 1) and scale them to "
                 "--batch-size by the lecture's rule, as each optimizer says below");
    app.add_flag("--augment", o.augment, "random crops (of the image padded by --crop-padding) and horizontal flips");
    app.add_option("--crop-padding", o.crop_padding, "--augment: padding of the random crops (0: flips only)")
        ->capture_default_str()->check(CLI::Range(0, 16));
    app.add_option("--val-split", o.val_split, "fraction of the training set held out for validation, which "
                                               "chooses best.ckpt (0: none, and no best.ckpt)")
        ->capture_default_str()->check(kFinite)->check(CLI::Range(0.0, 0.5));
    app.add_option("--seed", o.seed, "seed of initialisation, shuffling, augmentation, dropout, and of an "
                                     "optimizer's noise")->capture_default_str();
    app.add_option("--threads", o.threads, "threads (OpenMP and OpenBLAS; per rank with MPI)")->capture_default_str()
        ->check(CLI::Range(1, 256));
    app.add_flag("--stats", o.stats, "compute per-example gradient statistics and log the gradient noise scale");
    app.add_option("--out", o.out, "run directory (default runs/<model>-<optimizer>-<time>, made unique)");
    app.add_option("--resume", resume, "continue a run from its model.ckpt with the run's options; --epochs, --lr, "
                                       "--threads, --out, --max-steps and --stats may change")->check(CLI::ExistingFile);
    app.add_option("--init-from", init_from, "fine-tune: start a new run from this checkpoint's weights (and its "
                                             "normalisation) with this command line's optimizer, lr, schedule and "
                                             "data (same model, input size and classes)")->check(CLI::ExistingFile);
    app.add_option("--limit", o.limit, "use only this many training examples")->check(CLI::Range(0L, 1L << 30));
    app.add_option("--max-steps", o.max_steps, "stop after this many steps of this process, as if interrupted "
                                               "(resumable checkpoint)")->check(CLI::Range(0L, 1L << 40));
    app.add_flag("--snapshots", o.snapshots, "save a checkpoint at the end of every cycle of the schedule (" +
                                                 [] {
                                                     std::vector<std::string> cyclic;
                                                     for (const std::string& n : schedule_names())
                                                         if (find_schedule(n).cycles) cyclic.push_back(n);
                                                     return "--schedule " + join_names(cyclic);
                                                 }() + ")");
    app.footer([this] { return help_footer(); });
}

// One flag per option of the registered optimizers and schedules, its value kept
// as text for the registry to parse and check (numbers checked finite here, so
// that "--lr nan" is refused by the command line as before).
void CommandLine::add_registry_flags() {
    std::vector<OptionFlag> all = optimizer_flags();
    for (const OptionFlag& f : schedule_flags()) {
        auto same = std::find_if(all.begin(), all.end(), [&](const OptionFlag& g) { return g.flag == f.flag; });
        if (same == all.end()) all.push_back(f);
        else same->help += "; " + f.help;  // one flag an optimizer and a schedule both take (the same option)
    }
    for (const OptionFlag& f : all) {
        flags.push_back({f, nullptr, ""});
        RegistryFlag& r = flags.back();
        try {
            if (f.type == OptionType::IntegerList) {
                r.cli = app.add_option_function<std::vector<std::string>>(
                                f.flag,
                                [&r](const std::vector<std::string>& v) {
                                    r.text.clear();
                                    for (const std::string& x : v) r.text += (r.text.empty() ? "" : ",") + x;
                                },
                                f.help)
                            ->delimiter(',')
                            ->type_name("INT,...");
            } else {
                r.cli = app.add_option_function<std::string>(f.flag, [&r](const std::string& v) { r.text = v; }, f.help);
                r.cli->type_name(f.type == OptionType::Real ? "NUMBER" : f.type == OptionType::Boolean ? "true|false"
                                                                                                      : "INT");
                if (f.type == OptionType::Real) r.cli->check(kFinite);
            }
        } catch (const CLI::OptionAlreadyAdded&) {
            throw std::invalid_argument("the option " + f.flag + " of a registered optimizer or schedule (" + f.help +
                                        ") is also one of build/train's own: rename it");
        }
    }
}

// --help's last part: every optimizer and schedule with its options, defaults and
// ranges (optimizer_help, schedule_help), and the settings this command line puts in effect.
std::string CommandLine::help_footer() const {
    std::string s = "Optimizers (--optimizer NAME) and their options, as --name-with-dashes VALUE" +
                    decay_form_example() + ". The trainer fills the seed from --seed and the batch size from "
                    "--batch-size. Options a command line does not give keep these defaults:\n\n";
    for (const std::string& n : optimizer_names()) s += optimizer_help(n) + "\n";
    s += "Schedules (--schedule NAME) and their options:\n\n";
    for (const std::string& n : schedule_names()) s += schedule_help(n) + "\n";
    // The settings in effect for what this command line chose ("--optimizer NAME --option VALUE --help").
    try {
        TrainOptions t = o;
        for (const RegistryFlag& f : flags)
            if (f.cli->count() > 0) {
                if (takes(find_optimizer(t.optimizer).options, f.flag.option)) t.optimizer_values.set(f.flag.option, f.text);
                if (takes(find_schedule(t.schedule).options, f.flag.option)) t.schedule_values.set(f.flag.option, f.text);
            }
        const OptionValues v = training_values(t.optimizer, t.optimizer_values,
                                               TrainingSetup{t.batch_size, t.seed, t.scale_with_batch});
        s += "With this command line: --optimizer " + t.optimizer + " " + optimizer_settings(t.optimizer, v) +
             "; --schedule " + t.schedule + " " + schedule_settings(t.schedule, t.schedule_values) + "\n\n";
    } catch (const std::exception& e) {
        s += "With this command line: " + std::string(e.what()) + "\n\n";
    }
    return s + "Per-example statistics are needed by " + statistics_optimizers() + " (and --stats turns them on for "
               "any). " + spec_statistics_note() + "\n\nbest.ckpt is the epoch with the best accuracy on the "
               "validation split; the test set is only reported.\nWith MPI (mpirun -np P build/train ...), each rank "
               "takes a shard of every batch; batch norm normalises over each rank's local shard.\nSIMD: the fast kernels "
               "run " + fast::simd_target() + " on this CPU (the environment variable DL_SIMD caps it: scalar, avx2, "
               "avx512); 5x5 convolutions with padding 2 and 3x3 with padding 1, at stride 1, use Winograd's method for the "
               "forward and both gradients (rounding about 1e-5 of a layer's output scale; DL_WINOGRAD=0: the direct kernels).";
}

// Parses `args` (program name first). Returns a CLI11 exit code, or -1 to go on.
int parse(CommandLine& c, std::vector<std::string> args) {
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    try {
        c.app.parse(static_cast<int>(argv.size()), argv.data());
    } catch (const CLI::ParseError& e) {
        return c.app.exit(e);
    }
    return -1;
}

// An option's value as given, or its default ("" for none).
std::string effective(const CLI::Option* opt) {
    if (opt->count() == 0) return opt->get_default_str();
    std::string s;
    for (const std::string& r : opt->results()) s += (s.empty() ? "" : ",") + r;
    return s;
}

// "--flag has no effect here (it applies to --schedule A and B; the schedule is C)".
std::string has_no_effect(const std::string& flag, const std::string& option, const TrainOptions& o) {
    const std::vector<std::string> opts = optimizers_taking(option), scheds = schedules_taking(option);
    std::string where, now;
    if (!opts.empty()) {
        where = "--optimizer " + join_names(opts);
        now = "the optimizer is " + o.optimizer;
    }
    if (!scheds.empty()) {
        where += (where.empty() ? "" : ", and to ") + ("--schedule " + join_names(scheds));
        now += (now.empty() ? "" : ", ") + ("the schedule is " + o.schedule);
    }
    return flag + " has no effect here (it applies to " + where + "; " + now + ")";
}

// The registry options given on the command line, handed to the optimizer or the
// schedule that takes them; one that neither takes is refused rather than ignored.
void collect_values(const CommandLine& c, TrainOptions& o) {
    o.optimizer_values = {};
    o.schedule_values = {};
    std::map<std::string, std::string> set_by;  // option -> the flag that set it
    for (const RegistryFlag& f : c.flags) {
        if (f.cli->count() == 0) continue;
        const std::string& name = f.flag.option;
        if (set_by.count(name))
            throw std::invalid_argument(set_by[name] + " and " + f.flag.flag + " set the same option: give one");
        set_by[name] = f.flag.flag;
        const bool optimizer = takes(find_optimizer(o.optimizer).options, name);
        const bool schedule = takes(find_schedule(o.schedule).options, name);
        if (!optimizer && !schedule) throw std::invalid_argument(has_no_effect(f.flag.flag, name, o));
        if (optimizer) o.optimizer_values.set(name, f.text);
        if (schedule) o.schedule_values.set(name, f.text);
    }
}

// The run's options as tokens for its checkpoints: every option given or with a
// default (so a later build with other defaults resumes the same run).
std::vector<std::string> stored_args(const CLI::App& app) {
    std::vector<std::string> out{kStoredForm};
    for (const CLI::Option* opt : app.get_options()) {
        const std::string name = opt->get_name();
        if (kNotStored.count(name) || (opt->count() == 0 && opt->get_default_str().empty())) continue;
        if (opt->get_expected_max() > 1 && opt->count() > 0) {  // a list: --milestones 5 10
            out.push_back(name);
            for (const std::string& r : opt->results()) out.push_back(r);
        } else {
            out.push_back(name + "=" + (opt->count() > 0 ? opt->results().back() : opt->get_default_str()));
        }
    }
    return out;
}

// Adds to stored options each option of the run's optimizer and schedule that the
// user left at its default, with that default: the settings the run had, kept
// should a later build change a default. Not stored: what the trainer fills (seed,
// batch size), an empty list, and under --scale-with-batch the lr and time
// constant (their per-example defaults apply: optim/registry.h, BatchScaling).
void add_defaults(std::vector<std::string>& args, const TrainOptions& o) {
    const OptimizerEntry& opt = find_optimizer(o.optimizer);
    auto add = [&](const std::vector<OptionSpec>& options, const OptionValues& given, bool scaled) {
        for (const OptionSpec& s : options) {
            if (s.role != OptionRole::User || s.default_text.empty() || given.has(s.name) ||
                (!s.decay_name.empty() && given.has(s.decay_name)))
                continue;
            if (scaled && (s.name == "lr" || s.name == opt.batch_scaling.time_constant)) continue;
            args.push_back(flag_of(s.name) + "=" + s.default_text);
        }
    };
    add(opt.options, o.optimizer_values, o.scale_with_batch);
    add(find_schedule(o.schedule).options, o.schedule_values, false);
}

// An option that does nothing in the chosen mode is refused rather than ignored.
void check_options_apply(const CommandLine& c) {
    const TrainOptions& o = c.o;
    struct Rule {
        const char* option;
        bool applies;
        std::string where;
    };
    std::vector<std::string> cyclic;
    for (const std::string& n : schedule_names())
        if (find_schedule(n).cycles) cyclic.push_back(n);
    const Rule rules[] = {
        {"--snapshots", find_schedule(o.schedule).cycles,
         "--schedule " + join_names(cyclic) + "; the schedule is " + o.schedule},
        {"--crop-padding", o.augment, "--augment"},
        {"--image-size", !o.images_dir.empty(), "--images"},
        {"--rgb", !o.images_dir.empty(), "--images"},
        {"--skip-unreadable", !o.images_dir.empty(), "--images"},
    };
    for (const Rule& r : rules)
        if (c.given(r.option) && !r.applies)
            throw std::invalid_argument(std::string(r.option) + " has no effect here (it applies to " + r.where + ")");
    if (c.given("--data") && c.given("--images"))
        throw std::invalid_argument("--data and --images both name the training data: give one");
}

// The stored options of a checkpoint written by an older build, in this build's form.
std::vector<std::string> from_older_build(const std::vector<std::string>& args) {
    std::vector<std::string> out{kStoredForm};
    for (size_t i = 1; i < args.size(); ++i)
        if (!kOlderBuildDefaults.count(args[i])) out.push_back(args[i]);
    return out;
}

// --resume: the run's stored options, with the few this command line may change.
TrainOptions resume_options(const CommandLine& now, const Checkpoint& ck) {
    const std::string where = "--resume " + now.resume + ": ";
    auto it = ck.extra.find("args");
    if (it == ck.extra.end()) throw std::runtime_error(where + "no training options inside; was it written by build/train?");
    std::vector<std::string> args = decode_strings(it->second, where + "the 'args' record");
    if (args.empty()) throw std::runtime_error(where + "the 'args' record is empty");
    if (args[0] != kStoredForm) args = from_older_build(args);
    CommandLine stored;
    if (parse(stored, args) >= 0)
        throw std::runtime_error(where + "the run's stored options do not parse with this build (see above)");
    args = stored_args(stored.app);
    std::vector<std::string> changed;
    for (const CLI::Option* opt : now.app.get_options()) {
        const std::string name = opt->get_name();
        if (opt->count() == 0 || name == "--resume") continue;
        if (kMayChangeOnResume.count(name)) {
            changed.push_back(name);
            continue;
        }
        const std::string then = effective(stored.app.get_option(name)), value = effective(opt);
        if (then != value)
            throw std::invalid_argument(
                where + "the run was started " + (then.empty() ? "without " + name : "with " + name + " " + then) +
                ", not " + name + " " + value + "; --resume may change only --epochs, --lr, --threads, --out, "
                "--max-steps and --stats (to train its weights with other options, start a new run with --init-from " +
                now.resume + ")");
    }
    // Drop the stored tokens of the options given now, then add this command line's.
    std::vector<std::string> merged{kStoredForm};
    for (size_t i = 1; i < args.size(); ++i) {
        const std::string name = args[i].substr(0, args[i].find('='));
        if (std::find(changed.begin(), changed.end(), name) != changed.end()) {
            while (i + 1 < args.size() && args[i + 1].rfind("--", 0) != 0) ++i;  // a list's values
            continue;
        }
        merged.push_back(args[i]);
    }
    for (const std::string& name : changed) {
        const CLI::Option* opt = now.app.get_option(name);
        merged.push_back(name + "=" + opt->results().back());
    }
    CommandLine result;
    if (parse(result, merged) >= 0) throw std::runtime_error(where + "cannot combine the run's options with these");
    TrainOptions o = result.o;
    collect_values(result, o);
    o.args = stored_args(result.app);
    add_defaults(o.args, o);  // an older build's run gets the defaults it trained with
    if (!now.given("--out")) {
        const size_t slash = now.resume.find_last_of('/');
        o.out = slash == std::string::npos ? "." : now.resume.substr(0, slash);
    }
    return o;
}

// What train_main changes in the process, put back when it returns.
struct RestoreThreads {
    int threads = num_threads();
    ~RestoreThreads() { set_num_threads(threads); }
};

}  // namespace

int train_main(int argc, char** argv) {
    Distributed dist(&argc, &argv);
    RestoreThreads restore_threads;
    std::optional<RunDir> run_dir;
    auto fail = [&](const std::string& message, int status) {
        if (run_dir) run_dir->remove_if_unused();  // a run that never began leaves no empty folder
        if (status == 1 && dist.active()) dist.abort(message);  // the other ranks must not wait for this one
        std::fprintf(stderr, "%s\n", message.c_str());
        return status;
    };
    try {
        auto now = std::make_unique<CommandLine>();
        int code = parse(*now, std::vector<std::string>(argv, argv + argc));
        if (code >= 0) return code;
        if (!now->resume.empty() && !now->init_from.empty())
            throw std::invalid_argument("--resume continues a run, --init-from starts a new one from its weights: give one");
        std::optional<Checkpoint> ck;
        const std::string from = !now->resume.empty() ? now->resume : now->init_from;
        TrainOptions o;
        std::string label;  // for the run folder's name
        if (!now->resume.empty()) {  // --resume checks each option against the run's
            ck = read_checkpoint(from);
            o = resume_options(*now, *ck);
            label = model_label(o.model);
        } else {
            check_options_apply(*now);
            o = now->o;
            collect_values(*now, o);
            if (!from.empty()) ck = read_checkpoint(from);
            if (ck && !now->given("--model")) o.model = ck->spec.name;  // --init-from: its model by default
            label = model_label(o.model);
            // A spec read from @FILE is kept as its text: a resume builds the model as trained, not the file now.
            if (!o.model.empty() && o.model[0] == '@') o.model = model_layers(o.model);
            o.args = stored_args(now->app);
            for (std::string& a : o.args)  // the stored options name the model actually trained
                if (a.rfind("--model=", 0) == 0) a = "--model=" + o.model;
            add_defaults(o.args, o);
        }
        if (dist.is_root()) {
            const bool chosen = !o.out.empty();
            run_dir.emplace(chosen ? RunDir::open(o.out) : RunDir::create_unique(default_out(o, label)));
            o.out = run_dir->path();
            if (const int n = run_dir->remove_stale_temporaries())
                std::fprintf(stderr, "note: removed %d temporary file%s that a killed run left in %s\n", n,
                             n == 1 ? "" : "s", o.out.c_str());
        } else if (o.out.empty()) {
            o.out = default_out(o, label);  // only rank 0 writes
        }
        InterruptHandler interrupts;
        Trainer trainer(o, dist);
        if (!now->resume.empty()) trainer.resume(*ck, now->resume);
        if (!now->init_from.empty()) trainer.init_from(*ck, now->init_from);
        TrainResult r = trainer.run();
        if (dist.is_root()) {
            JsonLine j;
            j.add("model", o.model).add("optimizer", o.optimizer).add("epochs", r.epochs)
                .add("batch_size", o.batch_size).add("seed", static_cast<long>(o.seed))
                .add("test_accuracy", r.test_accuracy).add("test_loss", r.test_loss)
                .add("train_examples_per_s", r.train_examples_per_s, 5).add("seconds", r.seconds, 4)
                .add("checkpoint", r.checkpoint).add("interrupted", r.interrupted);
            std::printf("%s\n", j.str().c_str());
            std::fflush(stdout);
        }
        return r.interrupted ? 130 : 0;
    } catch (const LoadInterrupted& e) {
        return fail(std::string("train: ") + e.what(), 130);
    } catch (const std::bad_alloc&) {
        return fail("train: out of memory (the data set or the model is too large for this machine; "
                    "try --limit, a smaller --batch-size or --image-size)", 1);
    } catch (const std::exception& e) {
        return fail(std::string("train: ") + e.what(), 1);
    }
}

}  // namespace dl
