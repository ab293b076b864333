// Extending build/train without touching the library: this file defines an
// optimizer (sign descent with momentum) and a learning-rate schedule (linear
// decay) as a user would, registers both through the public API
// (optim/registry.h), and runs build/train's own main (train_main, in
// libdl_train.a) in this process: --help lists them with their options,
// defaults and ranges; they train, save, resume bit for bit (mid-epoch too),
// and their options are checked by name and range and stored with the run.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "apps/common/train_main.h"
#include "optim/registry.h"
#include "tests/run_program.h"
#include "tests/small_data.h"

using namespace dl;
using dl::testing::metrics_column;
using dl::testing::metrics_without_timing;
using dl::testing::read_text;
using dl::testing::TempDir;

namespace {

// ---- An optimizer of one's own: options, a table of them, the class, one entry.

// Sign descent with momentum ("signum", Bernstein et al. 2018):
//     m_t     = (1 - 1/N_g) m_{t-1} + (1/N_g) g_t        m_0 = 0   (N_g = 1: sign-SGD)
//     Phi_t+1 = Phi_t - eta sign(m_t)
struct SignDescentOptions {
    float lr = 0.001f;  // eta
    float n_g = 1.0f;   // N_g >= 1
};

const OptionTable<SignDescentOptions>& sign_descent_options() {
    static const OptionTable<SignDescentOptions> table{
        option("lr", &SignDescentOptions::lr, "step size eta of each weight", at_least(0)),
        time_constant("n_g", &SignDescentOptions::n_g, "momentum", "time constant of the gradient average")};
    return table;
}

class SignDescent : public Optimizer {
public:
    SignDescent(ParameterList params, const SignDescentOptions& o)
        : Optimizer("sign-descent", std::move(params), o.lr), rate_(1.0f / o.n_g) {
        sign_descent_options().validate(o, name());
        mean_ = add_state(1);  // saved and restored by the base class
    }

protected:
    void update(Parameter& p, size_t index) override {
        float* m = state(index, mean_);
        for (size_t i = 0; i < p.size(); ++i) {
            m[i] = (1.0f - rate_) * m[i] + rate_ * p.grad[i];
            p.value[i] -= lr() * static_cast<float>((m[i] > 0.0f) - (m[i] < 0.0f));
        }
    }

private:
    float rate_;
    int mean_;
};

// ---- A schedule of one's own: eta = eta_0 max(floor, 1 - epoch/decay_epochs).

struct LinearDecayOptions {
    float decay_epochs = 10.0f;
    float floor = 0.0f;
};

class LinearDecay : public Schedule {
public:
    LinearDecay(float lr, const LinearDecayOptions& o) : lr_(lr), o_(o) {}
    float lr(long, double epoch) const override {
        return static_cast<float>(lr_ * std::max<double>(o_.floor, 1.0 - epoch / o_.decay_epochs));
    }

private:
    float lr_;
    LinearDecayOptions o_;
};

void register_entries() {
    static const bool done = [] {
        OptimizerEntry e = OptimizerEntry::of<SignDescent>(
            "sign-descent", "Phi -= eta sign(m), m the gradient's running average", sign_descent_options());
        e.batch_scaling = {BatchScaling::Rule::Linear, ""};  // --scale-with-batch: lr = B lr'
        register_optimizer(std::move(e));
        const OptionTable<LinearDecayOptions> table{
            option("decay_epochs", &LinearDecayOptions::decay_epochs, "epochs until eta reaches 0", above(0)),
            option("floor", &LinearDecayOptions::floor, "eta never falls below this fraction of eta_0",
                   between(0, 1))};
        register_schedule(ScheduleEntry::of<LinearDecayOptions>(
            "linear-decay", "eta = eta_0 max(floor, 1 - epoch/decay_epochs)", table,
            [](const ScheduleContext& c, const LinearDecayOptions& o) {
                return std::unique_ptr<Schedule>(std::make_unique<LinearDecay>(c.lr, o));
            }));
        return true;
    }();
    (void)done;
}

// ---- build/train in this process, its stdout and stderr captured.

struct Run {
    int status = -1;
    std::string out, err;
};

Run train(const std::string& command_line, const TempDir& tmp) {
    std::vector<std::string> words{"train"};
    std::istringstream in(command_line);
    for (std::string w; in >> w;) words.push_back(w);
    std::vector<char*> argv;
    for (std::string& w : words) argv.push_back(w.data());
    argv.push_back(nullptr);
    const std::string out = tmp / "stdout.txt", err = tmp / "stderr.txt";
    std::cout.flush();
    std::fflush(stdout);
    std::fflush(stderr);
    const int saved_out = dup(1), saved_err = dup(2);
    const int fo = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int fe = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fo, 1);
    dup2(fe, 2);
    close(fo);
    close(fe);
    Run r;
    r.status = train_main(static_cast<int>(words.size()), argv.data());
    std::cout.flush();
    std::fflush(stdout);
    std::fflush(stderr);
    dup2(saved_out, 1);
    dup2(saved_err, 2);
    close(saved_out);
    close(saved_err);
    r.out = read_text(out);
    r.err = read_text(err);
    return r;
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }
}  // namespace

