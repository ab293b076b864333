// Checkpoints: a round trip gives bit-identical outputs, and every kind of bad
// file (missing, foreign, other version, truncated anywhere, trailing bytes,
// another model or shape) fails with a message naming the file and the mismatch.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "layers/checkpoint.h"
#include "layers/layers.h"
#include "tests/checkpoint_edit.h"
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

// The message of any std::exception that f throws ("" if none).
template <class F>
std::string error_of_any(F f) {
    try {
        f();
    } catch (const std::exception& e) {
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
    CHECK(ck.tensors.size() == model->parameters().size());  // buffers are module state (Module::state_fields)
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
    CHECK(error_of([&] { read_checkpoint(std::filesystem::temp_directory_path().string()); })
              .find("(it is a directory)") != std::string::npos);

    write_bytes(path, "P5\n28 28\n255\n" + good);
    CHECK(error_of([&] { read_checkpoint(path); }) ==
          where + "not a checkpoint of this framework (the file starts with bytes that are not 'DLCK'); "
                  "was it written by another program?");

    std::string other_version = good;
    other_version[4] = 9;
    write_bytes(path, other_version);
    CHECK(error_of([&] { read_checkpoint(path); }) ==
          where + "format version 9, but this program reads version 4 (written by a newer build?)");
    for (char old : {1, 2, 3}) {
        other_version[4] = old;
        write_bytes(path, other_version);
        CHECK(error_of([&] { read_checkpoint(path); }) ==
              where + "format version " + std::to_string(old) + ", written by an older build; this program reads "
                      "version 4: train again (or load it with the older build)");
    }

    for (size_t len = 0; len < good.size(); ++len) {
        write_bytes(path, good.substr(0, len));
        const std::string msg = error_of([&] { read_checkpoint(path); });
        INFO("truncated to " << len << " bytes: " << msg);
        CHECK(contains(msg, where + "truncated file: "));
    }
    // magic 4, version 4, count 4, then the model record: name length 4, "model" 5, payload length 8, payload.
    write_bytes(path, good.substr(0, 30));
    CHECK(error_of([&] { read_checkpoint(path); }) ==
          where + "truncated file: it ends while reading record 'model' (needs 121 bytes at offset 29, 1 left)");

    write_bytes(path, good + "junk");
    CHECK(error_of([&] { read_checkpoint(path); }) == where + "4 unexpected bytes after the end marker");

    std::string bad_sum = good;
    bad_sum[bad_sum.size() - 1] ^= 0x10;
    write_bytes(path, bad_sum);
    CHECK(error_of([&] { read_checkpoint(path); }) ==
          where + "damaged file: its checksum does not match (every record checks, so the header or the checksum "
                  "itself was changed)");
    std::remove(path.c_str());
}

TEST_CASE("checkpoint: a flipped bit anywhere is found, and a damaged record is named") {
    std::mt19937 rng(1);
    Sequential tiny;
    tiny.add<Linear>(2, 3, rng);
    tiny.add<BatchNorm1d>(3);
    const std::string path = temp_path("flip.ckpt");
    save_checkpoint(path, ModelSpec{"mlp", 1, 1, 2, 3}, tiny, {{"note", "ab"}}, DataInfo{{"x", "y", "z"}, {0.5f}, {0.2f}});
    const std::string good = read_bytes(path);
    for (size_t at = 0; at < good.size(); ++at)
        for (int bit : {0, 7}) {
            std::string bad = good;
            bad[at] = static_cast<char>(bad[at] ^ (1 << bit));
            write_bytes(path, bad);
            const std::string msg = error_of([&] { read_checkpoint(path); });
            INFO("bit " << bit << " of byte " << at << ": " << msg);
            CHECK(contains(msg, "checkpoint '" + path + "': "));
        }
    // A changed value names its record.
    for (const auto& record : dl::testing::checkpoint_records(good)) {
        std::string bad = good;
        if (record.size == 0) continue;
        bad[record.payload + record.size - 1] ^= 0x01;
        write_bytes(path, bad);
        const std::string msg = error_of([&] { read_checkpoint(path); });
        INFO(msg);
        CHECK(contains(msg, "record '" + record.name + "' (record "));
        CHECK(contains(msg, "is damaged: its checksum does not match"));
    }
    std::remove(path.c_str());
}

TEST_CASE("checkpoint: NaN or infinity is refused on save and on load, naming the tensor") {
    std::mt19937 rng(1);
    Sequential tiny;
    tiny.add<Linear>(2, 3, rng);
    const ModelSpec spec{"mlp", 1, 1, 2, 3};
    const std::string path = temp_path("nan.ckpt");
    save_checkpoint(path, spec, tiny);
    const std::string good = read_bytes(path);

    write_bytes(path, dl::testing::set_tensor_value(good, "0.weight", 4, std::nanf("")));
    CHECK(error_of([&] { read_checkpoint(path); }) ==
          "checkpoint '" + path + "': tensor '0.weight' (3, 2) holds NaN at element 4; the model is damaged "
          "(a diverged run, or a corrupted file)");
    write_bytes(path, dl::testing::set_tensor_value(good, "0.bias", 1, -INFINITY));
    CHECK(contains(error_of([&] { read_checkpoint(path); }), "tensor '0.bias' (3) holds infinity at element 1"));

    // Saving a damaged model fails and leaves the previous file as it was.
    write_bytes(path, good);
    tiny.parameters()[0]->value[2] = std::nanf("");
    CHECK(error_of([&] { save_checkpoint(path, spec, tiny); }) ==
          "checkpoint '" + path + "': not saved: tensor '0.weight' (3, 2) holds NaN at element 2; the model is "
          "damaged (a diverged run, or a corrupted file)");
    CHECK(read_bytes(path) == good);
    CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
    std::remove(path.c_str());
}

TEST_CASE("checkpoint: names read from a file print without control characters") {
    CHECK(printable("0.weight") == "0.weight");
    CHECK(printable(std::string("a\x04" "b\nc\td\x7f", 8)) == "a\\x04b\\nc\\td\\x7F");
    std::mt19937 rng(1);
    Sequential tiny;
    tiny.add<Linear>(2, 3, rng);
    const std::string path = temp_path("names.ckpt");
    save_checkpoint(path, ModelSpec{"mlp", 1, 1, 2, 3}, tiny);
    const std::string good = read_bytes(path);
    // A record named with a control character, checksums intact: the message shows it escaped.
    std::string renamed = good;
    const auto records = dl::testing::checkpoint_records(good);
    renamed[records[1].start + 4 + 7] = '\x04';  // "tensor/0.weight" -> "tensor/\x04.weight"
    renamed = dl::testing::edit_record(renamed, "", [](std::string p) { return p; });
    write_bytes(path, renamed);
    Checkpoint ck = read_checkpoint(path);
    Sequential same;
    same.add<Linear>(2, 3, rng);
    CHECK(error_of([&] { load_state(same, ck, path); }) ==
          "checkpoint '" + path + "': tensor 0 is '\\x04.weight' in the file but '0.weight' in the model");
    for (const char* reserved : {"tensor/x", "model", "class_names", "normalization", ""})
        CHECK_THROWS_AS(save_checkpoint(path, ModelSpec{"mlp", 1, 1, 2, 3}, tiny, {{reserved, ""}}), std::invalid_argument);
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
          where + "the model has tensor '6.weight' (3) that the file does not have (the file has 6 tensors, the model 8)");
    std::remove(path.c_str());
}

