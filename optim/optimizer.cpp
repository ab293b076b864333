#include "optim/optimizer.h"

#include <algorithm>
#include <cmath>
#include <istream>
#include <ostream>
#include <sstream>
#include <stdexcept>

namespace dl {

namespace {

constexpr char kMagic[8] = {'D', 'L', 'O', 'P', 'T', 'v', '1', '\n'};

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

// Format: magic, name, t, lr, #parameters, then per parameter #slots and per
// slot its element count and floats, then the algorithm's extra state.
void Optimizer::save_state(std::ostream& out) const {
    write_bytes(out, kMagic, sizeof kMagic);
    write_string(out, name_);
    const int64_t t = t_;
    write_bytes(out, &t, sizeof t);
    write_bytes(out, &lr_, sizeof lr_);
    const uint64_t n_params = state_.size();
    write_bytes(out, &n_params, sizeof n_params);
    for (const auto& slots : state_) {
        const uint64_t n_slots = slots.size();
        write_bytes(out, &n_slots, sizeof n_slots);
        for (const auto& buf : slots) {
            const uint64_t n = buf.size();
            write_bytes(out, &n, sizeof n);
            write_bytes(out, buf.data(), n * sizeof(float));
        }
    }
    save_extra(out);
    if (!out) throw std::runtime_error(name_ + ": save_state: write failed");
}

void Optimizer::load_state(std::istream& in) {
    char magic[sizeof kMagic];
    read_bytes(in, magic, sizeof magic, "header");
    if (!std::equal(magic, magic + sizeof magic, kMagic))
        throw std::runtime_error(name_ + ": load_state: not an optimizer state (bad header)");
    const std::string saved = read_string(in, "algorithm name");
    if (saved != name_)
        throw std::runtime_error(name_ + ": load_state: the state was saved by '" + saved +
                                 "', expected '" + name_ + "'");
    int64_t t = 0;
    float lr = 0.0f;
    read_bytes(in, &t, sizeof t, "step counter");
    read_bytes(in, &lr, sizeof lr, "learning rate");
    uint64_t n_params = 0;
    read_bytes(in, &n_params, sizeof n_params, "parameter count");
    if (n_params != state_.size())
        throw std::runtime_error(name_ + ": load_state: the state holds " +
                                 std::to_string(n_params) + " parameters, this optimizer has " +
                                 std::to_string(state_.size()));
    // Read into a copy so that a failed load leaves the optimizer as it was.
    auto state = state_;
    for (size_t i = 0; i < state.size(); ++i) {
        uint64_t n_slots = 0;
        read_bytes(in, &n_slots, sizeof n_slots, "slot count");
        if (n_slots != state[i].size())
            throw std::runtime_error(name_ + ": load_state: parameter " + std::to_string(i) +
                                     " has " + std::to_string(n_slots) + " state buffers, expected " +
                                     std::to_string(state[i].size()));
        for (auto& buf : state[i]) {
            uint64_t n = 0;
            read_bytes(in, &n, sizeof n, "buffer size");
            if (n != buf.size())
                throw std::runtime_error(name_ + ": load_state: parameter " + std::to_string(i) +
                                         " ('" + params_[i]->name + "') has " +
                                         std::to_string(buf.size()) + " values, the state " +
                                         std::to_string(n));
            read_bytes(in, buf.data(), n * sizeof(float), "state buffer");
        }
    }
    load_extra(in);
    state_ = std::move(state);
    t_ = static_cast<long>(t);
    set_lr(lr);
}

void write_bytes(std::ostream& out, const void* p, size_t n) {
    out.write(static_cast<const char*>(p), static_cast<std::streamsize>(n));
}

void read_bytes(std::istream& in, void* p, size_t n, const char* what) {
    in.read(static_cast<char*>(p), static_cast<std::streamsize>(n));
    if (static_cast<size_t>(in.gcount()) != n)
        throw std::runtime_error(std::string("load_state: the stream ended while reading the ") +
                                 what + " (truncated or not an optimizer state)");
}

void write_string(std::ostream& out, const std::string& s) {
    const uint64_t n = s.size();
    write_bytes(out, &n, sizeof n);
    write_bytes(out, s.data(), s.size());
}

std::string read_string(std::istream& in, const char* what) {
    uint64_t n = 0;
    read_bytes(in, &n, sizeof n, what);
    if (n > (1u << 20))
        throw std::runtime_error(std::string("load_state: implausible length of the ") + what);
    std::string s(n, '\0');
    read_bytes(in, s.data(), n, what);
    return s;
}

}  // namespace dl
