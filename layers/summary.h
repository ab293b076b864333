// A model's summary: each layer with its output shape for one example, its
// parameters, its forward FLOPs per example, and the ops it records (a fused layer,
// layers/fused.h, records one op where the fast floor fuses, two where it does not).
// build/train prints it at start; any program can:
//
//   std::printf("%s\n", summary(model, Shape{1, 28, 28}).c_str());
//
// It runs one example (zeros) through the model in eval mode, without
// gradients, and restores each layer's mode: running statistics and dropout's
// generator do not move. A Linear that learns its input size learns it here.
// FLOPs count 2 per multiply-add of conv and linear, and 1 per output value of
// every other layer (an estimate: they are a few percent of a model's work).
#pragma once
#include <string>
#include <vector>

#include "layers/module.h"

namespace dl {

struct LayerSummary {
    std::string layer;      // describe()
    Shape output;           // for one example: (C, H, W) or (F)
    size_t parameters = 0;  // learnable scalars
    double flops = 0;       // forward, one example
    std::string ops;        // the ops it records, e.g. "conv2d" or "conv2d_relu_max_pool2d"
};

// One entry per layer of a Sequential (the model itself otherwise). `example` is
// the shape of one input without the batch dimension.
std::vector<LayerSummary> summarize(Module& model, const Shape& example);

// The table, one line per layer, and the totals.
std::string summary(Module& model, const Shape& example);

}  // namespace dl