TEST_CASE("checkpoint: saving into a missing directory fails and leaves nothing behind") {
    auto model = make_model("mlp", 1, 4, 4, 3, 1);
    const std::string path = temp_path("no_such_dir") + "/model.ckpt";
    CHECK(error_of([&] { save_checkpoint(path, ModelSpec{"mlp", 1, 4, 4, 3}, *model); }) ==
          "checkpoint '" + path + "': cannot open '" + path + ".tmp' for writing: No such file or directory; "
          "the previous checkpoint, if any, is unchanged");
    CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("checkpoint: class names and normalisation are kept, and checked against the model on save and load") {
    std::mt19937 rng(1);
    Sequential tiny;
    tiny.add<Linear>(2, 3, rng);
    const ModelSpec spec{"mlp", 1, 1, 2, 3};
    const std::string path = temp_path("data.ckpt");
    const DataInfo data{{"cat", "dog\nfish", "bird"}, {0.25f}, {0.5f}};
    save_checkpoint(path, spec, tiny, {}, data);
    const Checkpoint ck = read_checkpoint(path);
    CHECK(ck.data.class_names == data.class_names);
    CHECK(ck.data.mean == data.mean);
    CHECK(ck.data.std == data.std);
    CHECK(ck.extra.empty());
    save_checkpoint(path, spec, tiny);
    CHECK(read_checkpoint(path).data.empty());

    const std::string where = "checkpoint '" + path + "': not saved: ";
    auto refused = [&](const DataInfo& bad) { return error_of_any([&] { save_checkpoint(path, spec, tiny, {}, bad); }); };
    CHECK(refused(DataInfo{{"a", "b"}, {0.2f}, {0.3f}}) == where + "2 class names for a model of 3 classes");
    CHECK(refused(DataInfo{{"a", "", "c"}, {0.2f}, {0.3f}}) == where + "class 1 has an empty name");
    CHECK(refused(DataInfo{{"a", "b", "c"}, {}, {}}) == where + "the normalisation is empty");
    CHECK(refused(DataInfo{{"a", "b", "c"}, {0.2f, 0.1f}, {0.3f, 0.3f}}) ==
          where + "the normalisation has 2 means and 2 standard deviations for a model of 1 channels");
    CHECK(refused(DataInfo{{"a", "b", "c"}, {0.2f}, {0.0f}}) ==
          where + "the normalisation holds mean 0.200000 and std 0.000000 for channel 0 (expected finite values, std > 0)");

    // Records edited behind valid checksums are refused on load, naming what is wrong.
    save_checkpoint(path, spec, tiny, {}, data);
    const std::string good = read_bytes(path);
    write_bytes(path, dl::testing::edit_record(good, "normalization", [](std::string) { return std::string(4, '\0'); }));
    CHECK(error_of([&] { read_checkpoint(path); }) == "checkpoint '" + path + "': the 'normalization' record is empty");
    write_bytes(path, dl::testing::edit_record(good, "class_names", [](std::string) { return encode_strings({"a"}); }));
    CHECK(error_of([&] { read_checkpoint(path); }) == "checkpoint '" + path + "': 1 class names for a model of 3 classes");
    write_bytes(path, dl::testing::edit_record(good, "class_names", [](std::string p) { return p.substr(0, 9); }));
    CHECK(error_of([&] { read_checkpoint(path); }) ==
          "checkpoint '" + path + "': the 'class_names' record is cut short");
    std::remove(path.c_str());
}

TEST_CASE("checkpoint: layers keep their state through Module::state_fields (batch norm statistics, dropout's generator)") {
    const ModelSpec spec{"cnn-bn", 1, 8, 8, 3};
    auto model = make_model(spec, 1);
    const Tensor x = random_tensor(Shape{4, 1, 8, 8}, 3);
    Tape t;
    model->train();
    model->forward(t, t.input(x));  // moves the running statistics and dropout's generator
    const std::string path = temp_path("state.ckpt");
    save_checkpoint(path, spec, *model);
    auto fresh = make_model(spec, 2);
    load_checkpoint(path, spec, *fresh);
    // The same next training forward: same batch statistics and the same dropout mask.
    Tape a, b;
    fresh->train();
    const Tensor ya = a.value(model->forward(a, a.input(x)));
    const Tensor yb = b.value(fresh->forward(b, b.input(x)));
    CHECK(ya.vec() == yb.vec());
    for (size_t i = 0; i < model->buffers().size(); ++i)
        CHECK(fresh->buffers()[i]->value.vec() == model->buffers()[i]->value.vec());
    // State fields are named like the parameters, by the layer's place as added (before fusing).
    Fields names = Fields::writer();
    model->state_fields(names);
    const Fields listed = Fields::reader(names.bytes(), "state");
    for (const char* name : {"1.running_mean", "5.running_var", "10.running_mean", "12.rng"}) CHECK(listed.has(name));
    CHECK(model->parameters().back()->name == "13.bias");

    // Module state that does not fit the model is refused, and the model keeps its own.
    Checkpoint ck = read_checkpoint(path);
    Fields f = Fields::writer();
    std::uint64_t rng = 5;
    f("9.rng", rng);
    ck.module_state = f.bytes();
    auto other = make_model(spec, 3);
    const std::string before = [&] {
        Fields w = Fields::writer();
        other->state_fields(w);
        return w.bytes();
    }();
    CHECK(error_of([&] { load_state(*other, ck, path); }) ==
          "checkpoint '" + path + "': the module state: field '1.running_mean' is missing");
    Fields after = Fields::writer();
    other->state_fields(after);
    CHECK(after.bytes() == before);
    std::remove(path.c_str());
}
