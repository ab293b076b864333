#include "apps/lecture/experiments.h"

namespace dl::lecture {

const std::vector<Experiment>& experiments() {
    static const std::vector<Experiment> table = {
        {"noise-at-optimum", "at the optimum the batch gradient is not 0; Var g^ = sigma^2/B",
         noise_at_optimum},
    };
    return table;
}

const Experiment* find_experiment(const std::string& name) {
    for (const Experiment& e : experiments())
        if (name == e.name) return &e;
    return nullptr;
}

}  // namespace dl::lecture
