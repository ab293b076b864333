// build/export: a trained model as an ONNX file, for ONNX Runtime, OpenCV's DNN
// module, a browser or a model viewer.
//
//   build/export runs/x/best.ckpt model.onnx
//
// The file takes pixels scaled to [0, 1] as "input" (N, C, H, W) and returns
// "logits" (N, classes); the class names are in its metadata ("class_names").
// See onnx/export.h for what the graph holds.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "onnx/export.h"

using namespace dl;

int main(int argc, char** argv) {
    CLI::App app{"Writes a checkpoint's model as an ONNX file (opset 13)."};
    std::string checkpoint, out;
    app.add_option("checkpoint", checkpoint, "a checkpoint written by build/train")->required();
    app.add_option("out", out, "the ONNX file to write (replaced only once it is complete)")->required();
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    try {
        const onnx::ModelProto model = export_checkpoint(checkpoint);
        const std::string bytes = onnx::encode(model);
        write_file_atomically(out, bytes);
        std::printf("wrote %s: model '%s', %zu nodes, opset %lld, %zu bytes\n", out.c_str(), model.graph.name.c_str(),
                    model.graph.nodes.size(), static_cast<long long>(model.opset), bytes.size());
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "export: %s\n", e.what());
        return 1;
    }
}
