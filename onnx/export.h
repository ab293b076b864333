// ONNX export: a trained model as a graph that other runtimes (ONNX Runtime,
// OpenCV's DNN module, a browser, a model viewer) can run.
//
//   onnx::ModelProto m = export_checkpoint("runs/x/best.ckpt");
//   write_file_atomically("model.onnx", onnx::encode(m));
//
// The graph takes what a user has, pixels scaled to [0, 1] in a float tensor
// "input" (N, C, H, W) with any batch size N, and returns "logits" (N, classes).
// The normalisation the training used is the graph's first two nodes; batch norm
// uses its running statistics; dropout is left out. Class names are in the model's
// metadata_props ("class_names", a JSON array). Opset 13 of the default domain.
//
// Each layer type is one `emit` function in export.cpp and one entry in its list
// of layer types; a layer with no ONNX form is refused with its position and name.
#pragma once
#include <string>
#include <vector>

#include "data/transform.h"
#include "layers/models.h"
#include "layers/module.h"
#include "onnx/proto.h"

namespace dl {

// What the graph needs besides the model's layers.
struct ExportInfo {
    ModelSpec spec;                        // the input (channels, height, width) and the class count
    Normalization norm;                    // what training applied to pixels in [0, 1] (empty: nothing)
    std::vector<std::string> class_names;  // (classes)
};

// `model` is switched to eval mode. Throws std::invalid_argument for a layer with
// no ONNX form, or when the model's output is not (N, classes).
onnx::ModelProto export_onnx(Module& model, const ExportInfo& info);

// Reads a checkpoint written by build/train (its model, normalisation and class
// names) and exports its model. Throws std::runtime_error for a file that is not
// such a checkpoint.
onnx::ModelProto export_checkpoint(const std::string& checkpoint_path);

// Writes `bytes` to a new temporary file beside `path`, then renames it to `path`,
// so that `path` is never left half-written; on failure the temporary file is
// removed. Throws std::runtime_error naming the path and the system's reason.
void write_file_atomically(const std::string& path, const std::string& bytes);

}  // namespace dl
