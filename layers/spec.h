// Model specs: a network written as a short text, parsed here and built into a
// Sequential for a given input shape and class count.
//
//   conv 32 5 pad 2, relu, maxpool 2, conv 64 5 pad 2, relu, maxpool 2, flatten, linear 1024, relu, linear
//
// Grammar (layers are separated by commas; line breaks count as spaces; '#' starts
// a comment that runs to the end of the line; words may be in any case):
//
//   spec      := item { "," item }
//   item      := layer | "init" role-init { role-init }
//   layer     := "conv" CHANNELS KERNEL { "stride" N | "pad" N | "pad same" | "nobias" | role-init }
//              | "linear" [UNITS] { "nobias" | role-init }
//              | "maxpool" K [ "stride" N ] | "avgpool" K [ "stride" N ]
//              | "relu" | "leakyrelu" [SLOPE] | "tanh" | "sigmoid"
//              | "flatten" | "dropout" P | "batchnorm" | "groupnorm" G | "layernorm"
//   role-init := ( "weight" | "bias" ) init
//   init      := "default" | "zeros" | "const" V | "normal" STD | "truncnormal" STD | "uniform" A
//
// - The input shape comes from the data; each layer's output shape from its input.
// - The last layer may be a bare "linear": it then has one output per class. The
//   model must end with exactly one value per class.
// - conv's stride defaults to 1 and padding to 0; "pad same" keeps the size (odd
//   kernel, stride 1). A pool's stride defaults to its kernel.
// - "batchnorm" normalises channels of an image, or features of a flat vector, over
//   the batch; "groupnorm G" normalises each example over G groups of its channels
//   (or features), "layernorm" each example over all its values. Only batchnorm mixes
//   the examples of a batch (in training), so only it rules out per-example statistics.
// - Initialisers (layers/init.h): an "init" item sets them for the conv and linear
//   layers after it; a layer's own "weight ..." or "bias ..." overrides that. Without
//   either, PyTorch's default. Norm layers start at gamma 1, beta 0.
//
// Errors are std::invalid_argument, one line each: a syntax error names the
// position, what was found and what was expected; a layer that does not fit its
// input names the layer and the shapes.
#pragma once
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "layers/init.h"
#include "layers/sequential.h"

namespace dl {

// One layer of a spec, with its arguments (only those of its kind are used).
struct SpecLayer {
    std::string kind;      // "conv", "linear", "maxpool", "relu", ...
    std::string text;      // the item as written, for messages ("conv 32 5 pad 2")
    std::string where;     // its position, for messages ("column 12" or "line 3, column 5")
    int size = 0;          // conv: output channels; linear: outputs (0: the class count); pools: kernel;
                           // groupnorm: groups
    int kernel = 0;        // conv
    int stride = 0;        // conv, pools (0: the default)
    int pad = 0;           // conv
    bool pad_same = false; // conv
    bool bias = true;      // conv, linear
    float value = 0.0f;    // dropout: probability; leakyrelu: slope
    Init weight_init, bias_init;  // conv, linear
};

struct Spec {
    std::vector<SpecLayer> layers;
    std::string origin;  // "model spec" (or "model spec FILE"): the start of every message
};

// Parses a spec; throws std::invalid_argument on a syntax error. `origin` names
// the spec in messages.
Spec parse_spec(const std::string& text, const std::string& origin = "model spec");

// The spec written back in its plainest form: every default left out, inits on
// each layer. parse_spec(spec_string(s)) builds the same model as s.
std::string spec_string(const Spec& spec);

// Builds the layers for inputs (N, channels, height, width) and `classes` outputs,
// drawing every initial value (and dropout's seed) from rng in layer order.
// Throws std::invalid_argument naming the layer and the shapes when a layer does
// not fit its input, or the model does not end with one value per class.
std::unique_ptr<Sequential> build_model(const Spec& spec, int channels, int height, int width, int classes,
                                        std::mt19937& rng);

// Throws the tape's message when a layer mixes the examples of a batch in training
// (batchnorm), so that per-example statistics are undefined; for programs that
// know before building (and before loading data) that they need statistics.
void check_statistics_allowed(const Spec& spec);

// The layer words of the grammar, for help texts: "conv, linear, maxpool, ...".
std::string spec_layer_words();
// Which layers allow per-example statistics, for help texts.
std::string spec_statistics_note();

}  // namespace dl
