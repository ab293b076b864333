#include "onnx/export.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>
#include <sstream>
#include <stdexcept>

#include "core/tape.h"
#include "layers/checkpoint.h"
#include "layers/layers.h"

namespace dl {

namespace {

using onnx::attr_float;
using onnx::attr_int;
using onnx::attr_ints;

// Builds the graph one node at a time. `x` names the value the next node reads:
// "input" at first, then the output of the last node appended.
class GraphBuilder {
public:
    explicit GraphBuilder(onnx::GraphProto& graph) : graph_(graph) {}

    std::string x = "input";
    Shape shape;         // the shape of x for a batch of one image (from running the model)
    std::string prefix;  // the current layer's position, "3." as in its parameters' names

    // Appends the node op(x, more...) with these attributes; its output becomes x.
    void apply(const std::string& op, const std::vector<std::string>& more = {},
               std::vector<onnx::AttributeProto> attributes = {}) {
        onnx::NodeProto n;
        n.name = unique(prefix + op);
        n.op_type = op;
        n.inputs.push_back(x);
        n.inputs.insert(n.inputs.end(), more.begin(), more.end());
        n.outputs = {n.name};
        n.attributes = std::move(attributes);
        graph_.nodes.push_back(std::move(n));
        x = graph_.nodes.back().outputs[0];
    }
    // A parameter or buffer, under its own name ("3.weight", "1.running_mean"), in
    // its own shape or in `dims` (as many values, e.g. (C, 1, 1) for a (C) vector).
    std::string tensor(const std::string& name, const Tensor& t, std::vector<std::int64_t> dims = {}) {
        if (dims.empty()) dims.assign(t.shape().dims.begin(), t.shape().dims.begin() + t.rank());
        size_t count = 1;
        for (std::int64_t d : dims) count *= static_cast<size_t>(d);
        if (count != t.size())
            throw std::logic_error("export_onnx: tensor '" + name + "' " + t.shape().str() + " written with " +
                                   std::to_string(count) + " values");
        return add(onnx::float_tensor(unique(name), dims, t.data()));
    }
    // A constant of the current layer, under prefix + name.
    std::string constant(const std::string& name, const std::vector<std::int64_t>& dims, const float* values) {
        return add(onnx::float_tensor(unique(prefix + name), dims, values));
    }
    std::string int64_constant(const std::string& name, const std::vector<std::int64_t>& values) {
        return add(onnx::int64_tensor(unique(prefix + name), values));
    }

private:
    std::string add(onnx::TensorProto t) {
        graph_.initializers.push_back(std::move(t));
        return graph_.initializers.back().name;
    }
    // Values and nodes share this set of names: every name in the file is unique.
    std::string unique(const std::string& name) {
        std::string n = name;
        for (int k = 1; !names_.insert(n).second; ++k) n = name + "_" + std::to_string(k);
        return n;
    }
    onnx::GraphProto& graph_;
    std::set<std::string> names_ = {"input", "logits"};
};

// ---- one emit per layer type ------------------------------------------------------------

// y = x W^T + b, x (N, in), weight (out, in).
void emit(Linear& l, GraphBuilder& b) {
    std::vector<std::string> in = {b.tensor(l.weight().name, l.weight().value)};
    if (Parameter* bias = l.bias_or_null()) in.push_back(b.tensor(bias->name, bias->value));
    b.apply("Gemm", in, {attr_int("transB", 1)});
}

void emit(Conv2d& c, GraphBuilder& b) {
    std::vector<std::string> in = {b.tensor(c.weight().name, c.weight().value)};
    if (Parameter* bias = c.bias_or_null()) in.push_back(b.tensor(bias->name, bias->value));
    const std::int64_t k = c.weight().value.dim(2), s = c.stride(), p = c.padding();
    b.apply("Conv", in, {attr_ints("kernel_shape", {k, k}), attr_ints("pads", {p, p, p, p}), attr_ints("strides", {s, s})});
}

// Inference form: y = gamma (x - running_mean) / sqrt(running_var + eps) + beta,
// over (N, C, H, W) or (N, F).
void emit(BatchNorm& l, GraphBuilder& b) {
    b.apply("BatchNormalization",
            {b.tensor(l.gamma().name, l.gamma().value), b.tensor(l.beta().name, l.beta().value),
             b.tensor(l.running_mean().name, l.running_mean().value), b.tensor(l.running_var().name, l.running_var().value)},
            {attr_float("epsilon", l.eps())});
}

// No padding, output size rounded down (ceil_mode 0): as core/ops_pool.cpp.
void emit(MaxPool2d& l, GraphBuilder& b) {
    const std::int64_t k = l.kernel(), s = l.stride();
    b.apply("MaxPool", {}, {attr_ints("kernel_shape", {k, k}), attr_ints("strides", {s, s})});
}
void emit(AvgPool2d& l, GraphBuilder& b) {
    const std::int64_t k = l.kernel(), s = l.stride();
    b.apply("AveragePool", {}, {attr_ints("kernel_shape", {k, k}), attr_ints("strides", {s, s})});
}

// Opset 13 has neither GroupNormalization (opset 18) nor LayerNormalization (17).
// Both are written as PyTorch writes GroupNorm for older opsets: the values of each
// group of each example are made one row, (N, groups, rest), which
// InstanceNormalization (scale 1, bias 0) normalises; then the original shape and
// the affine map gamma x + beta, with gamma and beta shaped to broadcast over it.
// (PyTorch's own graphs for these fail in OpenCV 4.6: its Reshape takes a shape
// computed at run time, and its LayerNorm needs Sub and Div of two computed tensors
// of different shapes, which 4.6 refuses. Constant shapes, with 0 meaning "the
// batch size of the input", work.)
void emit_normalize_rows(GraphBuilder& b, std::int64_t rows, float eps, const std::vector<std::int64_t>& affine_dims,
                         const Parameter& gamma, const Parameter& beta) {
    std::vector<std::int64_t> shape = {0};  // the input's shape, 0 for its batch size
    for (int d = 1; d < b.shape.rank; ++d) shape.push_back(b.shape[d]);
    const std::vector<float> ones(rows, 1.0f), zeros(rows, 0.0f);
    b.apply("Reshape", {b.int64_constant("rows", {0, rows, -1})});
    b.apply("InstanceNormalization",
            {b.constant("ones", {rows}, ones.data()), b.constant("zeros", {rows}, zeros.data())},
            {attr_float("epsilon", eps)});
    b.apply("Reshape", {b.int64_constant("shape", shape)});
    b.apply("Mul", {b.tensor(gamma.name, gamma.value, affine_dims)});
    b.apply("Add", {b.tensor(beta.name, beta.value, affine_dims)});
}

// Over (N, C, H, W) or (N, C); gamma and beta (C) become (C, 1, 1) for an image.
void emit(GroupNorm& l, GraphBuilder& b) {
    std::vector<std::int64_t> affine = {l.gamma().value.dim(0)};
    if (b.shape.rank == 4) affine.insert(affine.end(), {1, 1});
    emit_normalize_rows(b, l.groups(), l.eps(), affine, l.gamma(), l.beta());
}

// Over all values of each example; gamma and beta are shaped like one example.
void emit(LayerNorm& l, GraphBuilder& b) {
    const Shape& s = l.gamma().value.shape();
    emit_normalize_rows(b, 1, l.eps(), std::vector<std::int64_t>(s.dims.begin(), s.dims.begin() + s.rank), l.gamma(),
                        l.beta());
}

void emit(ReLU&, GraphBuilder& b) { b.apply("Relu"); }
void emit(LeakyReLU& l, GraphBuilder& b) { b.apply("LeakyRelu", {}, {attr_float("alpha", l.slope())}); }
void emit(Tanh&, GraphBuilder& b) { b.apply("Tanh"); }
void emit(Sigmoid&, GraphBuilder& b) { b.apply("Sigmoid"); }
void emit(Flatten&, GraphBuilder& b) { b.apply("Flatten", {}, {attr_int("axis", 1)}); }
void emit(Dropout&, GraphBuilder&) {}  // the identity at inference

// A fused layer is the layers it stands for (layers/fused.h).
void emit(ConvReluMaxPool& l, GraphBuilder& b) {
    emit(l.conv(), b);
    b.apply("Relu");
    emit(l.pool(), b);
}
void emit(ReluMaxPool& l, GraphBuilder& b) {
    b.apply("Relu");
    emit(l.pool(), b);
}

template <class Layer>
bool emit_if(Module& m, GraphBuilder& b) {
    Layer* layer = dynamic_cast<Layer*>(&m);
    if (layer) emit(*layer, b);
    return layer != nullptr;
}

template <class... Layers>
bool emit_first_match(Module& m, GraphBuilder& b) {
    return (emit_if<Layers>(m, b) || ...);
}

// Every layer type with an ONNX form (a base class covers its subclasses, as
// BatchNorm covers BatchNorm1d and BatchNorm2d). Sequential is walked in emit_module.
bool emit_layer(Module& m, GraphBuilder& b) {
    return emit_first_match<Linear, Conv2d, BatchNorm, GroupNorm, LayerNorm, MaxPool2d, AvgPool2d, ReLU, LeakyReLU, Tanh,
                            Sigmoid, Flatten, Dropout, ConvReluMaxPool, ReluMaxPool>(m, b);
}
const char* const kSupported =
    "Linear, Conv2d, BatchNorm1d, BatchNorm2d, GroupNorm, LayerNorm, MaxPool2d, AvgPool2d, ReLU, LeakyReLU, Tanh, "
    "Sigmoid, Flatten, Dropout, ConvReluMaxPool, ReluMaxPool and Sequential";

// Emits the layers of m in order (a Sequential's recursively), running each on the
// tape so that b.shape is the shape of the layer's input.
void emit_module(Module& m, const std::string& position, GraphBuilder& b, Tape& tape, Var& x) {
    if (auto* seq = dynamic_cast<Sequential*>(&m)) {
        for (size_t i = 0; i < seq->size(); ++i) emit_module((*seq)[i], position + std::to_string(i) + ".", b, tape, x);
        return;
    }
    b.prefix = position;
    b.shape = tape.shape(x);
    x = m.forward(tape, x);  // first: a layer may size its parameters at its first forward
    if (!emit_layer(m, b)) {
        const std::string where = position.empty() ? "the model" : "layer " + position.substr(0, position.size() - 1);
        throw std::invalid_argument("export_onnx: " + where + ", " + m.describe() +
                                    ", has no ONNX form (layers with one: " + kSupported + ")");
    }
}

// (x - mean[c]) / std[c] on pixels in [0, 1], as data/transform.h's table does.
void emit_normalization(const Normalization& n, int channels, GraphBuilder& b) {
    normalization_table(n, channels);  // checks the sizes and that every std is > 0
    if (n.mean.empty()) return;
    b.prefix = "normalize.";
    // (C, 1, 1) broadcasts over (N, C, H, W). OpenCV 4.6 fails on Sub and Add with a
    // (1, C, 1, 1) constant (an assertion in shape_utils.hpp), but takes (C, 1, 1).
    const std::vector<std::int64_t> dims = {channels, 1, 1};
    b.apply("Sub", {b.constant("mean", dims, n.mean.data())});
    b.apply("Div", {b.constant("std", dims, n.std.data())});
}

std::string json_string(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            char u[8];
            std::snprintf(u, sizeof u, "\\u%04x", c);
            out += u;
        } else {
            out += c;
        }
    }
    return out + "\"";
}

