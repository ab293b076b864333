// The tape: records every differentiable op of a forward pass, then runs their
// backward functions in reverse order.
//
//   Tape tape;
//   Var x = tape.input(batch);                 // a leaf (copied into a tape buffer)
//   Var y = relu(tape, linear(tape, x, W, &b));
//   Var loss = softmax_cross_entropy(tape, y, labels);
//   tape.backward(loss);                       // fills W.grad, b.grad
//   tape.reset();                              // ready for the next step
//
// Each op appends one Node: its output buffer, the ids of its inputs, a backward
// function and what that backward needs (a struct of the op's own, SavedState).
// Nodes (and their buffers) are kept across reset(), and the same network asks for
// the same shapes every step, so after the first step a training step allocates
// nothing on the heap.
//
// Backward functions *accumulate* (+=) into their inputs' gradients, which are
// zeroed lazily the first time an op writes to them (grad_acc()).
//
// Per-example statistics (README, "Per-example gradient statistics"): with
// set_statistics(true), ops that own parameters (linear, conv2d, the norms) also
// fill Parameter::grad_sq with (1/B) sum_b g_b^2, and the tape collects each
// example's squared gradient norm. B and the scale of g_b come from the loss that
// backward starts from.
#pragma once
#include <cstddef>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/parameter.h"
#include "core/tensor.h"

namespace dl {

class Tape;

// A handle to a node of a tape. Cheap to copy; valid until tape.reset().
struct Var {
    int id = -1;
};

struct Node;
using BackwardFn = void (*)(Tape& tape, Node& node);

// What an op keeps for its backward, in named fields: a struct of the op's own
// (`struct PoolSaved { PoolGeom g; std::vector<int> argmax; };`), built in storage
// the node owns. A node keeps its state across tape.reset(), and a network records
// the same ops in the same order every step, so the next step finds the state (and
// the capacity of its buffers) in place: recording allocates nothing.
class SavedState {
public:
    static constexpr std::size_t kBytes = 768;

    SavedState() = default;
    SavedState(const SavedState&) = delete;
    SavedState& operator=(const SavedState&) = delete;
    ~SavedState() { clear(); }

    // The state of type S, made if the node held none of that type. When it did,
    // the old state is returned as it was (its buffers keep their capacity): the
    // op must set every field.
    template <class S>
    S& make() {
        static_assert(sizeof(S) <= kBytes, "saved state: struct too large for the node's storage (raise kBytes)");
        static_assert(alignof(S) <= alignof(std::max_align_t), "saved state: alignment too large");
        if (tag_ != tag<S>()) {
            clear();
            new (bytes_) S();
            destroy_ = [](void* p) { static_cast<S*>(p)->~S(); };
            tag_ = tag<S>();
        }
        return *std::launder(reinterpret_cast<S*>(bytes_));
    }

    // The state of type S made by the op's forward (throws if the node holds another type).
    template <class S>
    S& get() {
        if (tag_ != tag<S>()) throw std::logic_error("saved state: the node holds another op's state");
        return *std::launder(reinterpret_cast<S*>(bytes_));
    }

private:
    template <class S>
    static const void* tag() {
        static const char id = 0;
        return &id;
    }
    void clear() {
        if (destroy_) destroy_(bytes_);
        destroy_ = nullptr;
        tag_ = nullptr;
    }

    alignas(std::max_align_t) unsigned char bytes_[kBytes];
    const void* tag_ = nullptr;  // which S lives in bytes_ (nullptr: none)
    void (*destroy_)(void*) = nullptr;
};

struct Node {
    const char* op = "";
    Tensor out;                 // output buffer owned by the tape
    Tensor dout;                // gradient buffer owned by the tape
    Tensor* value = &out;       // points to out, or to a Parameter's value for param leaves
    Tensor* grad = &dout;       // points to dout, or to a Parameter's grad
    Parameter* param = nullptr; // set for leaves made with Tape::param
    static constexpr int kMaxInputs = 3;
    int in[kMaxInputs] = {-1, -1, -1};  // input node ids
    int n_in = 0;
    bool needs_grad = false;    // some input (transitively) needs a gradient
    bool grad_ready = false;    // grad zeroed for this backward pass
    bool reached = false;       // the root of the current backward pass depends on this node
    bool mixes_examples = false;  // the op mixes batch examples (statistics undefined)
    // A per-example loss (softmax_cross_entropy, mse_loss) over loss_examples
    // examples: the per-example gradient is g_b = loss_scale * (example b's
    // contribution to the gradient of this loss); loss_scale = B for a mean, 1 for
    // a sum. Statistics are allowed from such a node only.
    bool is_loss = false;
    int loss_examples = 0;
    float loss_scale = 1.0f;
    BackwardFn backward = nullptr;

