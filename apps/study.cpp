// build/study: an optimizer study in one command (the protocol of DeepOBS and AlgoPerf).
//
//   build/study --model mlp --optimizers sgd,adam --grid 1e-4:1:9 --seeds 3 --epochs 5 --target 0.85
//   build/study --model cnn                     (every algorithm, each on its own default grid)
//
// Every optimizer runs at every point of its learning-rate grid with the first
// seed; the best point by final validation accuracy (a split of the training
// set, never the test set) runs again with every other seed. Out come OUT/table.md
// and table.csv, plots, and one self-contained OUT/report.html. A study that is
// stopped (Ctrl-C) or killed continues where it was when the same command runs
// again. See apps/study/*.h for how each part works.
#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "apps/common/report.h"
#include "apps/study/output.h"
#include "apps/study/plan.h"
#include "apps/study/runner.h"
#include "optim/registry.h"

using namespace dl;
using namespace dl::study;

namespace {

std::vector<std::string> split_list(const std::string& s) {
    std::vector<std::string> out;
    std::string item;
    std::istringstream in(s);
    while (std::getline(in, item, ',')) out.push_back(item);
    return out;
}

// "3": seeds 1, 2, 3; "1,5,9": those seeds.
std::vector<uint64_t> parse_seeds(const std::string& s) {
    std::vector<uint64_t> seeds;
    auto number = [&](const std::string& t) {
        size_t used = 0;
        unsigned long long v = 0;
        try {
            v = std::stoull(t, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used == 0 || used != t.size() || t[0] == '-')
            throw std::invalid_argument("--seeds '" + s + "': '" + t + "' is not a whole number >= 0");
        return static_cast<uint64_t>(v);
    };
    if (s.find(',') == std::string::npos) {
        const uint64_t n = number(s);
        if (n > 1000) throw std::invalid_argument("--seeds " + s + ": at most 1000 seeds");
        for (uint64_t i = 1; i <= n; ++i) seeds.push_back(i);
    } else {
        for (const std::string& t : split_list(s))
            if (!t.empty()) seeds.push_back(number(t));
    }
    return seeds;
}

std::string default_train(const char* argv0) {
    const std::string self = argv0;
    const size_t slash = self.find_last_of('/');
    return slash == std::string::npos ? "train" : self.substr(0, slash + 1) + "train";
}

std::string shell_command(int argc, char** argv) {
    std::string c;
    for (int i = 0; i < argc; ++i) {
        std::string a = argv[i];
        const bool plain = a.find_first_of(" '\"$\\*?;&|<>()") == std::string::npos && !a.empty();
        c += (i ? " " : "") + (plain ? a : "'" + a + "'");
    }
    return c;
}

double add_seconds(const std::string& out, double seconds) {
    const std::string path = out + "/seconds.txt";
    double before = 0;
    std::ifstream(path) >> before;
    write_file_atomic(path, std::to_string(before + seconds) + "\n");
    return before + seconds;
}

struct Cli {
    StudyOptions o;
    std::string optimizers = "all", seeds = "3";
    std::vector<std::string> grids;
    std::string publish;
    bool keep_checkpoints = false;
};

int parse(int argc, char** argv, Cli& c) {
    CLI::App app{"Runs an optimizer study: a learning-rate grid per optimizer, the best lr (by validation "
                 "accuracy) rerun with several seeds; writes tables, plots and report.html."};
    StudyOptions& o = c.o;
    app.add_option("--model", o.model, "model name or spec, as build/train --model takes it")->capture_default_str();
    app.add_option("--data", o.data_dir, "directory of MNIST-style IDX files (default: Fashion-MNIST)");
    app.add_option("--optimizers", c.optimizers, "comma list of optimizers, or 'all'")->capture_default_str();
    app.add_option("--grid", c.grids,
                   "learning-rate grid: A:B:N (N log-spaced points from A to B) or a,b,c; OPT=GRID for one "
                   "optimizer (repeatable). Default: each optimizer's own 5-point grid");
    app.add_option("--seeds", c.seeds, "N (seeds 1..N) or a list 1,5,9; the first one tunes")->capture_default_str();
    app.add_option("--epochs", o.epochs, "epoch budget of every run")->capture_default_str();
    app.add_option("--target", o.target, "test accuracy whose time to reach is measured (0..1]")->capture_default_str();
    app.add_option("--batch-size", o.batch_size, "examples per step")->capture_default_str();
    app.add_option("--val-split", o.val_split, "fraction of the training set held out to choose the lr (0 only with one-point grids)")
        ->capture_default_str();
    app.add_option("--limit", o.limit, "use only this many training examples per run (0: all)")->capture_default_str();
    app.add_option("--jobs", o.jobs, "runs at once")->capture_default_str();
    app.add_option("--threads", o.threads, "threads per run")->capture_default_str();
    app.add_option("--train-arg", o.train_args,
                   "[OPTIMIZER:]--option[=value]: passed to build/train (for every run, or that optimizer's), "
                   "e.g. momentum:--momentum-n=100 (repeatable)");
    app.add_option("--out", o.out, "study folder (runs, tables, plots, report.html)")->capture_default_str();
    app.add_option("--publish", c.publish, "also copy the tables, plots and report.html into this folder");
    app.add_option("--train", o.train, "the trainer program (default: train beside this program)");
    app.add_flag("--keep-checkpoints", c.keep_checkpoints, "keep each finished run's model.ckpt and best.ckpt");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    return -1;
}

}  // namespace

int main(int argc, char** argv) {
    Cli c;
    c.o.train = default_train(argv[0]);
    const int code = parse(argc, argv, c);
    if (code >= 0) return code;
    StudyOptions& o = c.o;
    try {
        const std::vector<std::string> known = optimizer_names();
        o.optimizers = c.optimizers == "all" ? known : split_list(c.optimizers);
        o.seeds = parse_seeds(c.seeds);
        for (const std::string& g : c.grids) {
            const size_t eq = g.find('=');
            if (eq == std::string::npos) o.grid = g;
            else o.grids[g.substr(0, eq)] = g.substr(eq + 1);
        }
        for (const std::string& g : c.grids)
            if (g.empty() || (g.find('=') != std::string::npos && g.substr(g.find('=') + 1).empty()))
                throw std::invalid_argument("--grid '" + g + "' is empty: give A:B:N (N points from A to B) or a,b,c");
        validate(o, known);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "study: %s\n", e.what());
        return 2;
    }
    try {
        Runner runner(o);
        if (c.keep_checkpoints) runner.keep_checkpoints();
        install_stop_handler();
        const bool finished = runner.run_all();
        const double seconds = add_seconds(o.out, runner.seconds());
        if (!finished) {
            std::fprintf(stderr, "study: stopped; every run is resumable: run the same command again to continue\n");
            return 130;
        }
        std::vector<OptimizerResults> results;
        for (const std::string& name : o.optimizers) {
            OptimizerResults r{name, runner.tuning_results(name), runner.seed_results(name), {}};
            r.summary = summarize(name, r.tuning, r.seeds, o.target);
            results.push_back(std::move(r));
        }
        std::vector<std::string> notes;
        write_outputs(o, results, seconds, shell_command(argc, argv), notes);
        if (!c.publish.empty()) {
            make_dirs(c.publish);
            for (const char* f : {"table.md", "table.csv", "grid.csv", "curves.csv", "accuracy.png", "tuning.png",
                                  "report.html"}) {
                std::ifstream in(o.out + "/" + f, std::ios::binary);
                if (!in) continue;
                std::stringstream ss;
                ss << in.rdbuf();
                write_file_atomic(c.publish + "/" + f, ss.str());
            }
        }
        for (const std::string& n : notes) std::fprintf(stderr, "note: %s\n", n.c_str());
        std::ifstream md(o.out + "/table.md");
        std::printf("%s", std::string(std::istreambuf_iterator<char>(md), {}).c_str());
        std::printf("\nstudy: %.0f s; report: %s/report.html\n", seconds, o.out.c_str());
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "study: %s\n", e.what());
        return 1;
    }
}
