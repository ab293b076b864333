#include "core/tape.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace dl {

Node& Tape::node(Var v) {
    if (v.id < 0 || v.id >= count_)
        throw std::invalid_argument("tape: variable " + std::to_string(v.id) +
                                    " is not on this tape (it has " + std::to_string(count_) +
                                    " nodes; was the tape reset?)");
    return *nodes_[v.id];
}

Node& Tape::record(const char* op, const Shape& out_shape, std::initializer_list<Var> inputs,
                   BackwardFn backward, bool owns_params) {
    if (inputs.size() > static_cast<size_t>(Node::kMaxInputs))
        throw std::invalid_argument(std::string("tape: op '") + op + "' has " + std::to_string(inputs.size()) +
                                    " inputs; a node holds at most " + std::to_string(Node::kMaxInputs));
    if (count_ == static_cast<int>(nodes_.size())) nodes_.push_back(std::make_unique<Node>());
    Node& n = *nodes_[count_];
    n.op = op;
    n.value = &n.out;
    n.grad = &n.dout;
    n.param = nullptr;
    n.n_in = 0;
    n.needs_grad = false;
    n.grad_ready = false;
    n.mixes_examples = false;
    n.is_loss = false;
    n.loss_examples = 0;
    n.loss_scale = 1.0f;
    for (Var v : inputs) {
        const Node& src = node(v);
        n.in[n.n_in++] = v.id;
        n.needs_grad = n.needs_grad || src.needs_grad;
    }
    n.needs_grad = (n.needs_grad || owns_params) && grad_enabled_;
    n.backward = n.needs_grad ? backward : nullptr;
    n.out.resize(out_shape);
    ++count_;
    return n;
}

Var Tape::input(const Tensor& t, bool requires_grad) {
    Node& n = record("input", t.shape(), {}, nullptr);
    std::copy(t.data(), t.data() + t.size(), n.out.data());
    n.needs_grad = requires_grad && grad_enabled_;
    return Var{count_ - 1};
}

Var Tape::input(const float* data, const Shape& shape) {
    Node& n = record("input", shape, {}, nullptr);
    std::copy(data, data + shape.numel(), n.out.data());
    return Var{count_ - 1};
}

Var Tape::param(Parameter& p) {
    Node& n = record("parameter", Shape{}, {}, nullptr);
    n.value = &p.value;
    p.ensure_grad();
    n.grad = &p.grad;
    n.grad_ready = true;  // a parameter's grad accumulates across passes until zero_grad
    n.param = &p;
    n.needs_grad = grad_enabled_;
    return Var{count_ - 1};
}

Tensor& Tape::grad_acc(int id) {
    Node& n = *nodes_[id];
    if (!n.grad_ready) {
        n.grad->resize(n.value->shape());
        n.grad->zero();
        n.grad_ready = true;
    }
    return *n.grad;
}

Tensor& Tape::grad_write(int id, bool& assign) {
    Node& n = *nodes_[id];
    assign = !n.grad_ready;
    if (assign) {
        n.grad->resize(n.value->shape());
        n.grad_ready = true;
    }
    return *n.grad;
}

const Tensor& Tape::grad(Var v) {
    node(v);  // validates v
    return grad_acc(v.id);
}

// Marks the nodes that `root` depends on (inputs are recorded before their users,
// so one pass downwards suffices).
void Tape::mark_reached(int root) {
    for (int i = 0; i <= root; ++i) nodes_[i]->reached = false;
    nodes_[root]->reached = true;
    for (int i = root; i >= 0; --i) {
        const Node& n = *nodes_[i];
        if (!n.reached) continue;
        for (int k = 0; k < n.n_in; ++k) nodes_[n.in[k]]->reached = true;
    }
}

// Only the ops the loss depends on matter: a train-mode batch norm elsewhere on
// the tape does not make this loss's statistics undefined.
void Tape::check_statistics_graph(int root) const {
    const Node& r = *nodes_[root];
    if (!r.is_loss)
        throw std::invalid_argument(std::string("statistics: backward must start from a per-example ") +
                                    "loss (softmax_cross_entropy or mse_loss), not from op '" + r.op + "'");
    for (int i = 0; i <= root; ++i) {
        const Node& n = *nodes_[i];
        if (!n.needs_grad || !n.reached) continue;
        if (n.mixes_examples)
            throw std::invalid_argument(std::string("statistics: op '") + n.op +
                                        "' mixes the examples of a batch, so per-example gradients "
                                        "are undefined (use eval mode for batch norm, or turn statistics off)");
        if (n.param)
            throw std::invalid_argument("statistics: parameter '" + n.param->name +
                                        "' is used by a generic op; per-example statistics are "
                                        "computed only by linear and conv2d");
    }
}

void Tape::begin_param_stats(Parameter& p, const char* op) {
    if (std::find(stats_params_.begin(), stats_params_.end(), &p) != stats_params_.end())
        throw std::invalid_argument("statistics: parameter '" + p.name + "' is used by two ops (" +
                                    op + " and another) in one graph; per-example statistics are "
                                    "undefined for shared parameters");
    stats_params_.push_back(&p);
    if (p.grad_sq.shape() != p.value.shape()) p.grad_sq = Tensor(p.value.shape());
    if (p.stats_batch != 0 && p.stats_batch != stats_batch_)
        p.grad_sq.zero();  // statistics of another batch size cannot be added up
    p.stats_batch = stats_batch_;
}

void Tape::backward(Var loss) {
    Node& root = node(loss);
    if (root.value->size() != 1)
        throw std::invalid_argument(std::string("backward: the loss must be a scalar, got shape ") +
                                    root.value->shape().str() + " from op '" + root.op + "'");
    if (!root.needs_grad)
        throw std::invalid_argument(std::string("backward: nothing to differentiate: op '") + root.op +
                                    "' does not depend on a parameter or an input that requires a gradient"
                                    " (was it recorded in inference mode?)");
    for (int i = 0; i < count_; ++i)
        if (!nodes_[i]->param) nodes_[i]->grad_ready = false;
    stats_params_.clear();
    if (statistics_) {
        mark_reached(loss.id);
        check_statistics_graph(loss.id);
        stats_batch_ = root.loss_examples;
        stats_scale_ = root.loss_scale;
        sqnorm_.assign(static_cast<size_t>(stats_batch_), 0.0f);
    }
    grad_acc(loss.id)[0] += 1.0f;
    for (int i = loss.id; i >= 0; --i) {
        Node& n = *nodes_[i];
        if (n.backward && n.grad_ready) n.backward(*this, n);
    }
}

std::vector<float> Tape::per_example_grad_norms() const {
    std::vector<float> norms(sqnorm_.size());
    for (size_t b = 0; b < norms.size(); ++b) norms[b] = std::sqrt(sqnorm_[b]);
    return norms;
}

void Tape::check_finite() const {
    for (int i = 0; i < count_; ++i) {
        const Tensor& v = *nodes_[i]->value;
        for (size_t k = 0; k < v.size(); ++k)
            if (!std::isfinite(v[k]))
                throw std::runtime_error(std::string("non-finite value (") + std::to_string(v[k]) +
                                         ") first produced by op '" + nodes_[i]->op + "' (node " +
                                         std::to_string(i) + ", output " + v.shape().str() + ", element " +
                                         std::to_string(k) + ")");
    }
}

}  // namespace dl
