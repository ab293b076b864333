// Optimizer: the base of every algorithm in optim/ (the tinygrad / libtorch shape).
//
// The base owns what all algorithms share: the parameter list, the learning
// rate, the step counter t, zero_grad(), the checks before a step, and the
// per-parameter state buffers with their save/load. An algorithm writes only
// its update() for one parameter (and, if it has any, a begin_step()).
//
//   step():  t += 1 (once per step, never per tensor), check every gradient
//            (and grad_sq if the algorithm needs_statistics()), begin_step(),
//            then update(p, i) for each parameter i.
//
// State buffers: an algorithm calls add_state(k) in its constructor and gets k
// zero-initialised buffers of p.size() floats per parameter (momentum, running
// averages, ...). state_fields lists them, t and lr once, as named fields
// (core/fields.h), for save_state and load_state, so that training resumed from
// a checkpoint gives identical bits.
#pragma once
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "core/fields.h"
#include "core/parameter.h"

namespace dl {

class Optimizer {
public:
    Optimizer(std::string name, ParameterList params, float lr);
    virtual ~Optimizer() = default;
    Optimizer(const Optimizer&) = delete;
    Optimizer& operator=(const Optimizer&) = delete;

    void step();
    void zero_grad();

    float lr() const { return lr_; }
    void set_lr(float lr);  // for schedules; lr >= 0 and finite
    long t() const { return t_; }  // number of step() calls so far
    const std::string& name() const { return name_; }
    const ParameterList& parameters() const { return params_; }

    // True for algorithms that read Parameter::grad_sq: the trainer must then
    // turn per-example statistics on (tape.set_statistics(true)).
    virtual bool needs_statistics() const { return false; }

    // Algorithm, t, lr, every state buffer and extra_state_fields, saved or loaded by f.
    // Loading needs the same algorithm and parameter shapes; a failed load changes nothing.
    void state_fields(Fields& f);
    // The same as bytes on a stream (a short header, then the fields).
    void save_state(std::ostream& out) const;
    void load_state(std::istream& in);

protected:
    // Called once per step after t has advanced, before the updates.
    virtual void begin_step() {}
    // The algorithm: update p (parameter number `index`) from p.grad (and p.grad_sq).
    virtual void update(Parameter& p, size_t index) = 0;

    // Per-parameter state: `count` more buffers of p.size() floats each, zero.
    // Returns the slot number of the first new buffer.
    int add_state(int count);
    float* state(size_t index, int slot) { return state_[index][slot].data(); }

    // State that is not a per-parameter buffer (e.g. an RNG), as more fields.
    virtual void extra_state_fields(Fields&) {}

private:
    void check_gradients() const;

    std::string name_;
    ParameterList params_;
    float lr_;
    long t_ = 0;
    std::vector<std::vector<std::vector<float>>> state_;  // [parameter][slot][element]
};

// Option checks for constructors. Throws std::invalid_argument with
//   "Invalid <option> for <algorithm>: <value> (expected <expected>)".
void check_option(bool ok, const std::string& algorithm, const char* option, double value,
                  const char* expected);
// A finite value >= 0 (the learning rate). An algorithm checks its options with
// its OptionTable (optim/options.h), which knows each option's range.
void check_nonnegative(const std::string& algorithm, const char* option, double value);

}  // namespace dl
