// The registry: every algorithm by name, for the trainer and the experiments.
//
//   OptimizerConfig c;  c.lr = 0.1f;  c.n_g = 10;      // only what the user set
//   auto opt = make_optimizer("momentum", model.parameters(), c);
//
// OptimizerConfig holds every option of every algorithm as std::optional: an
// option left unset takes the algorithm's own default (its Options struct, e.g.
// AdamOptions::n_s = 1000 but RMSPropOptions::n_s = 100), so the defaults live
// in one place each. Setting an option the algorithm does not use is an error
// (--nesterov with adam is a mistake, not something to ignore silently).
// Adding an algorithm: one file and one line in the table of registry.cpp.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "optim/optimizer.h"

namespace dl {

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

// Throws std::invalid_argument for an unknown name (listing the known ones),
// an option the algorithm does not use, or an invalid option value.
std::unique_ptr<Optimizer> make_optimizer(const std::string& name, ParameterList params,
                                          const OptimizerConfig& config = {});

// "lr=0.01 n_g=10 nesterov=false": the options `name` takes, with its defaults.
std::string optimizer_defaults(const std::string& name);

// The registered names, in the order of the table.
std::vector<std::string> optimizer_names();

}  // namespace dl
