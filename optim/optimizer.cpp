#include "optim/optimizer.h"

#include <algorithm>
#include <cmath>
#include <istream>
#include <iterator>
#include <ostream>
#include <sstream>
#include <stdexcept>

namespace dl {

namespace {

constexpr char kMagic[8] = {'D', 'L', 'O', 'P', 'T', 'v', '2', '\n'};

std::string format_value(double v) {
    std::ostringstream s;
    s << v;
    return s.str();
}

}  // namespace

void check_option(bool ok, const std::string& algorithm, const char* option, double value,
                  const char* expected) {
    if (ok) return;
    throw std::invalid_argument("Invalid " + std::string(option) + " for " + algorithm + ": " +
                                format_value(value) + " (expected " + expected + ")");
}

void check_nonnegative(const std::string& algorithm, const char* option, double value) {
    const std::string expected = "0 <= " + std::string(option) + " < inf";
    check_option(std::isfinite(value) && value >= 0.0, algorithm, option, value, expected.c_str());
}

Optimizer::Optimizer(std::string name, ParameterList params, float lr)
    : name_(std::move(name)), params_(std::move(params)), lr_(lr), state_(params_.size()) {
    for (size_t i = 0; i < params_.size(); ++i)
        if (!params_[i])
            throw std::invalid_argument(name_ + ": parameter " + std::to_string(i) + " is null");
        else if (params_[i]->size() == 0)  // a Linear that learns its input size at its first forward
            throw std::invalid_argument(name_ + ": parameter '" + params_[i]->name +
                                        "' has no values yet; run one example through the model "
                                        "(summary(model, shape) does) before making the optimizer");
    set_lr(lr);
}

void Optimizer::set_lr(float lr) {
    check_nonnegative(name_, "lr", lr);
    lr_ = lr;
}

int Optimizer::add_state(int count) {
    const int first = state_.empty() ? 0 : static_cast<int>(state_[0].size());
    for (size_t i = 0; i < params_.size(); ++i)
        for (int k = 0; k < count; ++k) state_[i].emplace_back(params_[i]->size(), 0.0f);
    return first;
}

void Optimizer::zero_grad() {
    for (Parameter* p : params_) p->zero_grad();
}

// Every check runs before any parameter changes, so a failed step leaves the model intact.
void Optimizer::check_gradients() const {
    for (const Parameter* p : params_) {
        if (p->grad.size() != p->size())
            throw std::invalid_argument(name_ + ": parameter '" + p->name + "' has " +
                                        std::to_string(p->size()) + " values but a gradient of " +
                                        std::to_string(p->grad.size()));
        if (!needs_statistics()) continue;
        if (p->stats_batch <= 0 || p->grad_sq.size() != p->size())
            throw std::invalid_argument(
                name_ + ": parameter '" + p->name +
                "' has no per-example statistics (grad_sq) for this step; this algorithm needs "
                "them: turn them on with tape.set_statistics(true) before backward");
    }
}

void Optimizer::step() {
    check_gradients();
    ++t_;
    begin_step();
    for (size_t i = 0; i < params_.size(); ++i) update(*params_[i], i);
}

// Every piece of state, listed once for saving and loading (core/fields.h).
void Optimizer::state_fields(Fields& f) {
    std::string algorithm = name_;
    f("algorithm", algorithm);
    if (algorithm != name_)
        throw std::runtime_error(name_ + ": load_state: the state was saved by '" + algorithm + "', expected '" +
                                 name_ + "'");
    std::int64_t t = t_;
    float lr = lr_;
    std::uint64_t n_params = state_.size();
    f("t", t);
    f("lr", lr);
    f("parameters", n_params);
    if (n_params != state_.size())
        throw std::runtime_error(name_ + ": load_state: the state holds " + std::to_string(n_params) +
                                 " parameters, this optimizer has " + std::to_string(state_.size()));
    // Loaded into a copy, so that a failed load leaves the optimizer as it was.
    auto state = state_;
    for (size_t i = 0; i < state.size(); ++i)
        for (size_t k = 0; k < state[i].size(); ++k)
            f("buffer." + std::to_string(i) + "." + std::to_string(k), state[i][k]);
    extra_state_fields(f);
    if (!f.loading()) return;
    if (t < 0) throw std::runtime_error(name_ + ": load_state: step counter " + std::to_string(t));
    set_lr(lr);
    state_ = std::move(state);
    t_ = static_cast<long>(t);
}

// The fields behind a short header, so that a stream of something else is named as such.
void Optimizer::save_state(std::ostream& out) const {
    Fields f = Fields::writer();
    const_cast<Optimizer*>(this)->state_fields(f);  // a writer only reads the object
    const std::string bytes = std::string(kMagic, sizeof kMagic) + f.bytes();
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw std::runtime_error(name_ + ": save_state: write failed");
}

void Optimizer::load_state(std::istream& in) {
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (bytes.size() < sizeof kMagic || bytes.compare(0, sizeof kMagic, kMagic, sizeof kMagic) != 0)
        throw std::runtime_error(name_ + ": load_state: not an optimizer state (bad header)");
    Fields f = Fields::reader(bytes.substr(sizeof kMagic), name_ + ": load_state");
    state_fields(f);
    f.finish();
}

}  // namespace dl
