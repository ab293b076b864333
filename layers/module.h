// Module: the interface every layer implements, and Buffer, a named tensor a
// layer keeps but does not learn (BatchNorm's running statistics).
//
// What a module keeps besides its parameters (running statistics, a random
// generator's state) it lists once in state_fields, which saves and loads it
// (core/fields.h); a checkpoint holds it, so that a resumed run continues
// exactly. Containers pass the call on to their layers, each under its index.
//
//   Var y = model.forward(tape, x);        // records the layer's ops on the tape
//   for (Parameter* p : model.parameters()) ...   // named "0.weight", "3.bias", ...
//   model.eval();                          // dropout off, batch norm uses running stats
//
// A layer names its own parameters ("weight", "bias"); Sequential prefixes them
// with the layer's index, so names are unique and stable across runs.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "core/fields.h"
#include "core/parameter.h"
#include "core/tape.h"
#include "core/tensor.h"

namespace dl {

struct Buffer {
    std::string name;
    Tensor value;
};

using BufferList = std::vector<Buffer*>;

class Module {
public:
    virtual ~Module() = default;

    virtual Var forward(Tape& tape, Var x) = 0;
    // One line such as "Conv2d(1, 16, kernel 5, stride 1, padding 2)".
    virtual std::string describe() const = 0;
    virtual ParameterList parameters() { return {}; }
    virtual BufferList buffers() { return {}; }  // for looking at them; state_fields saves them
    // Saves or loads the module's state besides its parameters (nothing by default).
    virtual void state_fields(Fields&) {}

    virtual void train(bool on = true) { training_ = on; }
    void eval() { train(false); }
    bool training() const { return training_; }

protected:
    bool training_ = true;
};

// The number of learnable scalars of a model.
inline size_t count_parameters(Module& m) {
    size_t n = 0;
    for (Parameter* p : m.parameters()) n += p->size();
    return n;
}

}  // namespace dl
