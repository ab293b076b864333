#include "layers/models.h"

#include <algorithm>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

#include "layers/fused.h"
#include "layers/spec.h"

namespace dl {

namespace {

// cnn-bn: cnn with batch norm (16 and 32 channels) under-fitted under augmentation
// (92.4% at best after 15 epochs), so it is wider. cnn-gn: cnn-bn with group norm
// (8 groups) in place of batch norm, so that per-example statistics stay defined.
// DeepOBS's problems: see README for where ours differ (data scaling, the order of
// flattened features).
const std::vector<NamedModel> kNamed = {
    {"mlp", "flatten, linear 256, relu, linear 128, relu, linear"},
    {"cnn", "conv 16 5 pad 2, relu, maxpool 2, conv 32 5 pad 2, relu, maxpool 2, flatten, linear 128, relu, linear"},
    {"cnn-bn",
     "conv 32 3 pad 1 nobias, batchnorm, relu, maxpool 2, conv 64 3 pad 1 nobias, batchnorm, relu, maxpool 2, "
     "flatten, linear 256 nobias, batchnorm, relu, dropout 0.25, linear"},
    {"cnn-gn",
     "conv 32 3 pad 1 nobias, groupnorm 8, relu, maxpool 2, conv 64 3 pad 1 nobias, groupnorm 8, relu, maxpool 2, "
     "flatten, linear 256 nobias, groupnorm 8, relu, dropout 0.25, linear"},
    {"fmnist_2c2d",
     "init weight truncnormal 0.05 bias const 0.05, conv 32 5 pad same, relu, maxpool 2, conv 64 5 pad same, relu, "
     "maxpool 2, flatten, linear 1024, relu, linear"},
    {"fmnist_mlp",
     "init weight truncnormal 0.03 bias zeros, flatten, linear 1000, relu, linear 500, relu, linear 100, relu, "
     "linear"},
};

const NamedModel* find_named(const std::string& name) {
    for (const NamedModel& m : kNamed)
        if (name == m.name) return &m;
    return nullptr;
}

std::string read_spec_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::invalid_argument("model spec file '" + path + "': cannot open it for reading");
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string origin_of(const std::string& model) {
    return !model.empty() && model[0] == '@' ? "model spec " + model.substr(1) : "model spec";
}

// A single word that is no layer is most likely a mistyped model name.
Spec parse_model(const std::string& model, const std::string& layers) {
    const bool one_word = model == layers && model.find_first_of(" ,\t\n") == std::string::npos;
    try {
        return parse_spec(layers, origin_of(model));
    } catch (const std::invalid_argument&) {
        if (!one_word) throw;
        std::string known;
        for (const std::string& n : model_names()) known += (known.empty() ? "" : ", ") + n;
        throw std::invalid_argument("unknown model '" + model + "' (named models: " + known +
                                    "; or a spec such as 'flatten, linear 128, relu, linear', or @FILE)");
    }
}

void check_data_shape(const ModelSpec& s) {
    if (s.channels < 1 || s.height < 1 || s.width < 1 || s.classes < 2)
        throw std::invalid_argument("make_model: data shape " + std::to_string(s.channels) + "x" +
                                    std::to_string(s.height) + "x" + std::to_string(s.width) + " with " +
                                    std::to_string(s.classes) +
                                    " classes is not valid (expected positive sizes and at least 2 classes)");
}

}  // namespace

const std::vector<NamedModel>& named_models() { return kNamed; }

const std::vector<std::string>& model_names() {
    static const std::vector<std::string> names = [] {
        std::vector<std::string> n;
        for (const NamedModel& m : kNamed) n.emplace_back(m.name);
        return n;
    }();
    return names;
}

std::string model_layers(const std::string& model) {
    if (model.empty()) throw std::invalid_argument("no model given (a name such as cnn, a spec, or @FILE)");
    if (const NamedModel* m = find_named(model)) return m->layers;
    const std::string layers = model[0] == '@' ? read_spec_file(model.substr(1)) : model;
    parse_model(model, layers);
    return layers;
}

std::string model_label(const std::string& model) {
    if (find_named(model)) return model;
    if (model.empty() || model[0] != '@') return "custom";
    std::string stem = model.substr(model.find_last_of('/') == std::string::npos ? 1 : model.find_last_of('/') + 1);
    stem = stem.substr(0, stem.find('.'));
    return stem.empty() ? "custom" : stem;
}

std::unique_ptr<Module> make_model(const ModelSpec& spec, unsigned seed) {
    const std::string layers = spec.layers.empty() ? model_layers(spec.name) : spec.layers;
    const Spec parsed = parse_model(spec.name.empty() ? layers : spec.name, layers);
    check_data_shape(spec);
    std::mt19937 rng(seed);
    std::unique_ptr<Sequential> model = build_model(parsed, spec.channels, spec.height, spec.width, spec.classes, rng);
    fuse(*model);  // conv, relu, maxpool (and relu, maxpool) as one op each: layers/fused.h
    return model;
}

std::unique_ptr<Module> make_model(const std::string& model, int channels, int height, int width, int classes,
                                   unsigned seed) {
    return make_model(ModelSpec{model, channels, height, width, classes}, seed);
}

}  // namespace dl
