// Hostile input to the programs, each made by the test itself: crafted IDX
// headers, damaged checkpoints (flipped bytes, NaN and infinity with valid
// checksums, empty or NaN normalisation), data of another task, options that
// do nothing, image folders with broken files. Each gets one clear line on
// stderr and a non-zero exit, and leaves what was saved before as it was.
#include <doctest/doctest.h>
#include <stb/stb_image_write.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <vector>

#include "apps/common/report.h"
#include "tests/checkpoint_edit.h"
#include "tests/run_program.h"
#include "tests/small_data.h"

namespace fs = std::filesystem;
using dl::testing::ProgramResult;
using dl::testing::read_text;
using dl::testing::run_program;
using dl::testing::TempDir;

namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// stderr is exactly one line that starts with `prefix`.
bool one_line(const ProgramResult& r, const std::string& prefix) {
    return r.err.rfind(prefix, 0) == 0 && r.err.size() > prefix.size() && r.err.back() == '\n' &&
           r.err.find('\n') == r.err.size() - 1;
}

void write_bytes(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// An IDX header with these dims and `extra` data bytes.
std::string idx_header(const std::vector<uint32_t>& dims, size_t extra) {
    std::string b = {0, 0, 8, static_cast<char>(dims.size())};
    for (uint32_t d : dims)
        for (int shift = 24; shift >= 0; shift -= 8) b.push_back(static_cast<char>(d >> shift));
    return b + std::string(extra, '\x07');
}

const std::string kTimeout = "timeout 120 ";

// A trained mlp (or cnn) on a small data set, shared by the checkpoint cases.
std::string small_run(const TempDir& tmp, const std::string& model = "mlp") {
    const std::string data = dl::testing::write_small_data(tmp / "data");
    const std::string run = tmp / ("run-" + model);
    ProgramResult r = run_program(kTimeout + "build/train --model " + model + " --data " + data +
                                      " --epochs 1 --optimizer adam --threads 2 --out " + run,
                                  tmp.str());
    INFO(r.err);
    REQUIRE(r.status == 0);
    return run;
}

}  // namespace

TEST_CASE("bad input: crafted IDX headers (wrapping sizes, huge images) give one line, fast, without allocating") {
    TempDir tmp;
    const std::string data = dl::testing::write_small_data(tmp / "data");
    // 16 x 2^30 x 2^30 pixels: the 64-bit product wraps to 0 (a segfault before).
    write_bytes(data + "/train-images-idx3-ubyte", idx_header({16, 1u << 30, 1u << 30}, 64));
    fs::remove(data + "/train-images-idx3-ubyte.gz");
    const auto t0 = std::chrono::steady_clock::now();
    for (const std::string& command :
         {"build/train --data " + data + " --out " + tmp.str() + "/never", "build/show_data --data " + data +
          " --index 0 --out " + tmp.str() + "/x.png", "build/show_data --data " + data + " --grid 16 --out " +
          tmp.str() + "/g.png"}) {
        ProgramResult r = run_program(kTimeout + command, tmp.str());
        INFO(command << "\n" << r.err);
        CHECK(r.status == 1);
        CHECK(contains(r.err, "train-images-idx3-ubyte: images of 1073741824 x 1073741824 pixels, expected at most "
                              "4096 x 4096; the header is corrupt"));
        CHECK((one_line(r, "train: ") || one_line(r, "show_data: ")));
        CHECK_FALSE(contains(r.err, "bad_alloc"));
    }
    CHECK_FALSE(fs::exists(tmp / "never"));  // the run folder it made is removed again
    CHECK_FALSE(fs::exists(tmp / "x.png"));
    CHECK_FALSE(fs::exists(tmp / "g.png"));

    // A gzip of a few dozen bytes whose header claims 200 x 4096 x 4096 bytes (3.4 GB).
    fs::remove(data + "/train-images-idx3-ubyte");
    const std::string header = idx_header({200, 4096, 4096}, 100);
    gzFile f = gzopen((data + "/train-images-idx3-ubyte.gz").c_str(), "wb");
    REQUIRE(f != nullptr);
    REQUIRE(gzwrite(f, header.data(), static_cast<unsigned>(header.size())) == static_cast<int>(header.size()));
    REQUIRE(gzclose(f) == Z_OK);
    ProgramResult gz = run_program(kTimeout + "build/train --data " + data + " --out " + tmp.str() + "/never", tmp.str());
    INFO(gz.err);
    CHECK(gz.status == 1);
    CHECK(one_line(gz, "train: idx: "));
    CHECK(contains(gz.err, "header claims 200 x 4096 x 4096 = 3355443200 bytes of images, but a gzip file of "));
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(60));
}