    // The op's saved state: n.save<ConvSaved>() in forward, n.saved<ConvSaved>() in backward.
    template <class S>
    S& save() { return state_.make<S>(); }
    template <class S>
    S& saved() { return state_.get<S>(); }

    Node() = default;
    Node(const Node&) = delete;
    Node& operator=(const Node&) = delete;

private:
    SavedState state_;
};

class Tape {
public:
    Tape() = default;
    Tape(const Tape&) = delete;
    Tape& operator=(const Tape&) = delete;

    // Leaves.
    Var input(const Tensor& t, bool requires_grad = false);  // copies t into a tape buffer
    Var input(const float* data, const Shape& shape);         // copies shape.numel() floats
    Var param(Parameter& p);  // a parameter used by a generic op (matmul, add, ...)

    // Access.
    Tensor& value(Var v) { return *node(v).value; }
    const Tensor& value(Var v) const { return *nodes_[v.id]->value; }
    const Shape& shape(Var v) const { return nodes_[v.id]->value->shape(); }
    // The gradient of the last backward pass w.r.t. v (zeros if nothing reached v).
    const Tensor& grad(Var v);
    Node& node(Var v);
    Node& node(int id) { return *nodes_[id]; }
    int size() const { return count_; }

    // For ops: append a node with an output of the given shape and up to
    // Node::kMaxInputs inputs. An op that owns parameters (linear, conv2d) passes
    // owns_params = true: it needs a backward even when no input needs a gradient.
    Node& record(const char* op, const Shape& out_shape, std::initializer_list<Var> inputs,
                 BackwardFn backward, bool owns_params = false);
    // For backward functions: the gradient buffer of node `id`, zeroed on first use.
    Tensor& grad_acc(int id);
    // For backward functions that write every element of an input's gradient:
    // like grad_acc, but without the zeroing. `assign` is true on the first write
    // of the pass; the buffer's contents are then undefined and the op must
    // assign (=) instead of adding. (Zeroing a few MB of activation gradients
    // per step, on one thread, cost about as much as the ops that then add.)
    Tensor& grad_write(int id, bool& assign);

    void backward(Var loss);
    void reset() { count_ = 0; }

    // Inference mode: ops still compute outputs but record no backward.
    bool grad_enabled() const { return grad_enabled_; }
    void set_grad_enabled(bool on) { grad_enabled_ = on; }

    // Per-example statistics.
    void set_statistics(bool on) { statistics_ = on; }
    bool statistics() const { return statistics_; }
    // During a statistics backward: the batch size B and the factor s with g_b =
    // s * (the contribution of example b to the gradient), read from the loss node
    // backward started from (Node::loss_examples, Node::loss_scale).
    int stats_batch() const { return stats_batch_; }
    float stats_scale() const { return stats_scale_; }
    // For stats ops during backward: checks that p gets its statistics from
    // one op only, shapes p.grad_sq and marks p.stats_batch.
    void begin_param_stats(Parameter& p, const char* op);
    // For stats ops: per-example squared gradient norms, accumulated (B floats).
    float* per_example_sqnorm() { return sqnorm_.data(); }
    // After a statistics backward: ||g_b|| over all parameters, one per example.
    std::vector<float> per_example_grad_norms() const;

    // Throws std::runtime_error naming the first op whose output holds NaN/Inf.
    void check_finite() const;

private:
    void mark_reached(int root);
    void check_statistics_graph(int root) const;

    std::vector<std::unique_ptr<Node>> nodes_;
    int count_ = 0;
    bool grad_enabled_ = true;
    bool statistics_ = false;
    int stats_batch_ = 0;
    float stats_scale_ = 1.0f;
    std::vector<float> sqnorm_;
    std::vector<Parameter*> stats_params_;  // parameters that received statistics this pass
};

// RAII inference mode: `NoGrad ng(tape);` records nothing until it goes out of scope.
class NoGrad {
public:
    explicit NoGrad(Tape& t) : tape_(t), prev_(t.grad_enabled()) { t.set_grad_enabled(false); }
    ~NoGrad() { tape_.set_grad_enabled(prev_); }
private:
    Tape& tape_;
    bool prev_;
};

}  // namespace dl
