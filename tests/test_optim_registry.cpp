// Tests of the registry (optim/registry.h, optim/options.h): an optimizer and a
// schedule defined here, outside the library, registered through the public API
// and used by name like the built-in ones; options by name with their ranges,
// decay forms (momentum 0.9 = n_g 10), help text and settings in effect; what a
// training program asks of an entry (statistics, seed, batch size, scaling with
// the batch size).
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/parameter.h"
#include "optim/adam.h"
#include "optim/momentum.h"
#include "optim/registry.h"

using namespace dl;

namespace {

// ---- A new optimizer, written as a user would: one struct, one class, one table, one entry.

// sign-SGD with momentum ("signum", Bernstein et al., ICML 2018):
//     m_t     = (1 - 1/N_g) m_{t-1} + (1/N_g) g^_t        m_0 = 0  (N_g = 1: plain sign-SGD)
//     Phi_t+1 = Phi_t - eta sign(m_t)
struct SignSGDOptions {
    float lr = 0.01f;  // eta
    float n_g = 1.0f;  // N_g >= 1
};

const OptionTable<SignSGDOptions>& sign_sgd_options() {
    static const OptionTable<SignSGDOptions> table{
        option("lr", &SignSGDOptions::lr, "step size eta", at_least(0)),
        time_constant("n_g", &SignSGDOptions::n_g, "momentum", "time constant of the gradient average")};
    return table;
}

class SignSGD : public Optimizer {
public:
    SignSGD(ParameterList params, const SignSGDOptions& o)
        : Optimizer("sign-sgd", std::move(params), o.lr), options_(o) {
        sign_sgd_options().validate(o, name());
        mean_ = add_state(1);
    }

protected:
    void update(Parameter& p, size_t index) override {
        float* m = state(index, mean_);
        const float rate = 1.0f / options_.n_g;
        for (size_t i = 0; i < p.size(); ++i) {
            m[i] = (1.0f - rate) * m[i] + rate * p.grad[i];
            p.value[i] -= lr() * static_cast<float>((m[i] > 0.0f) - (m[i] < 0.0f));
        }
    }

private:
    SignSGDOptions options_;
    int mean_;
};

// ---- A new schedule: eta = eta_0 gamma^epoch (continuous exponential decay).

struct ExponentialOptions {
    float gamma = 0.5f;
};

class Exponential : public Schedule {
public:
    Exponential(float lr, float gamma) : lr_(lr), gamma_(gamma) {}
    float lr(long, double epoch) const override { return static_cast<float>(lr_ * std::pow(gamma_, epoch)); }

private:
    float lr_, gamma_;
};

// Registration is once per process; every test case that needs them calls this.
void register_test_entries() {
    static const bool done = [] {
        register_optimizer(OptimizerEntry::of<SignSGD>("sign-sgd", "Phi -= eta sign(m) (Bernstein et al. 2018)",
                                                       sign_sgd_options()));
        const OptionTable<ExponentialOptions> table{
            option("gamma", &ExponentialOptions::gamma, "factor per epoch", above_up_to(0, 1))};
        register_schedule(ScheduleEntry::of<ExponentialOptions>(
            "exponential", "eta = eta_0 gamma^epoch", table,
            [](const ScheduleContext& c, const ExponentialOptions& o) {
                return std::unique_ptr<Schedule>(std::make_unique<Exponential>(c.lr, o.gamma));
            }));
        return true;
    }();
    (void)done;
}

Parameter vector_param(std::vector<float> v, const char* name = "w") {
    Parameter p(name, Shape{static_cast<int>(v.size())});
    p.value.vec() = std::move(v);
    return p;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_SUITE("optim registry") {

TEST_CASE("a new optimizer: registered, made by name, steps by its formula, saves and resumes bit for bit") {
    register_test_entries();
    const auto names = optimizer_names();
    CHECK(std::find(names.begin(), names.end(), "sign-sgd") != names.end());
    CHECK(names.front() == "sgd");  // the built-in ones keep their order, first

    // N_g = 2 (given as momentum 0.5): m_1 = 0.5 g_1, m_2 = 0.5 m_1 + 0.5 g_2.
    // g_1 = (1, -4), g_2 = (-3, 1): m_1 = (0.5, -2), m_2 = (-1.25, -0.5).
    // Phi = (1, 1) -> (0.9, 1.1) -> (1.0, 1.2) with eta = 0.1.
    Parameter w = vector_param({1.0f, 1.0f});
    auto opt = make_optimizer("sign-sgd", {&w}, {{"lr", 0.1f}, {"momentum", 0.5}});
    CHECK(opt->name() == "sign-sgd");
    CHECK_FALSE(opt->needs_statistics());
    w.grad.vec() = {1.0f, -4.0f};
    opt->step();
    CHECK(w.value.vec() == std::vector<float>{0.9f, 1.1f});
    std::stringstream saved;
    opt->save_state(saved);
    Parameter resumed_w = w;
    w.grad.vec() = {-3.0f, 1.0f};
    opt->step();
    CHECK(w.value[0] == doctest::Approx(1.0));
    CHECK(w.value[1] == doctest::Approx(1.2));

    auto resumed = make_optimizer("sign-sgd", {&resumed_w}, {{"lr", 0.1f}, {"n_g", 2}});
    resumed->load_state(saved);
    CHECK(resumed->t() == 1);
    resumed_w.grad.vec() = {-3.0f, 1.0f};
    resumed->step();
    CHECK(std::memcmp(w.value.data(), resumed_w.value.data(), 2 * sizeof(float)) == 0);

    // Its help, defaults and settings come from its table.
    const std::string help = optimizer_help("sign-sgd");
    CHECK(contains(help, "sign-sgd: Phi -= eta sign(m) (Bernstein et al. 2018)\n"));
    CHECK(contains(help, "    lr=0.01  step size eta (0 <= lr < inf)\n"
                         "    n_g=1    time constant of the gradient average (1 <= n_g < inf); or momentum = 1 - 1/n_g "
                         "in [0, 1)\n"));
    CHECK(contains(help, "--scale-with-batch: not defined for this algorithm"));
    CHECK(optimizer_defaults("sign-sgd") == "lr=0.01 n_g=1");
    CHECK(optimizer_settings("sign-sgd", {{"momentum", 0.9}}) == "lr=0.01 n_g=10");
}

TEST_CASE("a new optimizer: its options are checked by name, type and range") {
    register_test_entries();
    Parameter w = vector_param({1.0f});
    using E = std::invalid_argument;
    CHECK_THROWS_WITH_AS(make_optimizer("sign-sgd", {&w}, {{"nesterov", true}}),
                         "make_optimizer: option 'nesterov' is not used by 'sign-sgd' (it takes: lr, n_g (or "
                         "momentum))",
                         E);
    CHECK_THROWS_WITH_AS(make_optimizer("sign-sgd", {&w}, {{"lr", -1.0f}}),
                         "Invalid lr for sign-sgd: -1 (expected 0 <= lr < inf)", E);
    CHECK_THROWS_WITH_AS(make_optimizer("sign-sgd", {&w}, {{"n_g", 0.5f}}),
                         "Invalid n_g for sign-sgd: 0.5 (expected 1 <= n_g < inf, momentum = 1 - 1/n_g)", E);
    CHECK_THROWS_WITH_AS(make_optimizer("sign-sgd", {&w}, {{"lr", "fast"}}),
                         "Invalid lr for sign-sgd: 'fast' (expected a number)", E);
    CHECK_THROWS_WITH_AS(make_optimizer("sign-sgd", {&w}, {{"momentum", 1.0}}),
                         "Invalid momentum for sign-sgd: 1 (expected 0 <= momentum < 1, n_g = 1/(1 - momentum))", E);
    CHECK_THROWS_WITH_AS(make_optimizer("sign-sgd", {&w}, {{"momentum", 0.9}, {"n_g", 10}}),
                         "make_optimizer: n_g and momentum are the same quantity (momentum = 1 - 1/n_g); give one "
                         "of them for 'sign-sgd'",
                         E);
    // The same checks when the class is built directly (its constructor uses the table).
    CHECK_THROWS_WITH_AS(SignSGD({&w}, {0.1f, 0.0f}),
                         "Invalid n_g for sign-sgd: 0 (expected 1 <= n_g < inf, momentum = 1 - 1/n_g)", E);
}

TEST_CASE("register_optimizer refuses a taken name and inconsistent entries") {
    register_test_entries();
    using E = std::invalid_argument;
    CHECK_THROWS_WITH_AS(
        register_optimizer(OptimizerEntry::of<SignSGD>("sign-sgd", "again", sign_sgd_options())),
        "register_optimizer: 'sign-sgd' is already registered", E);
    CHECK_THROWS_WITH_AS(register_optimizer(OptimizerEntry::of<SignSGD>("momentum", "again", sign_sgd_options())),
                         "register_optimizer: 'momentum' is already registered", E);
    OptimizerEntry e = OptimizerEntry::of<SignSGD>("sign-sgd-2", "", sign_sgd_options());
    e.statistics = NeedsStatistics::WhenOption;
    e.statistics_option = "per_example";
    CHECK_THROWS_WITH_AS(register_optimizer(e),
                         "register_optimizer: 'sign-sgd-2': statistics_option names 'per_example', which is not one "
                         "of its options of type true or false",
                         E);
    e = OptimizerEntry::of<SignSGD>("sign-sgd-2", "", sign_sgd_options());
    e.batch_scaling = {BatchScaling::Rule::Linear, "n_s"};
    CHECK_THROWS_WITH_AS(register_optimizer(e),
                         "register_optimizer: 'sign-sgd-2': batch_scaling.time_constant names 'n_s', which is not "
                         "one of its options of type a number",
                         E);
    // --momentum-n already means n_g: it cannot mean lr for another algorithm.
    const OptionTable<SignSGDOptions> clash{
        option("lr", &SignSGDOptions::lr, "step size", at_least(0)).also_flag("--momentum-n")};
    CHECK_THROWS_WITH_AS(register_optimizer(OptimizerEntry::of<SignSGD>("sign-sgd-2", "", clash)),
                         "register_optimizer: 'sign-sgd-2': flag --momentum-n would set 'lr', but it already sets "
                         "'n_g'",
                         E);
    e = OptimizerEntry::of<SignSGD>("sign-sgd-2", "", sign_sgd_options());
    e.make = nullptr;
    CHECK_THROWS_WITH_AS(register_optimizer(e), "register_optimizer: 'sign-sgd-2' has no make or settings function", E);
    const auto names = optimizer_names();
    CHECK(std::find(names.begin(), names.end(), "sign-sgd-2") == names.end());
}

TEST_CASE("a new schedule: registered, made by name, its options checked") {
    register_test_entries();
    const auto names = schedule_names();
    CHECK(std::find(names.begin(), names.end(), "exponential") != names.end());
    auto s = make_schedule("exponential", {0.8f, 64}, {{"gamma", 0.25f}});
    CHECK(s->lr(0, 0.0) == doctest::Approx(0.8));
    CHECK(s->lr(0, 1.0) == doctest::Approx(0.2));
    CHECK(s->lr(0, 1.5) == doctest::Approx(0.1));
    CHECK(s->batch_size(3, 64) == 64);
    CHECK_FALSE(s->cycle_ends(1));
    CHECK(schedule_help("exponential") ==
          "exponential: eta = eta_0 gamma^epoch\n"
          "    gamma=0.5  factor per epoch (0 < gamma <= 1)\n");
    CHECK(schedule_settings("exponential", {{"gamma", "0.1"}}) == "gamma=0.1");
    CHECK_THROWS_WITH_AS(make_schedule("exponential", {0.8f, 64}, {{"gamma", 1.5f}}),
                         "Invalid gamma for schedule exponential: 1.5 (expected 0 < gamma <= 1)", std::invalid_argument);
    CHECK_THROWS_WITH_AS(make_schedule("exponential", {0.8f, 64}, {{"tau", 10}}),
                         "make_schedule: option 'tau' is not used by 'schedule exponential' (it takes: gamma)",
                         std::invalid_argument);
    CHECK_THROWS_WITH_AS(make_schedule("linear", {0.8f, 64}),
                         doctest::Contains("make_schedule: unknown schedule 'linear' (known: constant, robbins-monro, "
                                           "step, cosine-restarts, warmup, batch-growth"),
                         std::invalid_argument);
}

TEST_CASE("decay forms: momentum, beta1, beta2, alpha give the time constants N = 1/(1 - beta), bit for bit") {
    Parameter a = vector_param({1.0f, -2.0f}), b = a;
    auto by_n = make_optimizer("adam", {&a}, {{"lr", 0.01f}, {"n_g", 10}, {"n_s", 1000}});
    auto by_beta = make_optimizer("adam", {&b}, {{"lr", 0.01f}, {"beta1", 0.9}, {"beta2", "0.999"}});
    for (int step = 0; step < 5; ++step) {
        a.grad.vec() = b.grad.vec() = {0.3f * step - 0.5f, 1.0f / (step + 1)};
        by_n->step();
        by_beta->step();
    }
    CHECK(a.value.vec() == b.value.vec());
    std::stringstream sa, sb;
    by_n->save_state(sa);
    by_beta->save_state(sb);
    CHECK(sa.str() == sb.str());

    CHECK(optimizer_settings("momentum", {{"lr", 0.05f}, {"momentum", 0.99}}) == "lr=0.05 n_g=100 nesterov=false");
    CHECK(optimizer_settings("rmsprop", {{"alpha", 0.99}}) == "lr=0.001 n_s=100 eps=1e-08");
    CHECK(optimizer_settings("adam-lecture", {{"beta1", 0}}) == "lr=0.001 n_g=1 n_s=1000 eps=1e-08");
    CHECK_THROWS_WITH_AS(make_optimizer("adam", {&a}, {{"beta2", 0.999}, {"n_s", 100}}),
                         "make_optimizer: n_s and beta2 are the same quantity (beta2 = 1 - 1/n_s); give one of them "
                         "for 'adam'",
                         std::invalid_argument);
    CHECK_THROWS_WITH_AS(make_optimizer("momentum", {&a}, {{"momentum", -0.1}}),
                         "Invalid momentum for momentum: -0.1 (expected 0 <= momentum < 1, n_g = 1/(1 - momentum))",
                         std::invalid_argument);
    // momentum = 0.9 with lr is PyTorch's SGD(lr, momentum=0.9): b = 0.9 b + g, Phi -= lr b.
    Parameter p = vector_param({1.0f});
    auto torch_like = make_optimizer("momentum", {&p}, {{"lr", 0.1f}, {"momentum", 0.9}});
    double buf = 0.0, phi = 1.0;
    for (int step = 0; step < 4; ++step) {
        p.grad[0] = static_cast<float>(step) - 1.5f;
        torch_like->step();
        buf = 0.9 * buf + (step - 1.5);
        phi -= 0.1 * buf;
        CHECK(p.value[0] == doctest::Approx(phi).epsilon(1e-5));
    }
}

TEST_CASE("option values: parsing, round trips, name=value words") {
    using E = std::invalid_argument;
    // Floats written by OptionValues read back to the same bits.
    std::mt19937 rng(7);
    std::uniform_int_distribution<uint32_t> bits;
    for (int i = 0; i < 20000; ++i) {
        uint32_t u = bits(rng);
        float f;
        std::memcpy(&f, &u, sizeof f);
        // Denormals are skipped: the library flushes them (core/fast/float_mode.h), so they print as 0.
        const bool denormal = (u & 0x7f800000u) == 0 && (u & 0x007fffffu) != 0;
        if (!std::isfinite(f) || denormal) continue;
        const float back = parse_real(OptionValues::Value(f).text, "test", "x");
        CHECK(std::memcmp(&back, &f, sizeof f) == 0);
    }
    // Decimal text reads as a float literal does (as CLI11 read --lr before).
    CHECK(parse_real("0.002", "t", "lr") == 0.002f);
    CHECK(parse_real("0.0005", "t", "lr") == 0.0005f);
    CHECK(parse_real("1e-8", "t", "eps") == 1e-8f);
    CHECK(parse_real("640", "t", "n_g") == 640.0f);
    CHECK(parse_integer("-3", "t", "k") == -3);
    CHECK(parse_unsigned("18446744073709551615", "t", "seed") == UINT64_MAX);
    CHECK(parse_boolean("Yes", "t", "b"));
    CHECK_FALSE(parse_boolean("off", "t", "b"));
    CHECK(parse_integer_list("5,10,20", "t", "m") == std::vector<int>{5, 10, 20});
    CHECK(parse_integer_list("", "t", "m").empty());
    CHECK_THROWS_WITH_AS(parse_real("0.1x", "adam", "lr"), "Invalid lr for adam: '0.1x' (expected a number)", E);
    CHECK_THROWS_WITH_AS(parse_real("", "adam", "lr"), "Invalid lr for adam: '' (expected a number)", E);
    CHECK_THROWS_WITH_AS(parse_integer("2.5", "adaptive", "k"), "Invalid k for adaptive: '2.5' (expected an integer)",
                         E);
    CHECK_THROWS_WITH_AS(parse_integer("99999999999", "adaptive", "k"),
                         "Invalid k for adaptive: '99999999999' (expected an integer)", E);
    CHECK_THROWS_WITH_AS(parse_unsigned("-1", "langevin", "seed"),
                         "Invalid seed for langevin: '-1' (expected an unsigned integer)", E);
    CHECK_THROWS_WITH_AS(parse_boolean("maybe", "momentum", "nesterov"),
                         "Invalid nesterov for momentum: 'maybe' (expected true or false)", E);
    CHECK_THROWS_WITH_AS(parse_integer_list("5,,10", "schedule step", "milestones"),
                         "Invalid milestones for schedule step: '5,,10' (expected integers separated by commas, e.g. "
                         "5,10)",
                         E);

    OptionValues v;
    v.set_assignment("n_g=100").set_assignment("nesterov=true").set_assignment("lr=0.5");
    v.set_assignment("lr=0.25");  // a later value replaces an earlier one
    CHECK(v.str() == "lr=0.25 n_g=100 nesterov=true");
    CHECK(optimizer_settings("momentum", v) == "lr=0.25 n_g=100 nesterov=true");
    CHECK_THROWS_WITH_AS(v.set_assignment("n_g"), "option 'n_g': expected name=value, e.g. n_g=100", E);
    CHECK_THROWS_WITH_AS(v.set_assignment("=3"), "option '=3': expected name=value, e.g. n_g=100", E);
    CHECK_THROWS_WITH_AS(make_optimizer("adaptive", {}, {{"k", "2.5"}}),
                         "Invalid k for adaptive: '2.5' (expected an integer)", E);
}

TEST_CASE("every built-in entry: help lists each option; declared statistics match the algorithm") {
    for (const std::string& name : optimizer_names()) {
        CAPTURE(name);
        const OptimizerEntry& e = find_optimizer(name);
        const std::string help = optimizer_help(name);
        CHECK(help.rfind(name + ": " + e.help + "\n", 0) == 0);
        for (const OptionSpec& o : e.options) {
            CHECK(contains(help, "    " + o.name + "=" + o.default_text + " "));
            CHECK_FALSE(o.help.empty());
        }
        Parameter p = vector_param({1.0f});
        for (const bool on : {false, true}) {
            OptionValues v;
            if (e.statistics == NeedsStatistics::WhenOption) v.set(e.statistics_option, on);
            v = training_values(name, v, {4, 1, false});
            CHECK(make_optimizer(name, {&p}, v)->needs_statistics() == optimizer_needs_statistics(name, v));
        }
    }
    CHECK(contains(optimizer_help("rmsprop-per-example"), "needs per-example statistics"));
    CHECK(contains(optimizer_help("adaptive"), "needs per-example statistics when per_example_sigma=true"));
    CHECK(contains(optimizer_help("momentum"),
                   "    n_g=10          time constant N_g of the velocity (1 <= n_g < inf); or momentum = 1 - 1/n_g "
                   "in [0, 1)\n"));
    CHECK(contains(optimizer_help("momentum"),
                   "--scale-with-batch (lr, n_g, given per example): n_g = max(1, n_g'/B), lr = B lr'/n_g"));
    CHECK(contains(optimizer_help("langevin"), "    seed=0             seed of the noise (an unsigned integer); a "
                                               "program sets it from its --seed\n"));
    CHECK(optimizer_defaults("adaptive") ==
          "lr=100 k=10 lambda_b=16 eps=1e-08 max_eta=1 per_example_sigma=true batch_size=0");
}

TEST_CASE("training_values: seed and batch size filled in, per-example hyperparameters scaled with B") {
    // Seed and batch size: filled unless the user set them.
    OptionValues v = training_values("langevin", {{"temperature", 0.01f}}, {64, 17, false});
    CHECK(v.str() == "seed=17 temperature=0.01");
    CHECK(training_values("langevin", {{"seed", 3}}, {64, 17, false}).str() == "seed=3");
    CHECK(training_values("adaptive", {}, {32, 1, false}).str() == "batch_size=32");
    CHECK(training_values("adam", {{"beta1", 0.9}}, {32, 1, false}).str() == "n_g=10");

    // "Putting It Together": momentum gets eta = B eta'/N_g and N_g = max(1, N'_g/B) ...
    const BatchScaled s = scale_for_batch(0.0005f, 640.0f, 64);
    v = training_values("momentum", {{"lr", "0.0005"}, {"n_g", "640"}}, {64, 1, true});
    CHECK(parse_real(v.text("lr"), "", "") == s.lr);
    CHECK(parse_real(v.text("n_g"), "", "") == s.n_g);
    // ... given as a decay factor too (momentum 0.9984375 is N'_g = 640) ...
    v = training_values("momentum", {{"lr", "0.0005"}, {"momentum", "0.9984375"}}, {64, 1, true});
    CHECK(parse_real(v.text("n_g"), "", "") == s.n_g);
    // ... momentum-ema and adam eta = B eta' (their lr is eta'), and without --lr eta' = 1e-3, N'_g = 10.
    v = training_values("momentum-ema", {}, {10, 1, true});
    const BatchScaled d = scale_for_batch(1e-3f, 10.0f, 10);
    CHECK(parse_real(v.text("lr"), "", "") == d.lr_ema);
    CHECK(parse_real(v.text("n_g"), "", "") == d.n_g);
    v = training_values("sgd", {{"lr", 0.01f}}, {8, 1, true});
    CHECK(v.str() == "lr=" + format_real(8 * 0.01f));
    register_test_entries();
    CHECK_THROWS_WITH_AS(training_values("sign-sgd", {}, {8, 1, true}),
                         "--scale-with-batch: 'sign-sgd' does not say how its options scale with the batch size",
                         std::invalid_argument);
}

TEST_CASE("command-line flags: one per option name, old spellings kept, program-filled options left out") {
    register_test_entries();
    auto find = [](const std::vector<OptionFlag>& flags, const std::string& flag) -> const OptionFlag* {
        for (const OptionFlag& f : flags)
            if (f.flag == flag) return &f;
        return nullptr;
    };
    const auto flags = optimizer_flags();
    for (const auto& [flag, option] : std::vector<std::pair<std::string, std::string>>{
             {"--lr", "lr"}, {"--momentum-n", "n_g"}, {"--n-g", "n_g"}, {"--momentum", "momentum"},
             {"--rms-n", "n_s"}, {"--beta1", "beta1"}, {"--beta2", "beta2"}, {"--alpha", "alpha"},
             {"--adaptive-k", "k"}, {"--weight-decay", "weight_decay"}, {"--per-example-sigma", "per_example_sigma"},
             {"--sigma2-floor", "sigma2_floor"}}) {
        CAPTURE(flag);
        const OptionFlag* f = find(flags, flag);
        REQUIRE(f != nullptr);
        CHECK(f->option == option);
    }
    CHECK(find(flags, "--seed") == nullptr);
    CHECK(find(flags, "--batch-size") == nullptr);
    CHECK(contains(find(flags, "--momentum-n")->help, "taken by momentum, momentum-ema, adam, adam-lecture"));
    CHECK(contains(find(flags, "--n-g")->help, "sign-sgd"));
    const auto schedule = schedule_flags();
    CHECK(find(schedule, "--decay")->option == "factor");
    CHECK(find(schedule, "--milestones")->type == OptionType::IntegerList);
    CHECK(find(schedule, "--gamma") != nullptr);
    for (const char* f : {"--tau", "--cycle-epochs", "--lr-min", "--warmup-epochs", "--warmup-start", "--max-batch"})
        CHECK(find(schedule, f) != nullptr);
}

TEST_CASE("built-in schedules by name: the same numbers as ScheduleConfig, batch growth, warm-up") {
    // step by name == step by ScheduleConfig, bit for bit.
    ScheduleConfig c;
    c.kind = "step";
    c.lr = 0.05f;
    c.factor = 0.5f;
    c.milestones = {1, 3};
    auto direct = make_schedule(c);
    auto named = make_schedule("step", {0.05f, 64}, {{"milestones", "1,3"}, {"factor", "0.5"}});
    for (double e : {0.0, 0.5, 1.0, 2.9, 3.0, 10.0}) CHECK(direct->lr(0, e) == named->lr(0, e));
    // cosine-restarts: cycle ends for snapshots.
    auto cos = make_schedule("cosine-restarts", {0.1f, 64}, {{"cycle_epochs", 2}});
    CHECK(cos->cycle_ends(2));
    CHECK_FALSE(cos->cycle_ends(3));
    // warmup: one epoch of linear warm-up from 10% by default.
    auto warm = make_schedule("warmup", {0.1f, 64});
    CHECK(warm->lr(0, 0.0) == doctest::Approx(0.01));
    CHECK(warm->lr(0, 0.5) == doctest::Approx(0.055));
    CHECK(warm->lr(0, 1.0) == doctest::Approx(0.1));
    CHECK(schedule_settings("warmup", {}) == "warmup_epochs=1 warmup_start=0.1");
    // batch-growth: the batch grows by 1/factor at each milestone up to max(batch, max_batch), then eta decays;
    // the same as batch_growth_at, with the lr factor applied to the warmed-up lr.
    auto grow = make_schedule("batch-growth", {0.05f, 100}, {{"milestones", "1,2,3"}, {"factor", 0.2f},
                                                             {"max_batch", 3000}, {"warmup_epochs", 0.5f}});
    BatchGrowthConfig g;
    g.batch = 100;
    g.growth = 1.0f / 0.2f;
    g.milestones = {1, 2, 3};
    g.max_batch = 3000;
    ScheduleConfig wc;
    wc.lr = 0.05f;
    wc.warmup_epochs = 0.5f;
    auto warm_constant = make_schedule(wc);
    for (int epoch = 0; epoch < 5; ++epoch) {
        CAPTURE(epoch);
        CHECK(grow->batch_size(epoch, 100) == batch_growth_at(g, epoch).batch);
        for (double frac : {0.0, 0.25, 0.75}) {
            const double e = epoch + frac;
            CHECK(grow->lr(7, e) == warm_constant->lr(7, e) * batch_growth_at(g, epoch).lr_factor);
        }
    }
    CHECK(grow->batch_size(2, 100) == 2500);
    CHECK(grow->batch_size(3, 100) == 2500);  // 12500 > 3000: eta decays instead
    CHECK(grow->lr(0, 3.0) == doctest::Approx(0.01));
    CHECK(make_schedule("step", {0.1f, 64})->batch_size(5, 64) == 64);
    // Options a schedule does not take, and ranges.
    CHECK_THROWS_WITH_AS(make_schedule("step", {0.1f, 64}, {{"tau", 5}}),
                         "make_schedule: option 'tau' is not used by 'schedule step' (it takes: milestones, factor, "
                         "warmup_epochs, warmup_start)",
                         std::invalid_argument);
    CHECK_THROWS_WITH_AS(make_schedule("step", {0.1f, 64}, {{"milestones", "0,3"}}),
                         "Invalid milestones for schedule step: 0 (expected each 1 <= milestones < inf)",
                         std::invalid_argument);
    CHECK_THROWS_WITH_AS(make_schedule("batch-growth", {0.1f, 64}, {{"factor", 1}}),
                         "Invalid growth for batch_growth_at: 1 (expected growth > 1)", std::invalid_argument);
    CHECK(contains(schedule_help("step"), "    factor=0.1        multiplier of eta at each milestone"));
}

}  // TEST_SUITE