std::string json_array(const std::vector<std::string>& items) {
    std::string out = "[";
    for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + json_string(items[i]);
    return out + "]";
}

}  // namespace

onnx::ModelProto export_onnx(Module& model, const ExportInfo& info) {
    const ModelSpec& s = info.spec;
    if (static_cast<int>(info.class_names.size()) != s.classes)
        throw std::invalid_argument("export_onnx: " + std::to_string(info.class_names.size()) + " class names for " +
                                    std::to_string(s.classes) + " classes");
    model.eval();
    onnx::ModelProto m;
    m.producer_name = "dl";
    m.doc_string = "input: pixels scaled to [0, 1], (N, C, H, W), the training's normalisation is in the graph; "
                   "output: logits (N, classes); class names: metadata_props class_names";
    onnx::GraphProto& g = m.graph;
    g.name = s.name;
    g.inputs.push_back({"input", onnx::kFloat, {{0, "N"}, {s.channels, ""}, {s.height, ""}, {s.width, ""}}});
    g.outputs.push_back({"logits", onnx::kFloat, {{0, "N"}, {s.classes, ""}}});

    GraphBuilder b(g);
    emit_normalization(info.norm, s.channels, b);
    Tape tape;
    NoGrad no_grad(tape);
    Var x = tape.input(Tensor(Shape{1, s.channels, s.height, s.width}));
    emit_module(model, "", b, tape, x);
    if (tape.shape(x) != Shape{1, s.classes})
        throw std::invalid_argument("export_onnx: the model's output for one image is " + tape.shape(x).str() +
                                    ", expected (1, " + std::to_string(s.classes) + ") logits");
    if (g.nodes.empty()) {
        b.prefix = "";
        b.apply("Identity");
    }
    g.nodes.back().outputs[0] = "logits";  // the last node's output is read by no other node

    m.metadata_props = {{"class_names", json_array(info.class_names)}, {"model", s.name}};
    return m;
}

