#include "optim/registry.h"

#include <algorithm>
#include <sstream>
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

// Copies the options a factory asks for and remembers which ones it asked for.
class ConfigReader {
public:
    explicit ConfigReader(const OptimizerConfig& c) : c_(c) {}

    template <class T, class U>
    void get(T& target, std::optional<U> OptimizerConfig::*field, const char* option) {
        used_.push_back(option);
        defaults_ << (defaults_.tellp() > 0 ? " " : "") << option << "=" << std::boolalpha << target;
        if (c_.*field) target = *(c_.*field);
    }
    // "lr=0.01 n_g=10 ...": the algorithm's defaults of the options it asked for.
    std::string defaults() const { return defaults_.str(); }
    // Throws if an option that is set was not asked for by the algorithm.
    void check_all_used(const std::string& algorithm) const;

private:
    const OptimizerConfig& c_;
    std::vector<std::string> used_;
    std::ostringstream defaults_;
};

void ConfigReader::check_all_used(const std::string& algorithm) const {
    const std::pair<const char*, bool> set[] = {
        {"lr", c_.lr.has_value()},
        {"n_g", c_.n_g.has_value()},
        {"n_s", c_.n_s.has_value()},
        {"eps", c_.eps.has_value()},
        {"nesterov", c_.nesterov.has_value()},
        {"weight_decay", c_.weight_decay.has_value()},
        {"temperature", c_.temperature.has_value()},
        {"seed", c_.seed.has_value()},
        {"sigma2_floor", c_.sigma2_floor.has_value()},
        {"k", c_.k.has_value()},
        {"lambda_b", c_.lambda_b.has_value()},
        {"max_eta", c_.max_eta.has_value()},
        {"per_example_sigma", c_.per_example_sigma.has_value()},
        {"batch_size", c_.batch_size.has_value()},
    };
    static_assert(sizeof(set) / sizeof(set[0]) == 14, "list every field of OptimizerConfig");
    for (const auto& [option, is_set] : set)
        if (is_set && std::find(used_.begin(), used_.end(), option) == used_.end())
            throw std::invalid_argument("make_optimizer: option '" + std::string(option) +
                                        "' is not used by '" + algorithm + "'");
}

using C = OptimizerConfig;
using Factory = std::unique_ptr<Optimizer> (*)(ParameterList, ConfigReader&);

std::unique_ptr<Optimizer> make_rmsprop(ParameterList p, ConfigReader& c, bool variance,
                                        bool per_example) {
    RMSPropOptions o;
    o.variance = variance;
    o.per_example = per_example;
    c.get(o.lr, &C::lr, "lr");
    c.get(o.n_s, &C::n_s, "n_s");
    c.get(o.eps, &C::eps, "eps");
    return std::make_unique<RMSProp>(std::move(p), o);
}

struct Entry {
    const char* name;
    Factory make;
};