TEST_CASE("bad input: a test set that does not fit the training set is refused before training, naming the file") {
    TempDir tmp;
    dl::testing::SmallData big;
    big.height = big.width = 32;
    const std::string data = dl::testing::write_small_data(tmp / "data");
    dl::testing::write_small_split(data, "t10k", 50, big);  // 32 x 32 test images beside 28 x 28 training images
    const auto t0 = std::chrono::steady_clock::now();
    ProgramResult r = run_program(kTimeout + "build/train --model mlp --data " + data + " --out " + tmp.str() + "/run",
                                  tmp.str());
    INFO(r.err);
    CHECK(r.status == 1);
    CHECK(one_line(r, "train: "));
    CHECK(contains(r.err, "the test images " + data + "/t10k-images-idx3-ubyte.gz are 1x32x32, the training images " +
                              data + "/train-images-idx3-ubyte.gz 1x28x28"));
    CHECK_FALSE(fs::exists(tmp / "run"));
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(30));

    // Test labels past the training set's classes (12 in a 10-class set).
    dl::testing::SmallData twelve;
    twelve.classes = 13;
    dl::testing::write_small_split(data, "t10k", 50, twelve);
    ProgramResult labels = run_program(kTimeout + "build/train --model mlp --data " + data, tmp.str());
    CHECK(labels.status == 1);
    CHECK(one_line(labels, "train: "));
    CHECK(contains(labels.err, data + "/t10k-labels-idx1-ubyte.gz: label 12 of example 12 is outside the class range "
                                      "[0, 10)"));

    // A stray label 255 in the training labels would have made 256 classes.
    std::vector<uint8_t> y(600);
    for (size_t i = 0; i < y.size(); ++i) y[i] = static_cast<uint8_t>(i % 10);
    y[17] = 255;
    dl::write_idx(data + "/train-labels-idx1-ubyte.gz", {600}, y, true);
    ProgramResult stray = run_program(kTimeout + "build/train --model mlp --data " + data, tmp.str());
    CHECK(stray.status == 1);
    CHECK(contains(stray.err, "label 255 of example 17 makes 256 classes, but no example has label 10"));
}

