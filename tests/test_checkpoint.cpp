// Checkpoints: a round trip gives bit-identical outputs, and every kind of bad
// file (missing, foreign, other version, truncated anywhere, trailing bytes,
// another model or shape) fails with a message naming the file and the mismatch.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "layers/checkpoint.h"
#include "layers/layers.h"
#include "tests/gradcheck.h"

using namespace dl;
using dl::testing::random_tensor;

namespace {

std::string temp_path(const std::string& name) {
    return (std::filesystem::temp_directory_path() / ("dl_test_" + std::to_string(getpid()) + "_" + name)).string();
}

std::string read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), (std::streamsize)bytes.size());
}

Tensor eval_output(Module& m, const Tensor& x) {
    Tape t;
    NoGrad ng(t);
    m.eval();
    return t.value(m.forward(t, t.input(x)));
}

// The message of the runtime_error that f throws ("" if none).
template <class F>
std::string error_of(F f) {
    try {
        f();
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    return "";
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("checkpoint: round trip gives bit-identical outputs, buffers and extra blobs") {
    const ModelSpec spec{"cnn-bn", 1, 12, 12, 4};
    auto model = make_model(spec, 1);
    const Tensor x = random_tensor(Shape{3, 1, 12, 12}, 2);
    {
        Tape t;  // move the batch norm running statistics away from their initial values
        model->forward(t, t.input(x));
    }
    const Tensor before = eval_output(*model, x);
    const std::string path = temp_path("round.ckpt");
    const std::map<std::string, std::string> extra = {{"epoch", "7"}, {"optimizer", std::string("\0\1\2", 3)}};
    save_checkpoint(path, spec, *model, extra);
    CHECK_FALSE(std::filesystem::exists(path + ".tmp"));

    auto fresh = make_model(spec, 99);
    CHECK(eval_output(*fresh, x).vec() != before.vec());
    const Checkpoint ck = load_checkpoint(path, spec, *fresh);
    CHECK(eval_output(*fresh, x).vec() == before.vec());
    CHECK(ck.extra == extra);
    CHECK(ck.spec.name == "cnn-bn");
    CHECK(ck.spec.height == 12);
    CHECK(ck.tensors.size() == model->parameters().size() + model->buffers().size());
    for (size_t i = 0; i < fresh->buffers().size(); ++i)
        CHECK(fresh->buffers()[i]->value.vec() == model->buffers()[i]->value.vec());

    save_checkpoint(path, spec, *fresh);  // overwriting an existing checkpoint
    CHECK(read_checkpoint(path).extra.empty());
    std::remove(path.c_str());
}

TEST_CASE("checkpoint: every corrupt file gives its message") {
    std::mt19937 rng(1);
    Sequential tiny;  // small, so that cutting the file at every byte is quick
    tiny.add<Linear>(2, 3, rng);
    tiny.add<BatchNorm1d>(3);
    const std::string path = temp_path("bad.ckpt");
    save_checkpoint(path, ModelSpec{"mlp", 1, 1, 2, 3}, tiny, {{"note", "x"}});
    const std::string good = read_bytes(path);
    const std::string where = "checkpoint '" + path + "': ";

    CHECK(error_of([&] { read_checkpoint(path + ".missing"); }) ==
          "checkpoint '" + path + ".missing': cannot open the file for reading");

    write_bytes(path, "P5\n28 28\n255\n" + good);
    CHECK(error_of([&] { read_checkpoint(path); }) ==
          where + "not a checkpoint of this framework (the file starts with bytes that are not 'DLCK'); "
                  "was it written by another program?");

    std::string other_version = good;
    other_version[4] = 9;
    write_bytes(path, other_version);
    CHECK(error_of([&] { read_checkpoint(path); }) == where + "format version 9, but this program reads versions 1 to 2");

    for (size_t len = 0; len < good.size(); ++len) {
        write_bytes(path, good.substr(0, len));
        const std::string msg = error_of([&] { read_checkpoint(path); });
        INFO("truncated to " << len << " bytes: " << msg);
        CHECK(contains(msg, where + "truncated file: "));
    }
    write_bytes(path, good.substr(0, 34));
    CHECK(error_of([&] { read_checkpoint(path); }) ==
          where + "truncated file: it ends while reading the model's class count (needs 4 bytes at offset 31, 3 left)");

    write_bytes(path, good + "junk");
    CHECK(error_of([&] { read_checkpoint(path); }) == where + "4 unexpected bytes after the end marker");

    std::string no_marker = good;
    no_marker[no_marker.size() - 1] = '!';
    write_bytes(path, no_marker);
    CHECK(error_of([&] { read_checkpoint(path); }) == where + "the end marker is missing: the file is corrupt");
    std::remove(path.c_str());
}

TEST_CASE("checkpoint: loading into another model or shape names what did not match") {
    const ModelSpec spec{"mlp", 1, 4, 4, 3};
    auto model = make_model(spec, 1);
    const std::string path = temp_path("shape.ckpt");
    save_checkpoint(path, spec, *model);
    const std::string where = "checkpoint '" + path + "': ";

    const ModelSpec five{"mlp", 1, 4, 4, 5};
    auto wider = make_model(five, 1);
    CHECK(error_of([&] { load_checkpoint(path, five, *wider); }) ==
          where + "it holds model 'mlp' for 1x4x4 inputs and 3 classes, expected 'mlp' for 1x4x4 inputs and 5 classes");
    const Checkpoint ck = read_checkpoint(path);
    CHECK(error_of([&] { load_state(*wider, ck, path); }) ==
          where + "tensor '5.weight' has shape (3, 128) in the file but (5, 128) in the model");

    auto cnn = make_model("cnn", 1, 4, 4, 3, 1);
    CHECK(error_of([&] { load_state(*cnn, ck, path); }) ==
          where + "tensor 0 is '1.weight' in the file but '0.weight' in the model");

    std::mt19937 rng(1);
    Sequential small;
    small.add<Flatten>();
    small.add<Linear>(16, 256, rng);
    CHECK(error_of([&] { load_state(small, ck, path); }) ==
          where + "the file has tensor '3.weight' that the model does not have (the file has 6 tensors, the model 2)");
    Sequential large;
    large.add<Flatten>();
    large.add<Linear>(16, 256, rng);
    large.add<ReLU>();
    large.add<Linear>(256, 128, rng);
    large.add<ReLU>();
    large.add<Linear>(128, 3, rng);
    large.add<BatchNorm1d>(3);
    CHECK(error_of([&] { load_state(large, ck, path); }) ==
          where + "the model has tensor '6.weight' (3) that the file does not have (the file has 6 tensors, the model 10)");
    std::remove(path.c_str());
}

TEST_CASE("checkpoint: saving into a missing directory fails and leaves nothing behind") {
    auto model = make_model("mlp", 1, 4, 4, 3, 1);
    const std::string path = temp_path("no_such_dir") + "/model.ckpt";
    CHECK(error_of([&] { save_checkpoint(path, ModelSpec{"mlp", 1, 4, 4, 3}, *model); }) ==
          "checkpoint '" + path + "': cannot open '" + path + ".tmp' for writing");
    CHECK_FALSE(std::filesystem::exists(path));
}
