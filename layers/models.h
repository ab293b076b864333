// Models by name or by spec (layers/spec.h), used by every program.
//
//   --model cnn                                          a named model (the table below)
//   --model "conv 32 5 pad same, relu, maxpool 2, flatten, linear"   a spec
//   --model @net.spec                                    a spec in a file
//
// The named models are specs too (layers/models.cpp holds their text):
//
//   mlp          flatten, linear 256, relu, linear 128, relu, linear
//   cnn          conv 16 5 pad 2, relu, maxpool 2, conv 32 5 pad 2, relu, maxpool 2,
//                flatten, linear 128, relu, linear
//   cnn-bn       cnn wider (32 and 64 channels, 3x3 kernels, 256 units) with batch norm after
//                every layer but the last and dropout 0.25 before it; the layers before a
//                batch norm have no bias (it would be redundant)
//   cnn-gn       cnn-bn with group norm (8 groups per layer) in place of batch norm: each
//                example is normalised on its own, so per-example statistics stay defined
//   fmnist_2c2d  DeepOBS's test problem: two 5x5 'same' convs (32, 64) each with ReLU and
//                2x2 max pool, linear 1024, ReLU, linear; weights truncnormal 0.05, biases 0.05
//   fmnist_mlp   DeepOBS's test problem: 784-1000-500-100-classes with ReLUs; weights
//                truncnormal 0.03, biases 0
//
// The input shape and class count come from the data set, so the same spec works for
// any MNIST-like set. The seed fixes every initial value (and dropout's mask sequence):
// the same seed gives the same model.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "layers/module.h"

namespace dl {

// What a model is: what --model said, the data shape it was built for, and the
// spec text that says what it is (checkpoints store it, so that a program can
// rebuild the model before loading, whatever a name or file meant at the time).
struct ModelSpec {
    std::string name;  // a named model, a spec, or "@FILE"
    int channels = 1, height = 28, width = 28, classes = 10;
    std::string layers = {};  // the spec text (empty: model_layers(name))
};

struct NamedModel {
    const char* name;
    const char* layers;  // the spec
};

const std::vector<NamedModel>& named_models();
const std::vector<std::string>& model_names();

// The spec text `model` stands for: a named model's spec, the contents of FILE for
// "@FILE", or `model` itself. Throws for an unknown name or an unreadable file,
// and for a spec that does not parse.
std::string model_layers(const std::string& model);

// A short name for run directories: the name, FILE's stem for "@FILE", "custom" for a spec.
std::string model_label(const std::string& model);

// Throws std::invalid_argument for an unknown name (listing the known ones), a bad
// spec, or a data shape the model cannot take (naming the layer and the shapes).
std::unique_ptr<Module> make_model(const std::string& model, int channels, int height, int width, int classes,
                                   unsigned seed);
std::unique_ptr<Module> make_model(const ModelSpec& spec, unsigned seed);

}  // namespace dl
