#include "layers/summary.h"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "layers/conv2d.h"
#include "layers/fused.h"
#include "layers/linear.h"
#include "layers/sequential.h"

namespace dl {

namespace {

// The layers of a Sequential, or the model as its own single layer.
std::vector<Module*> layers_of(Module& model) {
    std::vector<Module*> out;
    if (auto* seq = dynamic_cast<Sequential*>(&model)) {
        for (size_t i = 0; i < seq->size(); ++i) out.push_back(&(*seq)[i]);
    } else {
        out.push_back(&model);
    }
    return out;
}

// The shape without its batch dimension: (1, C, H, W) -> (C, H, W).
Shape drop_batch(const Shape& s) {
    Shape out;
    out.rank = s.rank - 1;
    for (int i = 1; i < s.rank; ++i) out.dims[i - 1] = s.dims[i];
    return out;
}

Shape add_batch(const Shape& example) {
    if (example.rank < 1 || example.rank > 3)
        throw std::invalid_argument("summary: the example shape " + example.str() +
                                    " must be one example without the batch dimension, e.g. (1, 28, 28)");
    Shape s;
    s.rank = example.rank + 1;
    s.dims[0] = 1;
    for (int i = 0; i < example.rank; ++i) s.dims[i + 1] = example.dims[i];
    return s;
}

// Forward FLOPs of one example, from the layer's input and output shapes (without
// the batch): 2 per multiply-add of conv and linear (plus the bias), 1 per output
// value of everything else.
double conv_flops(Conv2d& conv, double outputs) {
    const Tensor& w = conv.weight().value;
    const double k = static_cast<double>(w.size()) / w.dim(0);  // C * kh * kw
    return outputs * (2.0 * k + (conv.bias_or_null() ? 1.0 : 0.0));
}

double layer_flops(Module& layer, const Shape& in, const Shape& out) {
    const double values = static_cast<double>(out.numel());
    if (auto* conv = dynamic_cast<Conv2d*>(&layer)) return conv_flops(*conv, values);
    if (auto* linear = dynamic_cast<Linear*>(&layer))
        return values * (2.0 * linear->in_features() + (linear->parameters().size() == 2 ? 1.0 : 0.0));
    if (auto* fused = dynamic_cast<ConvReluMaxPool*>(&layer)) {  // conv, then 1 per value for relu and the pool
        Conv2d& conv = fused->conv();
        const int k = conv.weight().value.dim(2), p = conv.padding(), s = conv.stride();
        const double conv_out = static_cast<double>(conv.weight().value.dim(0)) * ((in[1] + 2 * p - k) / s + 1) *
                                ((in[2] + 2 * p - k) / s + 1);
        return conv_flops(conv, conv_out) + conv_out + values;
    }
    if (dynamic_cast<ReluMaxPool*>(&layer)) return static_cast<double>(in.numel()) + values;
    return values;
}

// The op names recorded from node `from` on, joined with ", ".
std::string ops_since(Tape& tape, int from) {
    std::string s;
    for (int i = from; i < tape.size(); ++i) s += (s.empty() ? "" : ", ") + std::string(tape.node(i).op);
    return s;
}

std::string shape_text(const Shape& s) {
    std::string t;
    for (int i = 0; i < s.rank; ++i) t += (i ? "x" : "") + std::to_string(s.dims[i]);
    return t;
}

// 3274634 -> "3,274,634"
std::string grouped(size_t n) {
    std::string digits = std::to_string(n), out;
    for (size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return out;
}

// 6.42e6 -> "6.42M"
std::string si(double v) {
    char buf[32];
    if (v >= 1e9) std::snprintf(buf, sizeof buf, "%.3gG", v / 1e9);
    else if (v >= 1e6) std::snprintf(buf, sizeof buf, "%.3gM", v / 1e6);
    else if (v >= 1e3) std::snprintf(buf, sizeof buf, "%.3gk", v / 1e3);
    else std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
}

// Eval mode for the summary's forward, each layer's own mode back afterwards.
class EvalScope {
public:
    explicit EvalScope(Module& model) : model_(model) {
        for (Module* l : layers_of(model)) modes_.push_back(l->training());
        whole_ = model.training();
        model.eval();
    }
    ~EvalScope() {
        model_.train(whole_);
        std::vector<Module*> layers = layers_of(model_);
        for (size_t i = 0; i < layers.size(); ++i) layers[i]->train(modes_[i]);
    }

private:
    Module& model_;
    bool whole_;
    std::vector<bool> modes_;
};

}  // namespace

std::vector<LayerSummary> summarize(Module& model, const Shape& example) {
    EvalScope eval(model);
    Tape tape;
    NoGrad no_grad(tape);
    Var x = tape.input(Tensor(add_batch(example)));
    std::vector<LayerSummary> out;
    const std::vector<Module*> layers = layers_of(model);
    for (size_t i = 0; i < layers.size(); ++i) {
        Module& layer = *layers[i];
        const int first = tape.size();
        const Shape in = drop_batch(tape.shape(x));
        try {
            x = layer.forward(tape, x);
        } catch (const std::exception& e) {
            throw std::invalid_argument("summary: layer " + std::to_string(i) + " (" + layer.describe() +
                                        ") does not take its input " + in.str() + ": " + e.what());
        }
        LayerSummary s;
        s.layer = layer.describe();
        s.output = drop_batch(tape.shape(x));
        s.parameters = count_parameters(layer);
        s.flops = layer_flops(layer, in, s.output);
        s.ops = ops_since(tape, first);
        if (s.ops.empty()) s.ops = "-";  // e.g. dropout in eval mode: the identity
        out.push_back(s);
    }
    return out;
}

std::string summary(Module& model, const Shape& example) {
    const std::vector<LayerSummary> rows = summarize(model, example);
    std::vector<std::string> names;
    size_t wide = 5;
    for (size_t i = 0; i < rows.size(); ++i) {
        names.push_back("(" + std::to_string(i) + ") " + rows[i].layer);
        wide = std::max(wide, names.back().size());
    }
    std::string out;
    char line[512];
    const int w = static_cast<int>(wide);
    std::snprintf(line, sizeof line, "%-*s  %-10s %12s %8s  %s\n", w, "layer", "output", "parameters", "FLOPs",
                  "ops");
    out += line;
    size_t params = 0;
    double flops = 0;
    for (size_t i = 0; i < rows.size(); ++i) {
        const LayerSummary& r = rows[i];
        std::snprintf(line, sizeof line, "%-*s  %-10s %12s %8s  %s\n", w, names[i].c_str(), shape_text(r.output).c_str(),
                      grouped(r.parameters).c_str(), si(r.flops).c_str(), r.ops.c_str());
        out += line;
        params += r.parameters;
        flops += r.flops;
    }
    std::snprintf(line, sizeof line, "%-*s  %-10s %12s %8s", w, "total (one example, forward)", "",
                  grouped(params).c_str(), si(flops).c_str());
    return out + line;
}

}  // namespace dl
