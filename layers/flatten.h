// Flatten: (N, ...) -> (N, rest), e.g. between the convolutions and the Linear layers.
#pragma once
#include <string>

#include "core/ops.h"
#include "layers/module.h"

namespace dl {

class Flatten : public Module {
public:
    Var forward(Tape& tape, Var x) override { return flatten(tape, x); }
    std::string describe() const override { return "Flatten"; }
};

}  // namespace dl
