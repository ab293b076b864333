#include "optim/adaptive.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "core/parallel.h"
#include "optim/registry.h"

namespace dl {

namespace {

const OptionTable<AdaptiveOptions>& option_table() {
    using O = AdaptiveOptions;
    static const OptionTable<O> table{
        option("lr", &O::lr, "lambda_eta: eta[i] = lambda_eta g~^2/sigma~^2", at_least(0)),
        option("k", &O::k, "K: warm-up steps without an update", at_least(0)).also_flag("--adaptive-k"),
        option("lambda_b", &O::lambda_b, "lambda_B: B*[i] = lambda_B sigma~^2/g~^2", above(0)),
        option("eps", &O::eps, "added to g~^2 and sigma~^2", above(0)),
        option("max_eta", &O::max_eta, "cap on eta[i]", above_up_to(0, INFINITY)),
        option("per_example_sigma", &O::per_example_sigma, "estimate sigma from per-example statistics"),
        option("batch_size", &O::batch_size, "B when no statistics give it", at_least(0))
            .filled_by(OptionRole::BatchSize)};
    return table;
}

}  // namespace

Adaptive::Adaptive(ParameterList params, const AdaptiveOptions& options)
    : Optimizer("adaptive", std::move(params), options.lr), options_(options) {
    option_table().validate(options, name());
    check_option(options.per_example_sigma || options.batch_size >= 1, name(), "batch_size",
                 options.batch_size, "batch_size >= 1 unless per_example_sigma");
    mean_ = add_state(1);
    second_moment_ = add_state(1);
    critical_batch_ = add_state(1);
}

void Adaptive::update(Parameter& p, size_t index) {
    float* g_avg = state(index, mean_);
    float* s_avg = state(index, second_moment_);
    float* b_star = state(index, critical_batch_);
    float* phi = p.value.data();
    const float* g = p.grad.data();
    const float* g_sq = options_.per_example_sigma ? p.grad_sq.data() : nullptr;

    const float B = static_cast<float>(p.stats_batch > 0 ? p.stats_batch : options_.batch_size);
    const float K = static_cast<float>(options_.k);
    const bool warm_up = t() <= options_.k;          // eta_t = 0, B*(t) = K
    const bool prev_warm_up = t() - 1 <= options_.k;  // B*(t-1) = K
    const float variance_scale = options_.per_example_sigma ? 1.0f : B;
    const float lambda_eta = lr(), lambda_b = options_.lambda_b, eps = options_.eps;
    const float max_eta = options_.max_eta;
    const int64_t n = static_cast<int64_t>(p.size());
#pragma omp parallel for if (n >= static_cast<int64_t>(kParallelMin))
    for (int64_t i = 0; i < n; ++i) {
        const float b_prev = prev_warm_up ? K : b_star[i];
        const float rate = b_prev <= B ? 1.0f : B / b_prev;
        const float x = g_sq ? g_sq[i] : g[i] * g[i];
        g_avg[i] = (1.0f - rate) * g_avg[i] + rate * g[i];
        s_avg[i] = (1.0f - rate) * s_avg[i] + rate * x;
        const float g2 = g_avg[i] * g_avg[i];
        const float sigma2 = variance_scale * std::max(0.0f, s_avg[i] - g2);
        if (warm_up) {
            b_star[i] = K;
            continue;
        }
        b_star[i] = lambda_b * sigma2 / (g2 + eps);
        const float eta = std::min(max_eta, lambda_eta * g2 / (sigma2 + eps));
        phi[i] -= eta * g[i];
    }
}


OptimizerEntry adaptive_entry() {
    // By name (build/train, the experiments) it starts from per-example sigma and
    // lambda_eta = 100, chosen by build/study's scans (docs/study/README.md, "Defaults
    // that train"): the slide's batch mode (AdaptiveOptions{}) diverged on mlp at every
    // lambda_eta >= 1e-4, and lambda_eta = 300 diverged on cnn.
    AdaptiveOptions defaults;
    defaults.per_example_sigma = true;
    defaults.lr = 100.0f;
    OptimizerEntry e = OptimizerEntry::of<Adaptive>(
        "adaptive", "per-parameter critical batch size B*[i] and eta[i] (lecture: A Complete Algorithm)", option_table(),
        defaults);
    e.statistics = NeedsStatistics::WhenOption;
    e.statistics_option = "per_example_sigma";
    e.batch_scaling = {BatchScaling::Rule::Linear, ""};
    return e;
}

}  // namespace dl