TEST_CASE("bad input: a damaged checkpoint is refused by predict and --resume, naming the record or the tensor") {
    TempDir tmp;
    const std::string run = small_run(tmp, "cnn");
    const std::string good = read_text(run + "/model.ckpt");
    const std::string data = tmp / "data";
    const std::string bad = tmp / "bad.ckpt";
    const auto records = dl::testing::checkpoint_records(good);
    auto predict = [&](const std::string& ckpt) {
        return run_program(kTimeout + "build/predict " + ckpt + " --data " + data, tmp.str());
    };
    ProgramResult fine = predict(run + "/model.ckpt");
    INFO(fine.err);
    REQUIRE(fine.status == 0);

    // One flipped byte in the weights, the class names or the normalisation record.
    for (const std::string name : {"tensor/0.weight", "class_names", "normalization", "tensor/3.bias"}) {
        std::string flipped = good;
        for (const auto& rec : records)
            if (rec.name == name) flipped[rec.payload + rec.size / 2] ^= 0x20;
        write_bytes(bad, flipped);
        ProgramResult r = predict(bad);
        INFO(name << ": " << r.err);
        CHECK(r.status == 1);
        CHECK(one_line(r, "predict: checkpoint '" + bad + "': record '" + name + "' (record "));
        CHECK(contains(r.err, "is damaged: its checksum does not match"));
    }
    // NaN or infinity in the convolution's weights, checksums recomputed (a crafted file).
    for (float v : {std::nanf(""), INFINITY}) {
        write_bytes(bad, dl::testing::set_tensor_value(good, "0.weight", 5, v));
        ProgramResult r = predict(bad);
        INFO(r.err);
        CHECK(r.status == 1);
        CHECK(one_line(r, "predict: checkpoint '" + bad + "': tensor '0.weight' (16, 1, 5, 5) holds " +
                              (std::isnan(v) ? "NaN" : "infinity") + " at element 5"));
    }
    // An empty normalisation record, and one of "nan nan".
    write_bytes(bad, dl::testing::edit_record(good, "normalization", [](std::string) { return std::string(4, '\0'); }));
    ProgramResult empty = predict(bad);
    CHECK(empty.status == 1);
    CHECK(one_line(empty, "predict: checkpoint '" + bad + "': the 'normalization' record is empty"));
    write_bytes(bad, dl::testing::edit_record(good, "normalization", [](std::string p) {
                    const float nan = std::nanf("");
                    std::memcpy(p.data() + 4, &nan, 4);
                    std::memcpy(p.data() + 8, &nan, 4);
                    return p;
                }));
    ProgramResult nan = predict(bad);
    CHECK(nan.status == 1);
    CHECK(one_line(nan, "predict: checkpoint '" + bad + "': the normalisation holds mean nan and std nan for channel 0"));

    // --resume of a checkpoint with NaN weights: refused, and the run's files stay as they were.
    const std::string metrics = read_text(run + "/metrics.csv");
    write_bytes(run + "/model.ckpt", dl::testing::set_tensor_value(good, "0.weight", 0, std::nanf("")));
    const std::string damaged = read_text(run + "/model.ckpt");
    ProgramResult resume = run_program(kTimeout + "build/train --resume " + run + "/model.ckpt --epochs 2", tmp.str());
    CHECK(resume.status == 1);
    CHECK(one_line(resume, "train: checkpoint '" + run + "/model.ckpt': tensor '0.weight' (16, 1, 5, 5) holds NaN"));
    CHECK(read_text(run + "/model.ckpt") == damaged);
    CHECK(read_text(run + "/metrics.csv") == metrics);
}

TEST_CASE("bad input: predict refuses data and ensembles of another task; images after --ensemble are images") {
    TempDir tmp;
    const std::string run = small_run(tmp);
    const std::string model = run + "/model.ckpt";
    // Same shape and class count, other class names: a "fashion" directory names its classes.
    dl::testing::write_small_data(tmp / "fashion-like");
    ProgramResult names = run_program(kTimeout + "build/predict " + model + " --data " + tmp.str() + "/fashion-like",
                                      tmp.str());
    INFO(names.err);
    CHECK(names.status == 1);
    CHECK(one_line(names, "predict: class 0 is '0' in the model " + model + " but 'T-shirt/top' in " + tmp.str() +
                              "/fashion-like: they are not the same classes"));
    // Same names and shape, other pixel statistics: another data set.
    dl::testing::SmallData bright;
    bright.brightness = 200;
    dl::testing::write_small_data(tmp / "bright", bright);
    ProgramResult stats = run_program(kTimeout + "build/predict " + model + " --data " + tmp.str() + "/bright", tmp.str());
    CHECK(stats.status == 1);
    CHECK(contains(stats.err, "do not look like the data " + model + " was trained on"));
    ProgramResult top = run_program(kTimeout + "build/predict " + model + " --data " + tmp.str() + "/data --top 5", tmp.str());
    CHECK(top.status == 1);
    CHECK(one_line(top, "predict: --top has no effect with --data alone (it applies to image files)"));
    // An ensemble with a model of another data set.
    const std::string other = tmp / "other";
    ProgramResult o = run_program(kTimeout + "build/train --model mlp --epochs 1 --data " + tmp.str() + "/fashion-like --out " +
                                      other,
                                  tmp.str());
    REQUIRE(o.status == 0);
    ProgramResult mixed = run_program(kTimeout + "build/predict --ensemble " + model + " " + other + "/model.ckpt --data " +
                                          tmp.str() + "/data",
                                      tmp.str());
    CHECK(mixed.status == 1);
    CHECK(one_line(mixed, "predict: class 0 is '0' in " + model + " but 'T-shirt/top' in " + other + "/model.ckpt"));
    // --ensemble A B image.png: the image is classified, not read as a checkpoint.
    ProgramResult show = run_program("build/show_data --data " + tmp.str() + "/data --test --index 3 --out " + tmp.str() +
                                         "/three.png",
                                     tmp.str());
    REQUIRE(show.status == 0);
    ProgramResult ens = run_program(kTimeout + "build/predict --ensemble " + model + " " + run + "/best.ckpt " +
                                        tmp.str() + "/three.png",
                                    tmp.str());
    INFO(ens.err);
    CHECK(ens.status == 0);
    CHECK(ens.out.rfind(tmp.str() + "/three.png: ", 0) == 0);
}

