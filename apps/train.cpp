// build/train: trains a model from the command line.
//
//   build/train --model cnn --epochs 5 --optimizer momentum --lr 0.01
//   build/train --resume runs/cnn-momentum-.../model.ckpt          (continue exactly)
//   mpirun -np 2 build/train --threads 1 ...                       (data-parallel)
//
// Progress on stderr, per-epoch metrics in OUT/metrics.csv, checkpoints
// OUT/model.ckpt (last, resumable) and OUT/best.ckpt, curves in OUT/curves.png,
// and as the last line on stdout a one-line JSON summary.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <sstream>

#include "core/blas_setup.h"
#include "core/fast/dispatch.h"
#include "apps/common/report.h"
#include "apps/common/trainer.h"
#include "layers/spec.h"

using namespace dl;

namespace {

std::string default_out(const TrainOptions& o) {
    char stamp[32];
    std::time_t now = std::time(nullptr);
    std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&now));
    return "runs/" + model_label(o.model) + "-" + o.optimizer + "-" + stamp;
}

// Optional optimizer options: set only when given, so each algorithm keeps its own defaults.
template <class T>
void optional_option(CLI::App& app, const std::string& name, std::optional<T>& target, const std::string& help) {
    app.add_option_function<T>(name, [&target](const T& v) { target = v; }, help);
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

void define_options(CLI::App& app, TrainOptions& o, std::string& resume) {
    app.add_option("--model", o.model, "a named model (" + [] {
        std::string s;
        for (const std::string& n : model_names()) s += (s.empty() ? "" : ", ") + n;
        return s;
    }() + "), a spec such as \"conv 32 5 pad same, relu, maxpool 2, flatten, linear\" (layers: " +
                                           spec_layer_words() + "; see README), or @FILE holding a spec")
        ->capture_default_str();
    app.add_option("--data", o.data_dir, "directory of MNIST-style IDX files (default: the Fashion-MNIST package)");
    app.add_option("--images", o.images_dir, "train on an image folder ROOT/<class>/<image> instead");
    app.add_option("--image-size", o.image_size, "image folders: resize to this square")->capture_default_str()
        ->check(CLI::Range(4, 512));
    app.add_flag("--rgb", o.rgb, "image folders: keep colour (default: grayscale)");
    app.add_option("--epochs", o.epochs, "passes over the training set")->capture_default_str()->check(CLI::Range(1, 100000));
    app.add_option("--batch-size", o.batch_size, "examples per step (the global batch with MPI)")->capture_default_str()
        ->check(CLI::Range(1, 1 << 20));
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
    app.add_option("--tau", o.schedule.tau, "robbins-monro: eta_t = eta_0 / (1 + t/tau), t in steps")->capture_default_str();
    app.add_option("--milestones", o.milestones, "step, batch-growth: epochs where eta drops (batch grows)")->delimiter(',');
    app.add_option("--decay", o.decay_factor, "step: eta multiplier at each milestone (batch-growth: 1/growth)")
        ->capture_default_str()->check(CLI::Range(1e-6, 1.0));
    app.add_option("--cycle-epochs", o.schedule.cycle_epochs, "cosine-restarts: epochs per cycle")->capture_default_str();
    app.add_option("--warmup-epochs", o.schedule.warmup_epochs, "linear warm-up (any schedule; 'warmup' alone uses 1)")
        ->capture_default_str();
    app.add_flag("--scale-with-batch", o.scale_with_batch,
                 "treat --lr and --momentum-n as per-example eta', N'_g and apply the lecture's rule "
                 "N_g = max(1, N'_g/B), eta = B eta'/N_g");
    app.add_flag("--augment", o.augment, "random crops (of the image padded by --crop-padding) and horizontal flips");
    app.add_option("--crop-padding", o.crop_padding, "--augment: padding of the random crops (0: flips only)")
        ->capture_default_str()->check(CLI::Range(0, 16));
    app.add_option("--val-split", o.val_split, "fraction of the training set held out for validation")
        ->capture_default_str()->check(CLI::Range(0.0, 0.5));
    app.add_option("--seed", o.seed, "seed of initialisation, shuffling, augmentation, dropout")->capture_default_str();
    app.add_option("--threads", o.threads, "threads (OpenMP and OpenBLAS; per rank with MPI)")->capture_default_str()
        ->check(CLI::Range(1, 256));
    app.add_flag("--stats", o.stats, "compute per-example gradient statistics and log the gradient noise scale");
    app.add_option("--out", o.out, "run directory (default runs/<model>-<optimizer>-<time>)");
    app.add_option("--resume", resume, "continue a run from its model.ckpt (same options; --epochs, --out, "
                                       "--threads and --max-steps may change)")->check(CLI::ExistingFile);
    app.add_option("--limit", o.limit, "use only this many training examples")->check(CLI::Range(0L, 1L << 30));
    app.add_option("--max-steps", o.max_steps, "stop after this many steps as if interrupted (resumable checkpoint)")
        ->check(CLI::Range(0L, 1L << 40));
    app.add_flag("--snapshots", o.snapshots, "cosine-restarts: save a checkpoint at the end of every cycle");
    std::string defaults = "Each optimizer's options and defaults (--momentum-n is n_g, --rms-n n_s, --adaptive-k k; "
                           "the trainer sets seed from --seed and adaptive's batch_size from --batch-size):\n";
    for (const std::string& n : optimizer_names()) defaults += "  " + n + ": " + optimizer_defaults(n) + "\n";
    app.footer(defaults + "\nPer-example statistics are needed by " + statistics_optimizers() +
               " (and --stats turns them on for any). " + spec_statistics_note() +
               "\n\nWith MPI (mpirun -np P build/train ...), each rank takes a shard of every batch; batch norm "
               "normalises over each rank's local shard.\nSIMD: the fast kernels run " + fast::simd_target() +
               " on this CPU (the environment variable DL_SIMD caps it: scalar, avx2, avx512).");
}

void finish_options(TrainOptions& o) {
    if (o.schedule_name == "warmup" && o.schedule.warmup_epochs == 0) o.schedule.warmup_epochs = 1;
    const std::string& s = o.schedule_name;
    o.schedule.kind = s == "cosine-restarts" ? "cosine"
                    : (s == "warmup" || s == "batch-growth") ? "constant" : s;
    o.schedule.milestones = s == "step" ? o.milestones : std::vector<int>{};
    o.schedule.factor = o.decay_factor;
    if (o.out.empty()) o.out = default_out(o);
}

// Parses argv into options; returns a CLI11 exit code or -1 to go on.
int parse(int argc, char** argv, TrainOptions& o, std::string& resume) {
    CLI::App app{"Trains a model on Fashion-MNIST (or any MNIST-like set, or an image folder)."};
    define_options(app, o, resume);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    return -1;
}

std::vector<std::string> split_lines(const std::string& s) {
    std::vector<std::string> out;
    std::istringstream in(s);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
}

// --resume: the options stored in the checkpoint, with --epochs, --out and --threads of this command line.
int resume_options(const std::string& path, int argc, char** argv, TrainOptions& o) {
    Checkpoint ck = read_checkpoint(path);
    auto it = ck.extra.find("args");
    if (it == ck.extra.end()) throw std::runtime_error(path + ": no training options inside; was it written by build/train?");
    const std::vector<std::string> stored = split_lines(it->second);
    const std::vector<std::string> now(argv, argv + argc);
    auto overridable = [](const std::string& a) {
        return a == "--epochs" || a == "--threads" || a == "--out" || a == "--max-steps";
    };
    std::vector<std::string> args;
    for (size_t i = 0; i < stored.size(); ++i) {
        const bool given_now = std::find(now.begin(), now.end(), stored[i]) != now.end();
        if ((overridable(stored[i]) && given_now) || stored[i] == "--max-steps") {
            ++i;  // skip the stored value too
            continue;
        }
        args.push_back(stored[i]);
    }
    for (size_t i = 1; i + 1 < now.size(); ++i)
        if (overridable(now[i])) {
            args.push_back(now[i]);
            args.push_back(now[i + 1]);
        }
    std::vector<char*> cargs;
    for (std::string& a : args) cargs.push_back(a.data());
    std::string ignored;
    o = TrainOptions{};
    int code = parse(static_cast<int>(cargs.size()), cargs.data(), o, ignored);
    if (code >= 0) return code;
    o.args.assign(args.begin(), args.end());
    if (!o.model.empty() && o.model[0] == '@') o.model = ck.spec.layers;  // the spec as trained, not the file now
    if (o.out.empty() || std::find(now.begin(), now.end(), "--out") == now.end()) {
        const size_t slash = path.find_last_of('/');
        o.out = slash == std::string::npos ? "." : path.substr(0, slash);
    }
    return -1;
}

}  // namespace

int main(int argc, char** argv) {
    Distributed dist(&argc, &argv);
    try {
        TrainOptions o;
        std::string resume;
        int code = parse(argc, argv, o, resume);
        if (code >= 0) return code;
        o.args.assign(argv, argv + argc);
        if (!resume.empty()) {
            code = resume_options(resume, argc, argv, o);
            if (code >= 0) return code;
        }
        finish_options(o);
        install_interrupt_handler();
        Trainer trainer(o, dist);
        if (!resume.empty()) trainer.resume(read_checkpoint(resume));
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
    } catch (const std::exception& e) {
        dist.abort(std::string("train: ") + e.what());
    }
}