const Entry kRegistry[] = {
    {"sgd", [](ParameterList p, ConfigReader& c) -> std::unique_ptr<Optimizer> {
         SGDOptions o;
         c.get(o.lr, &C::lr, "lr");
         return std::make_unique<SGD>(std::move(p), o);
     }},
    {"momentum", [](ParameterList p, ConfigReader& c) -> std::unique_ptr<Optimizer> {
         MomentumOptions o;
         c.get(o.lr, &C::lr, "lr");
         c.get(o.n_g, &C::n_g, "n_g");
         c.get(o.nesterov, &C::nesterov, "nesterov");
         return std::make_unique<Momentum>(std::move(p), o);
     }},
    {"momentum-ema", [](ParameterList p, ConfigReader& c) -> std::unique_ptr<Optimizer> {
         MomentumEMAOptions o;
         c.get(o.lr, &C::lr, "lr");
         c.get(o.n_g, &C::n_g, "n_g");
         return std::make_unique<MomentumEMA>(std::move(p), o);
     }},
    {"rmsprop", [](ParameterList p, ConfigReader& c) { return make_rmsprop(std::move(p), c, false, false); }},
    {"rmsprop-var", [](ParameterList p, ConfigReader& c) { return make_rmsprop(std::move(p), c, true, false); }},
    {"rmsprop-per-example", [](ParameterList p, ConfigReader& c) { return make_rmsprop(std::move(p), c, false, true); }},
    {"adam", [](ParameterList p, ConfigReader& c) -> std::unique_ptr<Optimizer> {
         AdamOptions o;
         c.get(o.lr, &C::lr, "lr");
         c.get(o.n_g, &C::n_g, "n_g");
         c.get(o.n_s, &C::n_s, "n_s");
         c.get(o.eps, &C::eps, "eps");
         c.get(o.weight_decay, &C::weight_decay, "weight_decay");
         return std::make_unique<Adam>(std::move(p), o);
     }},
    {"adam-lecture", [](ParameterList p, ConfigReader& c) -> std::unique_ptr<Optimizer> {
         AdamLectureOptions o;
         c.get(o.lr, &C::lr, "lr");
         c.get(o.n_g, &C::n_g, "n_g");
         c.get(o.n_s, &C::n_s, "n_s");
         c.get(o.eps, &C::eps, "eps");
         return std::make_unique<AdamLecture>(std::move(p), o);
     }},
    {"langevin", [](ParameterList p, ConfigReader& c) -> std::unique_ptr<Optimizer> {
         LangevinOptions o;
         c.get(o.lr, &C::lr, "lr");
         c.get(o.temperature, &C::temperature, "temperature");
         c.get(o.seed, &C::seed, "seed");
         return std::make_unique<Langevin>(std::move(p), o);
     }},
    {"langevin-precond", [](ParameterList p, ConfigReader& c) -> std::unique_ptr<Optimizer> {
         LangevinPrecondOptions o;
         c.get(o.lr, &C::lr, "lr");
         c.get(o.n_s, &C::n_s, "n_s");
         c.get(o.sigma2_floor, &C::sigma2_floor, "sigma2_floor");
         c.get(o.temperature, &C::temperature, "temperature");
         c.get(o.seed, &C::seed, "seed");
         return std::make_unique<LangevinPrecond>(std::move(p), o);
     }},
    {"adaptive", [](ParameterList p, ConfigReader& c) -> std::unique_ptr<Optimizer> {
         AdaptiveOptions o;
         c.get(o.lr, &C::lr, "lr");
         c.get(o.k, &C::k, "k");
         c.get(o.lambda_b, &C::lambda_b, "lambda_b");
         c.get(o.eps, &C::eps, "eps");
         c.get(o.max_eta, &C::max_eta, "max_eta");
         c.get(o.per_example_sigma, &C::per_example_sigma, "per_example_sigma");
         c.get(o.batch_size, &C::batch_size, "batch_size");
         return std::make_unique<Adaptive>(std::move(p), o);
     }},
};

}  // namespace

std::unique_ptr<Optimizer> make_optimizer(const std::string& name, ParameterList params,
                                          const OptimizerConfig& config) {
    for (const Entry& e : kRegistry) {
        if (name != e.name) continue;
        ConfigReader reader(config);
        auto optimizer = e.make(std::move(params), reader);
        reader.check_all_used(name);
        return optimizer;
    }
    std::string known;
    for (const Entry& e : kRegistry) known += (known.empty() ? "" : ", ") + std::string(e.name);
    throw std::invalid_argument("make_optimizer: unknown optimizer '" + name + "' (known: " + known +
                                ")");
}

std::string optimizer_defaults(const std::string& name) {
    for (const Entry& e : kRegistry) {
        if (name != e.name) continue;
        const OptimizerConfig none;
        ConfigReader reader(none);
        try {
            e.make({}, reader);
        } catch (const std::invalid_argument&) {
            // adaptive needs a batch size to be built; its defaults were read before that
        }
        return reader.defaults();
    }
    throw std::invalid_argument("optimizer_defaults: unknown optimizer '" + name + "'");
}

std::vector<std::string> optimizer_names() {
    std::vector<std::string> names;
    for (const Entry& e : kRegistry) names.emplace_back(e.name);
    return names;
}

}  // namespace dl