TEST_CASE("extend build/train: an optimizer and a schedule of one's own, listed, trained, saved, resumed") {
    register_entries();
    TempDir tmp;
    const std::string data = dl::testing::write_small_data(tmp / "data");
    const std::string base = "--model mlp --threads 2 --seed 3 --data " + data + " ";

    // --help lists both with their options, defaults and ranges, and the settings a command line puts in effect.
    Run help = train("--optimizer sign-descent --momentum 0.75 --schedule linear-decay --help", tmp);
    INFO(help.err);
    CHECK(help.status == 0);
    CHECK(has(help.out, "sign-descent: Phi -= eta sign(m), m the gradient's running average\n"
                        "    lr=0.001  step size eta of each weight (0 <= lr < inf)\n"
                        "    n_g=1     time constant of the gradient average (1 <= n_g < inf); or momentum = 1 - "
                        "1/n_g in [0, 1)\n"));
    CHECK(has(help.out, "--scale-with-batch (lr, given per example): lr = B lr'"));
    CHECK(has(help.out, "linear-decay: eta = eta_0 max(floor, 1 - epoch/decay_epochs)\n"
                        "    decay_epochs=10  epochs until eta reaches 0 (0 < decay_epochs < inf)\n"));
    CHECK(has(help.out, "--decay-epochs"));
    CHECK(has(help.out, "With this command line: --optimizer sign-descent lr=0.001 n_g=4; --schedule linear-decay "
                        "decay_epochs=10 floor=0"));

    // Trains with both; the lr column is the schedule's at the end of each epoch.
    const std::string a = tmp / "a", b = tmp / "b", c = tmp / "c";
    const std::string run = base + "--optimizer sign-descent --lr 0.002 --momentum 0.5 --schedule linear-decay "
                                   "--decay-epochs 4 ";
    Run straight = train(run + "--epochs 2 --out " + a, tmp);
    INFO(straight.err);
    REQUIRE(straight.status == 0);
    CHECK(has(straight.out, "\"optimizer\": \"sign-descent\""));
    CHECK(has(straight.err, "settings in effect: sign-descent lr=0.002 n_g=2; schedule linear-decay decay_epochs=4 "
                            "floor=0"));
    const std::string rows = metrics_without_timing(a);
    // The last step of epoch 2 is at epoch 1 + 8/9 (9 batches of 540 training examples): eta = 0.002 (1 - (17/9)/4).
    const std::vector<double> lr = metrics_column(a, 7);
    REQUIRE(lr.size() == 2);
    CHECK(lr[0] == doctest::Approx(0.002 * (1.0 - (8.0 / 9.0) / 4.0)).epsilon(1e-5));
    CHECK(lr[1] == doctest::Approx(0.002 * (1.0 - (17.0 / 9.0) / 4.0)).epsilon(1e-5));

    // Resumed after an epoch, and in the middle of one: the same numbers as the straight run.
    REQUIRE(train(run + "--epochs 1 --out " + b, tmp).status == 0);
    Run more = train("--resume " + b + "/model.ckpt --epochs 2", tmp);
    INFO(more.err);
    REQUIRE(more.status == 0);
    CHECK(metrics_without_timing(b) == rows);
    CHECK(train(run + "--epochs 2 --max-steps 13 --out " + c, tmp).status == 130);
    REQUIRE(train("--resume " + c + "/model.ckpt", tmp).status == 0);
    CHECK(metrics_without_timing(c) == rows);

    // The run's options are stored in its checkpoint: --resume refuses another value, naming the stored one.
    Run other = train("--resume " + a + "/model.ckpt --epochs 3 --decay-epochs 5", tmp);
    CHECK(other.status == 1);
    CHECK(has(other.err, "the run was started with --decay-epochs 4, not --decay-epochs 5"));
    Run momentum = train("--resume " + a + "/model.ckpt --epochs 3 --momentum 0.9", tmp);
    CHECK(momentum.status == 1);
    CHECK(has(momentum.err, "the run was started with --momentum 0.5, not --momentum 0.9"));
}

TEST_CASE("extend build/train: the new entries' options are checked by name, range and owner") {
    register_entries();
    TempDir tmp;
    const std::string data = dl::testing::write_small_data(tmp / "data");
    const std::string base = "--model mlp --epochs 1 --data " + data + " --out " + tmp.str() + "/never ";
    struct Case {
        std::string args, message;
    };
    const Case cases[] = {
        {"--optimizer sign-descent --nesterov true",
         "train: --nesterov has no effect here (it applies to --optimizer momentum; the optimizer is sign-descent)\n"},
        {"--optimizer sign-descent --lr=-1", "train: Invalid lr for sign-descent: -1 (expected 0 <= lr < inf)\n"},
        {"--optimizer sign-descent --momentum 0.9 --n-g 10",
         "train: make_optimizer: n_g and momentum are the same quantity (momentum = 1 - 1/n_g); give one of them "
         "for 'sign-descent'\n"},
        {"--schedule linear-decay --decay-epochs 0",
         "train: Invalid decay_epochs for schedule linear-decay: 0 (expected 0 < decay_epochs < inf)\n"},
        {"--schedule linear-decay --floor 2",
         "train: Invalid floor for schedule linear-decay: 2 (expected 0 <= floor <= 1)\n"},
        {"--decay-epochs 3",
         "train: --decay-epochs has no effect here (it applies to --schedule linear-decay; the schedule is constant)\n"},
        {"--schedule linear-decay --warmup-epochs 1",
         "train: --warmup-epochs has no effect here (it applies to --schedule constant, robbins-monro, step, "
         "cosine-restarts, warmup and batch-growth; the schedule is linear-decay)\n"},
        {"--schedule linear-decay --snapshots",
         "train: --snapshots has no effect here (it applies to --schedule cosine-restarts; the schedule is "
         "linear-decay)\n"},
    };
    for (const Case& c : cases) {
        Run r = train(base + c.args, tmp);
        INFO(c.args);
        CHECK(r.status == 1);
        CHECK(r.err == c.message);
        CHECK_FALSE(std::filesystem::exists(tmp / "never"));
    }
}