TEST_CASE("bad input: options that are not numbers or have no effect are refused in one line") {
    TempDir tmp;
    const std::string data = dl::testing::write_small_data(tmp / "data");
    struct Case {
        std::string args, message;
    };
    const Case cases[] = {
        {"--val-split nan", "--val-split: expected a finite number, got nan"},
        {"--lr inf", "--lr: expected a finite number, got inf"},
        {"--milestones 2", "--milestones has no effect here (it applies to --schedule step and batch-growth; the "
                           "schedule is constant)"},
        {"--crop-padding 3", "--crop-padding has no effect here (it applies to --augment"},
        {"--schedule step --tau 5", "--tau has no effect here (it applies to --schedule robbins-monro"},
        {"--snapshots", "--snapshots has no effect here (it applies to --schedule cosine-restarts"},
        {"--rgb", "--rgb has no effect here (it applies to --images"},
        {"--images " + tmp.str(), "--data and --images both name the training data: give one"},
    };
    for (const Case& c : cases) {
        ProgramResult r = run_program(kTimeout + "build/train --model mlp --data " + data + " --epochs 1 " + c.args +
                                          " --out " + tmp.str() + "/never",
                                      tmp.str());
        INFO(c.args << ": " << r.err);
        CHECK(r.status != 0);
        CHECK(contains(r.err, c.message));
        CHECK(std::count(r.err.begin(), r.err.end(), '\n') <= 2);  // CLI11 adds "Run with --help" to its own errors
        CHECK_FALSE(fs::exists(tmp / "never"));
    }
    ProgramResult scale = run_program("build/show_data --data " + data + " --index 1 --scale 4 --out " + tmp.str() + "/a.png",
                                      tmp.str());
    CHECK(scale.status == 1);
    CHECK(one_line(scale, "show_data: --scale has no effect with --index (it applies to --grid)"));
}

TEST_CASE("bad input: show_data refuses a picture too large to draw, in one line") {
    TempDir tmp;
    const std::string data = dl::testing::write_small_data(tmp / "data", {});
    dl::testing::SmallData many;
    many.train = 10000;
    dl::testing::write_small_split(data, "train", many.train, many);
    ProgramResult r = run_program(kTimeout + "build/show_data --data " + data + " --grid 10000 --scale 16 --out " +
                                      tmp.str() + "/grid.png",
                                  tmp.str());
    INFO(r.err);
    CHECK(r.status == 1);
    CHECK(one_line(r, "show_data: write_image_grid: 10000 images of 28 x 28 at scale 16 make a 48032 x 59232 picture"));
    CHECK(contains(r.err, "draw fewer images or use a smaller scale"));
    CHECK_FALSE(contains(r.err, "bad_alloc"));
    CHECK_FALSE(fs::exists(tmp / "grid.png"));
}

