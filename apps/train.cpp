// build/train: trains a model from the command line.
//
//   build/train --model cnn --epochs 5 --optimizer momentum --lr 0.01
//   build/train --resume runs/cnn-momentum-.../model.ckpt --epochs 10   (continue the run)
//   build/train --init-from runs/.../best.ckpt --optimizer sgd --lr 0.001 (fine-tune: a new run from its weights)
//   mpirun -np 2 build/train --threads 1 ...                             (data-parallel)
//
// Progress on stderr, per-epoch metrics in OUT/metrics.csv, checkpoints
// OUT/model.ckpt (last, resumable) and OUT/best.ckpt (best on validation),
// curves in OUT/curves.png, and as the last line on stdout a one-line JSON summary.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <memory>
#include <new>
#include <optional>
#include <set>

#include "core/blas_setup.h"
#include "core/fast/dispatch.h"
#include "apps/common/report.h"
#include "apps/common/run_dir.h"
#include "apps/common/task.h"
#include "apps/common/trainer.h"
#include "layers/spec.h"

using namespace dl;

namespace {

// What --resume may change; every other option keeps the run's value, and giving
// another one is refused (it would silently not apply, or change the run's meaning).
const std::set<std::string> kMayChangeOnResume = {"--epochs", "--lr", "--threads", "--out", "--max-steps", "--stats"};
// Options that belong to one invocation, never stored with the run.
const std::set<std::string> kNotStored = {"--help", "--resume", "--init-from", "--out", "--max-steps"};

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

// Optional optimizer options: set only when given, so each algorithm keeps its own defaults.
template <class T>
CLI::Option* optional_option(CLI::App& app, const std::string& name, std::optional<T>& target, const std::string& help) {
    CLI::Option* opt = app.add_option_function<T>(name, [&target](const T& v) { target = v; }, help);
    if (std::is_floating_point<T>::value) opt->check(kFinite);
    return opt;
}

// The optimizers that need per-example statistics ("adaptive --per-example-sigma true" for one that needs them
// when an option says so).
std::string statistics_optimizers() {
    std::string s;
    for (const std::string& n : optimizer_names()) {
        const OptimizerEntry& e = find_optimizer(n);
        if (e.statistics == NeedsStatistics::Never) continue;
        std::string flag = e.statistics_option;
        std::replace(flag.begin(), flag.end(), '_', '-');
        s += (s.empty() ? "" : ", ") + n + (e.statistics == NeedsStatistics::WhenOption ? " --" + flag + " true" : "");
    }
    return s;
}

// The command line: CLI11's parser and the options it fills.
struct CommandLine {
    CLI::App app{"Trains a model on Fashion-MNIST (or any MNIST-like set, or an image folder)."};
    TrainOptions o;
    std::string resume, init_from;
    CommandLine();
    bool given(const std::string& name) const { return app.get_option(name)->count() > 0; }
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
    app.add_option("--optimizer", o.optimizer, "any of: " + [] {
        std::string s;
        for (const std::string& n : optimizer_names()) s += (s.empty() ? "" : ", ") + n;
        return s;
    }())->capture_default_str()->check(CLI::IsMember(optimizer_names()));
    optional_option(app, "--lr", o.opt.lr, "learning rate eta (per example eta' with --scale-with-batch; "
                                          "default: the optimizer's own)");
    optional_option(app, "--momentum-n", o.opt.n_g, "N_g, the momentum time constant (beta1 = 1 - 1/N_g)");
    optional_option(app, "--rms-n", o.opt.n_s, "N_s, the time constant of the squared-gradient average");
    optional_option(app, "--eps", o.opt.eps, "epsilon of rmsprop/adam/adaptive");
    optional_option(app, "--nesterov", o.opt.nesterov, "momentum: Nesterov's variant (true/false)");
    optional_option(app, "--weight-decay", o.opt.weight_decay, "adam: decoupled weight decay");
    optional_option(app, "--temperature", o.opt.temperature, "langevin: temperature T");
    optional_option(app, "--sigma2-floor", o.opt.sigma2_floor, "langevin-precond: floor on sigma^2");
    optional_option(app, "--adaptive-k", o.opt.k, "adaptive: K, steps before the first update");
    optional_option(app, "--lambda-b", o.opt.lambda_b, "adaptive: lambda_B");
    optional_option(app, "--max-eta", o.opt.max_eta, "adaptive: cap on eta[i]");
    optional_option(app, "--per-example-sigma", o.opt.per_example_sigma,
                    "adaptive: estimate sigma from per-example statistics (true/false)");
    app.add_option("--schedule", o.schedule_name, "constant, robbins-monro, step, cosine-restarts, warmup, batch-growth")
        ->capture_default_str()
        ->check(CLI::IsMember({"constant", "robbins-monro", "step", "cosine-restarts", "warmup", "batch-growth"}));
    app.add_option("--tau", o.schedule.tau, "robbins-monro: eta_t = eta_0 / (1 + t/tau), t in steps")
        ->capture_default_str()->check(kFinite);
    app.add_option("--milestones", o.milestones, "step, batch-growth: epochs where eta drops (batch grows)")->delimiter(',');
    app.add_option("--decay", o.decay_factor, "step: eta multiplier at each milestone (batch-growth: 1/growth)")
        ->capture_default_str()->check(kFinite)->check(CLI::Range(1e-6, 1.0));
    app.add_option("--cycle-epochs", o.schedule.cycle_epochs, "cosine-restarts: epochs per cycle")
        ->capture_default_str()->check(kFinite);
    app.add_option("--warmup-epochs", o.schedule.warmup_epochs, "linear warm-up (any schedule; 'warmup' alone uses 1)")
        ->capture_default_str()->check(kFinite);
    app.add_flag("--scale-with-batch", o.scale_with_batch,
                 "treat --lr and --momentum-n as per-example eta', N'_g and apply the lecture's rule "
                 "N_g = max(1, N'_g/B), eta = B eta'/N_g");
    app.add_flag("--augment", o.augment, "random crops (of the image padded by --crop-padding) and horizontal flips");
    app.add_option("--crop-padding", o.crop_padding, "--augment: padding of the random crops (0: flips only)")
        ->capture_default_str()->check(CLI::Range(0, 16));
    app.add_option("--val-split", o.val_split, "fraction of the training set held out for validation, which "
                                               "chooses best.ckpt (0: none, and no best.ckpt)")
        ->capture_default_str()->check(kFinite)->check(CLI::Range(0.0, 0.5));
    app.add_option("--seed", o.seed, "seed of initialisation, shuffling, augmentation, dropout")->capture_default_str();
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
    app.add_flag("--snapshots", o.snapshots, "cosine-restarts: save a checkpoint at the end of every cycle");
    std::string defaults = "Each optimizer's options and defaults (--momentum-n is n_g, --rms-n n_s, --adaptive-k k; "
                           "the trainer sets seed from --seed and adaptive's batch_size from --batch-size):\n";
    for (const std::string& n : optimizer_names()) defaults += "  " + n + ": " + optimizer_defaults(n) + "\n";
    app.footer(defaults + "\nPer-example statistics are needed by " + statistics_optimizers() +
               " (and --stats turns them on for any). " + spec_statistics_note() + "\n\nbest.ckpt is the epoch with the best accuracy on the validation split; the test set "
               "is only reported.\nWith MPI (mpirun -np P build/train ...), each rank takes a shard of every batch; "
               "batch norm normalises over each rank's local shard.\nSIMD: the fast kernels run " + fast::simd_target() +
               " on this CPU (the environment variable DL_SIMD caps it: scalar, avx2, avx512).");
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

// The run's options as tokens for its checkpoints: every option given or with a
// default (so a later build with other defaults resumes the same run).
std::vector<std::string> stored_args(const CLI::App& app) {
    std::vector<std::string> out{"train"};
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

// An option that does nothing in the chosen mode is refused rather than ignored.
void check_options_apply(const CommandLine& c) {
    const TrainOptions& o = c.o;
    const std::string& s = o.schedule_name;
    struct Rule {
        const char* option;
        bool applies;
        std::string where;
    };
    const Rule rules[] = {
        {"--milestones", s == "step" || s == "batch-growth", "--schedule step and batch-growth"},
        {"--decay", s == "step" || s == "batch-growth", "--schedule step and batch-growth"},
        {"--tau", s == "robbins-monro", "--schedule robbins-monro"},
        {"--cycle-epochs", s == "cosine-restarts", "--schedule cosine-restarts"},
        {"--snapshots", s == "cosine-restarts", "--schedule cosine-restarts"},
        {"--crop-padding", o.augment, "--augment"},
        {"--image-size", !o.images_dir.empty(), "--images"},
        {"--rgb", !o.images_dir.empty(), "--images"},
        {"--skip-unreadable", !o.images_dir.empty(), "--images"},
    };
    for (const Rule& r : rules)
        if (c.given(r.option) && !r.applies)
            throw std::invalid_argument(std::string(r.option) + " has no effect here (it applies to " + r.where +
                                        "; the schedule is " + s + (o.augment ? ", with --augment" : "") + ")");
    if (c.given("--data") && c.given("--images"))
        throw std::invalid_argument("--data and --images both name the training data: give one");
}

// --resume: the run's stored options, with the few this command line may change.
TrainOptions resume_options(const CommandLine& now, const Checkpoint& ck) {
    const std::string where = "--resume " + now.resume + ": ";
    auto it = ck.extra.find("args");
    if (it == ck.extra.end()) throw std::runtime_error(where + "no training options inside; was it written by build/train?");
    CommandLine stored;
    if (parse(stored, decode_strings(it->second, where + "the 'args' record")) >= 0)
        throw std::runtime_error(where + "the run's stored options do not parse with this build (see above)");
    std::vector<std::string> args = stored_args(stored.app);
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
    std::vector<std::string> merged{"train"};
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
    o.args = stored_args(result.app);
    if (!now.given("--out")) {
        const size_t slash = now.resume.find_last_of('/');
        o.out = slash == std::string::npos ? "." : now.resume.substr(0, slash);
    }
    return o;
}

void finish_options(TrainOptions& o) {
    if (o.schedule_name == "warmup" && o.schedule.warmup_epochs == 0) o.schedule.warmup_epochs = 1;
    const std::string& s = o.schedule_name;
    o.schedule.kind = s == "cosine-restarts" ? "cosine"
                    : (s == "warmup" || s == "batch-growth") ? "constant" : s;
    o.schedule.milestones = s == "step" ? o.milestones : std::vector<int>{};
    o.schedule.factor = o.decay_factor;
}

}  // namespace

int main(int argc, char** argv) {
    Distributed dist(&argc, &argv);
    std::optional<RunDir> run_dir;
    auto fail = [&](const std::string& message, int status) {
        if (run_dir) run_dir->remove_if_unused();  // a run that never began leaves no empty folder
        if (status != 1) {
            std::fprintf(stderr, "%s\n", message.c_str());
            return status;
        }
        dist.abort(message);
    };
    try {
        auto now = std::make_unique<CommandLine>();
        int code = parse(*now, std::vector<std::string>(argv, argv + argc));
        if (code >= 0) return code;
        if (!now->resume.empty() && !now->init_from.empty())
            throw std::invalid_argument("--resume continues a run, --init-from starts a new one from its weights: give one");
        if (now->resume.empty()) check_options_apply(*now);  // --resume checks each option against the run's
        std::optional<Checkpoint> ck;
        const std::string from = !now->resume.empty() ? now->resume : now->init_from;
        if (!from.empty()) ck = read_checkpoint(from);
        TrainOptions o;
        std::string label;  // for the run folder's name
        if (!now->resume.empty()) {
            o = resume_options(*now, *ck);
            label = model_label(o.model);
        } else {
            o = now->o;
            if (ck && !now->given("--model")) o.model = ck->spec.name;  // --init-from: its model by default
            label = model_label(o.model);
            // A spec read from @FILE is kept as its text: a resume builds the model as trained, not the file now.
            if (!o.model.empty() && o.model[0] == '@') o.model = model_layers(o.model);
            o.args = stored_args(now->app);
            for (std::string& a : o.args)  // the stored options name the model actually trained
                if (a.rfind("--model=", 0) == 0) a = "--model=" + o.model;
        }
        finish_options(o);
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
        install_interrupt_handler();
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
