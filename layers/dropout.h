// Dropout: inverted dropout with probability p in training, identity in eval.
// The mask generator's state is one integer, seeded at construction and
// advanced every training forward; state_fields saves and restores it.
#pragma once
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>

#include "core/ops_nn.h"
#include "layers/module.h"

namespace dl {

class Dropout : public Module {
public:
    explicit Dropout(float p, std::uint64_t seed) : p_(p), state_(seed) {
        if (!(p >= 0.0f && p < 1.0f))
            throw std::invalid_argument("Dropout: probability " + std::to_string(p) + " must be in [0, 1)");
    }
    Var forward(Tape& tape, Var x) override { return dropout(tape, x, p_, training_, state_); }
    std::string describe() const override {
        std::ostringstream s;
        s << "Dropout(" << p_ << ")";
        return s.str();
    }
    void state_fields(Fields& f) override { f("rng", state_); }

private:
    float p_;
    std::uint64_t state_;
};

}  // namespace dl
