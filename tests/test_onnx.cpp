// ONNX export: the protobuf encoder byte for byte, the graphs the exporter builds,
// its errors, and the end-to-end check by runtimes nobody here wrote: the onnx
// package's parser and checker, and OpenCV's DNN module running the exported files
// on test images with build/predict's logits as the reference (tests/test_onnx.py).
// The Python checks are skipped, with a message, when python3-onnx or
// python3-opencv is missing (make deps installs them).
#include <doctest/doctest.h>
#include <stb/stb_image_write.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "data/data.h"
#include "layers/checkpoint.h"
#include "layers/layers.h"
#include "onnx/export.h"
#include "onnx/protobuf.h"
#include "tests/run_program.h"

using namespace dl;
using dl::testing::ProgramResult;
using dl::testing::read_text;
using dl::testing::run_program;
using dl::testing::TempDir;

namespace {

std::string hex(const std::string& bytes) {
    std::string out;
    char b[4];
    for (unsigned char c : bytes) {
        std::snprintf(b, sizeof b, "%02x ", c);
        out += b;
    }
    if (!out.empty()) out.pop_back();
    return out;
}

std::string varint(std::uint64_t v) {
    std::string s;
    onnx::ProtoWriter::put_varint(s, v);
    return hex(s);
}

// Runs tests/test_onnx.py with Debian's Python (not a virtual environment's) and
// checks that it passed; it exits 77 when the onnx or cv2 module is missing.
void check_with_python(const std::string& args, const std::string& scratch) {
    ProgramResult r = run_program("/usr/bin/python3 tests/test_onnx.py " + args, scratch);
    MESSAGE(r.out);
    INFO(r.err);
    CHECK((r.status == 0 || r.status == 77));
}

std::vector<std::string> class_names(int n) {
    std::vector<std::string> names;
    for (int c = 0; c < n; ++c) names.push_back("class " + std::to_string(c));
    return names;
}

ExportInfo info_for(const std::string& model, int channels = 1, int size = 28, int classes = 10) {
    ExportInfo info;
    info.spec = ModelSpec{model, channels, size, size, classes};
    info.norm.mean.assign(channels, 0.25f);
    info.norm.std.assign(channels, 0.5f);
    info.class_names = class_names(classes);
    return info;
}

std::vector<std::string> op_types(const onnx::ModelProto& m) {
    std::vector<std::string> ops;
    for (const onnx::NodeProto& n : m.graph.nodes) ops.push_back(n.op_type);
    return ops;
}

// A checkpoint as build/train writes it (with its normalisation and class names).
void save_trained_like(const std::string& path, const std::string& model) {
    const ModelSpec spec{model, 1, 28, 28, 10};
    auto m = make_model(spec, 7);
    DataInfo data;
    data.class_names = class_names(10);
    data.mean = {0.286f};
    data.std = {0.353f};
    save_checkpoint(path, spec, *m, {}, data);
}

std::vector<std::string> files_in(const std::string& dir) {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

}  // namespace

// The examples of https://protobuf.dev/programming-guides/encoding/ and the edge cases of varints.
TEST_CASE("protobuf: varints, fixed32 floats and length-delimited fields as the encoding guide gives them") {
    CHECK(varint(0) == "00");
    CHECK(varint(1) == "01");
    CHECK(varint(127) == "7f");
    CHECK(varint(128) == "80 01");
    CHECK(varint(150) == "96 01");
    CHECK(varint(300) == "ac 02");
    CHECK(varint(1ull << 32) == "80 80 80 80 10");
    CHECK(varint(~0ull) == "ff ff ff ff ff ff ff ff ff 01");

    onnx::ProtoWriter a;
    a.int_field(1, 150);
    CHECK(hex(a.bytes()) == "08 96 01");
    onnx::ProtoWriter b;
    b.bytes_field(2, "testing");
    CHECK(hex(b.bytes()) == "12 07 74 65 73 74 69 6e 67");
    onnx::ProtoWriter c;  // a nested message is its bytes as a length-delimited field
    c.bytes_field(3, a.bytes());
    CHECK(hex(c.bytes()) == "1a 03 08 96 01");
    onnx::ProtoWriter d;  // int32 and int64: a negative number is sign-extended to ten bytes
    d.int_field(1, -1);
    d.int_field(16, -2);  // field 16 needs a two-byte key
    CHECK(hex(d.bytes()) == "08 ff ff ff ff ff ff ff ff ff 01 80 01 fe ff ff ff ff ff ff ff ff 01");
    onnx::ProtoWriter e;
    e.float_field(2, 1.0f);
    e.float_field(2, -2.5f);
    CHECK(hex(e.bytes()) == "15 00 00 80 3f 15 00 00 20 c0");
    onnx::ProtoWriter f;
    f.bytes_field(1, std::string(200, 'x'));  // a length of two varint bytes
    CHECK(hex(f.bytes().substr(0, 3)) == "0a c8 01");
    CHECK(f.bytes().size() == 203);
    onnx::ProtoWriter g;
    CHECK_THROWS_WITH_AS(g.int_field(0, 1), "protobuf: field number 0 is outside [1, 2^29)", std::invalid_argument);
}

TEST_CASE("onnx: tensors are little-endian raw bytes; each attribute type writes its own field") {
    const float v[2] = {1.0f, -2.0f};
    const onnx::TensorProto t = onnx::float_tensor("w", {2}, v);
    CHECK(hex(t.raw_data) == "00 00 80 3f 00 00 00 c0");
    CHECK(hex(onnx::encode(t)) == "08 02 10 01 42 01 77 4a 08 00 00 80 3f 00 00 00 c0");
    const onnx::TensorProto s = onnx::int64_tensor("s", {0, -1});
    CHECK(hex(s.raw_data) == "00 00 00 00 00 00 00 00 ff ff ff ff ff ff ff ff");
    CHECK(s.data_type == onnx::kInt64);
    // name (1), the value's field (i = 3, floats = 7), type (20 -> key a0 01)
    CHECK(hex(onnx::encode(onnx::attr_int("k", 2))) == "0a 01 6b 18 02 a0 01 02");
    CHECK(hex(onnx::encode(onnx::attr_floats("k", {0.5f}))) == "0a 01 6b 3d 00 00 00 3f a0 01 06");
}

// Every message and attribute type, parsed by the onnx package and compared with the
// same model built by onnx.helper (tests/test_onnx.py kitchen_sink).
TEST_CASE("onnx: every message and attribute type parses into the model the onnx package builds") {
    onnx::ModelProto m;
    m.producer_name = "dl";
    m.doc_string = "doc";
    onnx::GraphProto& g = m.graph;
    g.name = "g";
    onnx::NodeProto n;
    n.name = "n0";
    n.op_type = "Custom";
    n.inputs = {"x", "w"};
    n.outputs = {"y"};
    n.attributes = {onnx::attr_float("f", 0.5f),
                    onnx::attr_floats("floats", {1.5f, -2.25f}),
                    onnx::attr_int("i", -3),
                    onnx::attr_ints("ints", {1, -1, 300}),
                    onnx::attr_string("s", "h\xc3\xa9llo"),
                    onnx::attr_strings("strings", {"a", ""}),
                    onnx::attr_tensor("t", onnx::int64_tensor("t", {7, -8}))};
    g.nodes.push_back(n);
    const float w[6] = {-2.5f, -1.5f, -0.5f, 0.5f, 1.5f, 2.5f};
    const std::vector<float> big(40, 1e-3f);
    g.initializers = {onnx::float_tensor("w", {2, 3}, w), onnx::float_tensor("big", {40}, big.data()),
                      onnx::int64_tensor("shape", {0, -1})};
    g.inputs = {{"x", onnx::kFloat, {{0, "N"}, {3, ""}}}};
    g.outputs = {{"y", onnx::kFloat, {{0, "N"}, {2, ""}}}};
    m.metadata_props = {{"class_names", "[\"a\", \"b\"]"}, {"model", "m"}};
    TempDir tmp;
    write_file_atomically(tmp / "all.onnx", onnx::encode(m));
    check_with_python("encoder " + (tmp / "all.onnx"), tmp.str());
}

TEST_CASE("export: mlp, cnn and cnn-bn become chains of standard ops; dropout is left out") {
    using Ops = std::vector<std::string>;
    auto mlp = make_model("mlp", 1, 28, 28, 10, 1);
    const onnx::ModelProto a = export_onnx(*mlp, info_for("mlp"));
    CHECK(op_types(a) == Ops{"Sub", "Div", "Flatten", "Gemm", "Relu", "Gemm", "Relu", "Gemm"});
    CHECK(a.opset == 13);
    CHECK(a.graph.initializers.size() == 2 + 6);  // mean, std, three weights and biases
    CHECK(a.graph.nodes.back().outputs == std::vector<std::string>{"logits"});
    CHECK(a.graph.nodes.front().inputs == std::vector<std::string>{"input", "normalize.mean"});
    REQUIRE(a.graph.inputs.size() == 1);
    CHECK(a.graph.inputs[0].shape[0].param == "N");
    CHECK(a.graph.inputs[0].shape[1].value == 1);
    CHECK(a.graph.outputs[0].shape[1].value == 10);
    CHECK(a.metadata_props[0].first == "class_names");
    CHECK(a.metadata_props[0].second.rfind("[\"class 0\", \"class 1\", ", 0) == 0);

    auto cnn = make_model("cnn", 3, 32, 32, 4, 1);
    const onnx::ModelProto b = export_onnx(*cnn, info_for("cnn", 3, 32, 4));
    CHECK(op_types(b) ==
          Ops{"Sub", "Div", "Conv", "Relu", "MaxPool", "Conv", "Relu", "MaxPool", "Flatten", "Gemm", "Relu", "Gemm"});
    CHECK(b.graph.initializers[0].dims == std::vector<std::int64_t>{3, 1, 1});
    const onnx::NodeProto& conv = b.graph.nodes[2];
    CHECK(conv.inputs == std::vector<std::string>{"normalize.Div", "0.weight", "0.bias"});
    REQUIRE(conv.attributes.size() == 3);
    CHECK(conv.attributes[0].ints == std::vector<std::int64_t>{5, 5});
    CHECK(conv.attributes[1].ints == std::vector<std::int64_t>{2, 2, 2, 2});

    auto bn = make_model("cnn-bn", 1, 28, 28, 10, 1);
    const onnx::ModelProto c = export_onnx(*bn, info_for("cnn-bn"));
    CHECK(op_types(c) == Ops{"Sub", "Div", "Conv", "BatchNormalization", "Relu", "MaxPool", "Conv",
                             "BatchNormalization", "Relu", "MaxPool", "Flatten", "Gemm", "BatchNormalization", "Relu",
                             "Gemm"});
    const onnx::NodeProto& norm = c.graph.nodes[3];
    CHECK(norm.inputs == std::vector<std::string>{"0.Conv", "1.weight", "1.bias", "1.running_mean", "1.running_var"});
    CHECK(norm.attributes[0].name == "epsilon");
    CHECK(norm.attributes[0].f == 1e-5f);
    CHECK(c.graph.nodes[2].inputs.size() == 2);  // the convolution before a batch norm has no bias

    ExportInfo plain = info_for("mlp");
    plain.norm = {};  // trained on pixel / 255: nothing to undo
    CHECK(op_types(export_onnx(*mlp, plain)).front() == "Flatten");
}

namespace {
struct Square : Module {
    Var forward(Tape&, Var x) override { return x; }
    std::string describe() const override { return "Square"; }
};
}  // namespace

TEST_CASE("export: a layer with no ONNX form, or a model that does not fit its data, is refused") {
    Sequential m;
    std::mt19937 rng(1);
    m.add<Flatten>();
    m.add<Linear>(784, 10, rng);
    m.add<Square>();
    CHECK_THROWS_WITH_AS(export_onnx(m, info_for("custom")),
                         doctest::Contains("export_onnx: layer 2, Square, has no ONNX form (layers with one: Linear"),
                         std::invalid_argument);
    auto mlp = make_model("mlp", 1, 28, 28, 10, 1);
    CHECK_THROWS_WITH_AS(export_onnx(*mlp, info_for("mlp", 1, 28, 7)),
                         "export_onnx: the model's output for one image is (1, 10), expected (1, 7) logits",
                         std::invalid_argument);
    ExportInfo names = info_for("mlp");
    names.class_names.pop_back();
    CHECK_THROWS_WITH_AS(export_onnx(*mlp, names), "export_onnx: 9 class names for 10 classes", std::invalid_argument);
    ExportInfo norm = info_for("mlp");
    norm.norm.std = {0.0f};
    CHECK_THROWS_WITH_AS(export_onnx(*mlp, norm), doctest::Contains("std of channel 0 is 0"), std::invalid_argument);
}

TEST_CASE("export: files are written whole or not at all") {
    TempDir tmp;
    const std::string path = tmp / "m.onnx";
    write_file_atomically(path, "first version");
    write_file_atomically(path, "second");
    CHECK(read_text(path) == "second");
    struct stat st;
    REQUIRE(stat(path.c_str(), &st) == 0);
    const mode_t mask = umask(0);
    umask(mask);
    CHECK((st.st_mode & 0777) == (0666 & ~mask));  // not mkstemp's private 0600
    CHECK_THROWS_WITH_AS(write_file_atomically(tmp / "no/such/dir/m.onnx", "x"),
                         doctest::Contains("/no/such/dir/m.onnx': cannot create a temporary file beside it (No such "
                                           "file or directory)"),
                         std::runtime_error);
    std::filesystem::create_directory(tmp / "dir");
    CHECK_THROWS_WITH_AS(write_file_atomically(tmp / "dir", "x"), doctest::Contains("Is a directory"), std::runtime_error);
    CHECK(files_in(tmp.str()) == std::vector<std::string>{"dir", "m.onnx"});  // no temporary file left
}

TEST_CASE("export: bad input gets one clear line, a non-zero exit, and leaves no file behind") {
    TempDir tmp;
    const std::string dir = tmp / "work";
    std::filesystem::create_directory(dir);
    save_trained_like(dir + "/good.ckpt", "cnn");
    std::ofstream(dir + "/junk.ckpt") << "this is not a checkpoint";
    const std::string good = read_text(dir + "/good.ckpt");
    std::ofstream(dir + "/cut.ckpt", std::ios::binary) << good.substr(0, good.size() / 2);
    std::ofstream(dir + "/old.onnx") << "an earlier export";
    std::filesystem::create_directory(dir + "/sub");
    const std::vector<std::string> before = files_in(dir);

    struct Case {
        std::string args, message;
    };
    const std::vector<Case> cases = {
        // What is wrong with a checkpoint is layers/checkpoint's to say (tests/test_checkpoint.cpp);
        // here: the message names the file.
        {"junk.ckpt out.onnx", "checkpoint '" + dir + "/junk.ckpt': "},
        {"cut.ckpt out.onnx", "checkpoint '" + dir + "/cut.ckpt': "},
        {"missing.ckpt out.onnx", "checkpoint '" + dir + "/missing.ckpt': "},
        {"junk.ckpt old.onnx", "checkpoint '" + dir + "/junk.ckpt': "},  // the earlier file stays as it was
        {"good.ckpt no/such/dir/m.onnx", "cannot write '" + dir + "/no/such/dir/m.onnx': cannot create a temporary"},
        {"good.ckpt sub", "cannot write '" + dir + "/sub': cannot rename"},
    };
    for (const Case& c : cases) {
        std::string cmd = "build/export";
        std::istringstream words(c.args);
        for (std::string w; words >> w;) cmd += " " + dir + "/" + w;
        ProgramResult r = run_program(cmd, tmp.str());
        INFO(c.args, ": ", r.err);
        CHECK(r.status == 1);
        CHECK(r.err.rfind("export: ", 0) == 0);
        CHECK(r.err.find(c.message) != std::string::npos);
        CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
        CHECK(files_in(dir) == before);
    }
    CHECK(read_text(dir + "/old.onnx") == "an earlier export");
    ProgramResult usage = run_program("build/export " + dir + "/good.ckpt", tmp.str());
    CHECK(usage.status != 0);
    CHECK(usage.err.find("out is required") != std::string::npos);
    ProgramResult ok = run_program("build/export " + dir + "/good.ckpt " + dir + "/new.onnx", tmp.str());
    INFO(ok.err);
    CHECK(ok.status == 0);
    CHECK(ok.out.find("wrote " + dir + "/new.onnx: model 'cnn', 12 nodes, opset 13") == 0);
}

// A model with every layer type the exporter knows, its parameters and running
// statistics moved away from their initial values, checked in OpenCV against our
// own forward pass on random images (no checkpoint or build/predict needed).
TEST_CASE("export: every layer type, fused layers, group and layer norm give our logits in OpenCV") {
    std::mt19937 rng(11);
    Sequential m;
    m.add<Conv2d>(1, 8, 3, 1, 1, rng);  // 16x16
    m.add<GroupNorm>(2, 8);
    m.add<ReLU>();
    m.add<MaxPool2d>(2);  // with the ReLU: a ReluMaxPool after fuse(), 8x8
    m.add<Conv2d>(8, 8, 3, 1, 1, rng);
    m.add<ReLU>();
    m.add<MaxPool2d>(2);  // a ConvReluMaxPool after fuse(), 4x4
    m.add<BatchNorm2d>(8);
    m.add<LayerNorm>(Shape{8, 4, 4});
    m.add<AvgPool2d>(2);  // 2x2
    m.add<LeakyReLU>(0.1f);
    m.add<Flatten>();
    m.add<Linear>(32, 16, rng);
    m.add<GroupNorm>(4, 16);
    m.add<Tanh>();
    m.add<Dropout>(0.5f, 7);
    m.add<LayerNorm>(16);
    m.add<BatchNorm1d>(16);
    m.add<Sigmoid>();
    m.add<Linear>(16, 3, rng);
    REQUIRE(fuse(m) == 2);
    std::normal_distribution<float> noise(0.0f, 0.3f);
    for (Parameter* p : m.parameters())
        for (float& v : p->value.vec()) v += noise(rng);
    for (Buffer* b : m.buffers())
        for (float& v : b->value.vec())
            v = b->name.find("running_var") != std::string::npos ? 0.5f + std::abs(noise(rng)) : noise(rng);

    const ExportInfo info = info_for("every-layer", 1, 16, 3);
    const onnx::ModelProto model = export_onnx(m, info);
    std::vector<std::string> ops = op_types(model);
    std::sort(ops.begin(), ops.end());
    ops.erase(std::unique(ops.begin(), ops.end()), ops.end());
    CHECK(ops == std::vector<std::string>{"Add", "AveragePool", "BatchNormalization", "Conv", "Div", "Flatten", "Gemm",
                                          "InstanceNormalization", "LeakyRelu", "MaxPool", "Mul", "Relu", "Reshape",
                                          "Sigmoid", "Sub", "Tanh"});
    TempDir tmp;
    write_file_atomically(tmp / "every.onnx", onnx::encode(model));

    // 20 random images as PNG files, and our logits for them in build/predict --logits's format.
    const int n = 20, plane = 16 * 16;
    std::vector<unsigned char> pixels(n * plane);
    for (unsigned char& p : pixels) p = static_cast<unsigned char>(rng() % 256);
    Tensor x(Shape{n, 1, 16, 16});
    for (int k = 0; k < n * plane; ++k) x[k] = (pixels[k] / 255.0f - info.norm.mean[0]) / info.norm.std[0];
    Tape tape;
    NoGrad no_grad(tape);
    const Tensor& logits = tape.value(m.forward(tape, tape.input(x)));
    std::ofstream out(tmp / "every.logits");
    for (int i = 0; i < n; ++i) {
        const std::string path = tmp / ("image-" + std::to_string(i) + ".png");
        REQUIRE(stbi_write_png(path.c_str(), 16, 16, 1, &pixels[i * plane], 16) != 0);
        out << path << ":";
        char v[32];
        for (int c = 0; c < 3; ++c) {
            std::snprintf(v, sizeof v, " %.9g", logits[i * 3 + c]);
            out << v;
        }
        out << "\n";
    }
    out.close();
    check_with_python("models " + (tmp / "every.onnx") + " " + (tmp / "every.logits"), tmp.str());
}

namespace {

// The first n Fashion-MNIST test images as PNG files in dir.
std::vector<std::string> write_test_images(const std::string& dir, int n) {
    const Dataset test = load_mnist_dir(default_data_dir(), false);
    std::vector<std::string> paths;
    for (int i = 0; i < n; ++i) {
        paths.push_back(dir + "/test-" + std::to_string(i) + ".png");
        REQUIRE(stbi_write_png(paths.back().c_str(), test.width, test.height, 1, test.image(i), test.width) != 0);
    }
    return paths;
}

// Trains briefly with `train_args` into dir/name, exports dir/name.onnx and writes
// build/predict's logits of `images` to dir/name.logits. Returns the two paths as
// arguments for tests/test_onnx.py.
std::string train_export_predict(const std::string& dir, const std::string& name, const std::string& train_args,
                                 const std::vector<std::string>& images) {
    const std::string run = dir + "/" + name, ckpt = run + "/model.ckpt";
    ProgramResult t = run_program("build/train " + train_args + " --threads 2 --seed 3 --out " + run, dir);
    INFO(name, ": ", t.err);
    REQUIRE((t.status == 0 || t.status == 130));  // 130: stopped by --max-steps, as if interrupted
    ProgramResult e = run_program("build/export " + ckpt + " " + run + ".onnx", dir);
    INFO(e.err);
    REQUIRE(e.status == 0);
    std::string cmd = "build/predict " + ckpt + " --logits";
    for (const std::string& p : images) cmd += " " + p;
    ProgramResult p = run_program(cmd, dir);
    INFO(p.err);
    REQUIRE(p.status == 0);
    std::ofstream(run + ".logits") << p.out;
    return " " + run + ".onnx " + run + ".logits";
}

}  // namespace

TEST_CASE("export: the onnx checker accepts the named models and specs, and OpenCV gives build/predict's logits") {
    TempDir tmp;
    const std::vector<std::string> images = write_test_images(tmp.str(), 100);
    // A few steps each (not an epoch): enough to move every weight and batch norm's running statistics.
    const std::string few = "--limit 2000 --max-steps 30 --batch-size 32 --optimizer adam --lr 0.002 ";
    const std::pair<const char*, const char*> models[] = {
        {"mlp", "mlp"},
        {"cnn", "cnn"},
        {"cnn-bn", "cnn-bn"},
        {"cnn-gn", "cnn-gn"},
        {"spec1", "'conv 8 3 stride 2 pad 1, layernorm, relu, conv 16 5 pad 2, groupnorm 4, relu, avgpool 2, "
                  "flatten, dropout 0.3, linear 32, relu, linear'"},
        {"spec2", "'conv 12 7 pad same nobias, batchnorm, relu, maxpool 2, conv 6 1, relu, flatten, linear'"},
    };
    std::string args;
    for (const auto& [name, model] : models)
        args += train_export_predict(tmp.str(), name, few + "--model " + model, images);
    check_with_python("models" + args, tmp.str());
}

TEST_CASE("export: a colour model takes RGB planes in [0, 1] like build/predict") {
    TempDir tmp;
    // Three classes of 28x28 colour pictures: a red, green or blue square on noise.
    const std::string root = tmp / "pictures";
    std::mt19937 rng(4);
    std::vector<std::string> images;
    for (int c = 0; c < 3; ++c) {
        const std::string cls = root + "/" + std::string(1, "rgb"[c]);
        std::filesystem::create_directories(cls);
        for (int i = 0; i < 20; ++i) {
            std::vector<unsigned char> px(28 * 28 * 3);
            for (unsigned char& v : px) v = static_cast<unsigned char>(rng() % 120);
            const int x0 = static_cast<int>(rng() % 14), y0 = static_cast<int>(rng() % 14);
            for (int y = y0; y < y0 + 12; ++y)
                for (int x = x0; x < x0 + 12; ++x) px[(y * 28 + x) * 3 + c] = 240;
            const std::string f = cls + "/" + std::to_string(i) + ".png";
            REQUIRE(stbi_write_png(f.c_str(), 28, 28, 3, px.data(), 28 * 3) != 0);
            if (i < 10) images.push_back(f);
        }
    }
    const std::string args = train_export_predict(
        tmp.str(), "rgb", "--images " + root + " --rgb --image-size 28 --model cnn-bn --max-steps 12 --batch-size 8",
        images);
    check_with_python("models" + args, tmp.str());
}