TEST_CASE("bad input: image folders: unreadable and unsupported files are counted; a class named with a newline works") {
    TempDir tmp;
    const std::string root = tmp / "pictures";
    for (const std::string cls : {"dark", "light\nbulb"}) {
        fs::create_directories(root + "/" + cls);
        for (int i = 0; i < 12; ++i) {
            std::vector<unsigned char> px(16 * 16, cls == "dark" ? 20 : 230);
            px[i] = 128;
            REQUIRE(stbi_write_png((root + "/" + cls + "/" + std::to_string(i) + ".png").c_str(), 16, 16, 1, px.data(), 16));
        }
    }
    std::ofstream(root + "/dark/broken.jpg") << "not a picture";
    std::ofstream(root + "/dark/notes.txt") << "text";
    std::ofstream(root + "/light\nbulb/anim.gif") << "GIF89a";
    const std::string args = " --model mlp --epochs 2 --batch-size 4 --image-size 16 --images '" + root + "' --out " + tmp.str();
    ProgramResult broken = run_program(kTimeout + "build/train" + args + "/a", tmp.str());
    INFO(broken.err);
    CHECK(broken.status == 1);
    CHECK(one_line(broken, "train: image: cannot decode " + root + "/dark/broken.jpg"));
    CHECK(contains(broken.err, "build/train --skip-unreadable leaves such files out"));

    ProgramResult skipped = run_program(kTimeout + "build/train --skip-unreadable" + args + "/b", tmp.str());
    INFO(skipped.err);
    REQUIRE(skipped.status == 0);
    CHECK(contains(skipped.err, "left out 2 files that are not .png, .jpg, .jpeg or .bmp images"));
    CHECK(contains(skipped.err, "--skip-unreadable left out 1 images that could not be read (e.g. image: cannot decode"));
    // The class with a newline in its name: stored intact, printed escaped.
    const std::string picture = root + "/light\nbulb/3.png";
    ProgramResult p = run_program(kTimeout + "build/predict " + tmp.str() + "/b/best.ckpt '" + picture + "'", tmp.str());
    INFO(p.err);
    CHECK(p.status == 0);
    CHECK(contains(p.out, ": light\\nbulb "));
}

TEST_CASE("bad input: Ctrl-C while an image folder loads stops at once and writes nothing") {
    TempDir tmp;
    const std::string root = tmp / "pictures";
    fs::create_directories(root + "/a");
    fs::create_directories(root + "/b");
    // One large picture linked 2000 times: loading takes seconds, making the folder does not.
    std::vector<unsigned char> px(1024 * 1024, 0);
    for (size_t k = 0; k < px.size(); ++k) px[k] = static_cast<unsigned char>((k * 2654435761u) >> 24);
    REQUIRE(stbi_write_png((root + "/big.png").c_str(), 1024, 1024, 1, px.data(), 1024));
    for (int i = 0; i < 2000; ++i) fs::create_hard_link(root + "/big.png", root + (i % 2 ? "/a/" : "/b/") + std::to_string(i) + ".png");
    fs::remove(root + "/big.png");
    const std::string run = tmp / "run";
    const auto t0 = std::chrono::steady_clock::now();
    // Interrupted once it reads the pictures (one is open in /proc/PID/fd).
    ProgramResult r = run_program("(build/train --model mlp --images " + root + " --out " + run +
                                      " & pid=$!; for i in $(seq 600); do ls -l /proc/$pid/fd 2>/dev/null | grep -q "
                                      "'\\.png' && break; sleep 0.05; done; kill -INT $pid; wait $pid)",
                                  tmp.str());
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    INFO(r.err << " after " << seconds << " s");
    CHECK(r.status == 130);
    CHECK(one_line(r, "train: image folder " + root + ": interrupted while loading its 2000 images"));
    CHECK_FALSE(fs::exists(run));
}