onnx::ModelProto export_checkpoint(const std::string& path) {
    Checkpoint ck = read_checkpoint(path);
    std::unique_ptr<Module> model = make_model(ck.spec, 0);
    load_state(*model, ck, path);
    if (ck.data.class_names.empty() || ck.data.mean.empty())
        throw std::runtime_error("checkpoint '" + path + "': no class names and normalisation recorded; was this "
                                 "checkpoint written by build/train?");
    ExportInfo info;  // read_checkpoint has checked their sizes against the model
    info.spec = ck.spec;
    info.norm.mean = ck.data.mean;
    info.norm.std = ck.data.std;
    info.class_names = ck.data.class_names;
    return export_onnx(*model, info);
}

void write_file_atomically(const std::string& path, const std::string& bytes) {
    const auto fail = [&](const std::string& what) {
        throw std::runtime_error("cannot write '" + path + "': " + what + " (" + std::strerror(errno) + ")");
    };
    std::string tmp = path + ".tmp-XXXXXX";
    const int fd = ::mkstemp(tmp.data());
    if (fd < 0) fail("cannot create a temporary file beside it");
    // mkstemp makes the file private (0600); give it the mode a new file gets.
    const mode_t mask = ::umask(0);
    ::umask(mask);
    int err = ::fchmod(fd, 0666 & ~mask) == 0 ? 0 : errno;
    for (size_t done = 0; err == 0 && done < bytes.size();) {
        const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n > 0)
            done += static_cast<size_t>(n);
        else if (n == 0 || errno != EINTR)
            err = n == 0 ? EIO : errno;
    }
    if (::close(fd) != 0 && err == 0) err = errno;  // some file systems report a full disk only here
    if (err != 0) {
        ::unlink(tmp.c_str());
        errno = err;
        fail("writing '" + tmp + "' failed");
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        const int err = errno;
        ::unlink(tmp.c_str());
        errno = err;
        fail("cannot rename '" + tmp + "' to it");
    }
}

}  // namespace dl
