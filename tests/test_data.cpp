// Tests of data/: IDX files (plain and gzip) and the MNIST directory layout,
// every bad-input message, and the installed Fashion-MNIST when present.
// The loader, image folders, grids and synthetic sets have tests/test_data_*.cpp.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <zlib.h>

#include "tests/temp_dir.h"
#include "data/idx.h"

namespace fs = std::filesystem;
using namespace dl;
using dl::testing::TempDir;

namespace {

// n images of h x w with pixel (i, k) = (7 i + k) mod 256 and labels i mod classes.
std::vector<uint8_t> pattern_images(int n, int h, int w) {
    std::vector<uint8_t> px(size_t(n) * h * w);
    for (size_t k = 0; k < px.size(); ++k) px[k] = uint8_t((k / (h * w)) * 7 + k % (h * w));
    return px;
}

std::vector<uint8_t> pattern_labels(int n, int classes) {
    std::vector<uint8_t> y(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) y[i] = uint8_t(i % classes);
    return y;
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                                std::streamsize(bytes.size()));
}

std::vector<uint8_t> read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

// Writes a consistent split (5 images of 4 x 3, labels 0..2) into dir.
void write_split(const TempDir& dir, const std::string& prefix, bool gzip, int n = 5) {
    std::string gz = gzip ? ".gz" : "";
    write_idx(dir / (prefix + "-images-idx3-ubyte" + gz), {n, 4, 3}, pattern_images(n, 4, 3), gzip);
    write_idx(dir / (prefix + "-labels-idx1-ubyte" + gz), {n}, pattern_labels(n, 3), gzip);
}

}  // namespace

TEST_CASE("data: IDX round trip, plain and gzip") {
    TempDir dir;
    for (bool gzip : {false, true}) {
        CAPTURE(gzip);
        std::string images = dir / (gzip ? "im.gz" : "im"), labels = dir / (gzip ? "lb.gz" : "lb");
        write_idx(images, {6, 4, 3}, pattern_images(6, 4, 3), gzip);
        write_idx(labels, {6}, pattern_labels(6, 3), gzip);
        // A gzip file starts with 1f 8b; a plain IDX file with 00 00 08 03.
        std::vector<uint8_t> raw = read_bytes(images);
        CHECK(raw[0] == (gzip ? 0x1f : 0x00));
        CHECK(raw[1] == (gzip ? 0x8b : 0x00));

        IdxArray a = read_idx(images);
        CHECK(a.dims == std::vector<int>{6, 4, 3});
        CHECK(a.data == pattern_images(6, 4, 3));

        Dataset d = load_idx(images, labels);
        CHECK(d.count == 6);
        CHECK(d.channels == 1);
        CHECK(d.height == 4);
        CHECK(d.width == 3);
        CHECK(d.classes == 10);  // digit sets have at least 10 classes
        CHECK(d.class_names.size() == 10);
        CHECK(d.class_names[3] == "3");
        CHECK(d.images == pattern_images(6, 4, 3));
        CHECK(d.labels == std::vector<int>{0, 1, 2, 0, 1, 2});
        CHECK(d.image(2)[0] == 14);
        CHECK_NOTHROW(check_dataset(d, "round trip"));
    }
}

TEST_CASE("data: MNIST directory with and without .gz; Fashion names from the path") {
    TempDir dir;
    write_split(dir, "train", true, 7);
    write_split(dir, "t10k", false, 5);
    Dataset train = load_mnist_dir(dir.path.string(), true);
    Dataset test = load_mnist_dir(dir.path.string(), false);
    CHECK(train.count == 7);
    CHECK(test.count == 5);
    CHECK(train.class_names[9] == "9");

    TempDir outer;
    fs::path fashion = outer.path / "my-Fashion-set";
    fs::create_directories(fashion);
    fs::copy(dir.path, fashion);
    Dataset f = load_mnist_dir(fashion.string(), true);
    CHECK(f.classes == 10);
    CHECK(f.class_names.front() == "T-shirt/top");
    CHECK(f.class_names.back() == "Ankle boot");
}

TEST_CASE("data: a missing file or directory names it and hints at make deps / --data") {
    TempDir dir;
    CHECK_THROWS_WITH_AS(read_idx(dir / "nope.gz"),
                         doctest::Contains("nope.gz: No such file or directory; install Fashion-MNIST with `make deps` or pass `--data DIR`"),
                         std::runtime_error);
    CHECK_THROWS_WITH_AS(load_mnist_dir(dir / "absent", true),
                         doctest::Contains("absent does not exist; install Fashion-MNIST with `make deps`"),
                         std::runtime_error);
    write_split(dir, "train", false);
    CHECK_THROWS_WITH_AS(load_mnist_dir(dir.path.string(), false),
                         doctest::Contains("holds neither t10k-images-idx3-ubyte nor t10k-images-idx3-ubyte.gz"),
                         std::runtime_error);
}

TEST_CASE("data: wrong magic number and wrong dimension count") {
    TempDir dir;
    write_bytes(dir / "text", {'h', 'e', 'l', 'l', 'o', '\n', 0, 0});
    CHECK_THROWS_WITH_AS(read_idx(dir / "text", 3, "images"),
                         doctest::Contains("text: wrong magic number 0x68656C6C, expected 0x00000803"),
                         std::runtime_error);
    // Type byte 0x0D (float) is valid IDX but not what these data sets hold.
    write_bytes(dir / "floats", {0, 0, 0x0D, 1, 0, 0, 0, 1, 0, 0, 0, 0});
    CHECK_THROWS_WITH_AS(read_idx(dir / "floats"), doctest::Contains("wrong magic number 0x00000D01"),
                         std::runtime_error);

    write_idx(dir / "im", {5, 4, 3}, pattern_images(5, 4, 3), false);
    write_idx(dir / "lb", {5}, pattern_labels(5, 3), false);
    CHECK_THROWS_WITH_AS(load_idx(dir / "lb", dir / "im"),
                         doctest::Contains("lb: images file has 1 dimension, expected 3 (count, height, width)"),
                         std::runtime_error);
    write_idx(dir / "lb2", {5, 1}, pattern_labels(5, 3), false);
    CHECK_THROWS_WITH_AS(load_idx(dir / "im", dir / "lb2"),
                         doctest::Contains("lb2: labels file has 2 dimensions, expected 1 (count)"),
                         std::runtime_error);
}

TEST_CASE("data: images and labels with different counts") {
    TempDir dir;
    write_idx(dir / "im", {5, 4, 3}, pattern_images(5, 4, 3), true);
    write_idx(dir / "lb", {4}, pattern_labels(4, 3), true);
    CHECK_THROWS_WITH_AS(load_idx(dir / "im", dir / "lb"),
                         doctest::Contains(("im holds 5 images but " + (dir / "lb") + " holds 4 labels").c_str()),
                         std::runtime_error);
}

TEST_CASE("data: truncated files, plain and gzip, and extra bytes") {
    TempDir dir;
    write_idx(dir / "im", {5, 4, 3}, pattern_images(5, 4, 3), false);
    std::vector<uint8_t> raw = read_bytes(dir / "im");  // 16 header bytes + 60 pixels
    write_bytes(dir / "short", std::vector<uint8_t>(raw.begin(), raw.end() - 10));
    CHECK_THROWS_WITH_AS(read_idx(dir / "short", 3, "images"),
                         doctest::Contains("short: file is truncated: images needs 60 bytes, found only 50"),
                         std::runtime_error);
    write_bytes(dir / "header", std::vector<uint8_t>(raw.begin(), raw.begin() + 9));
    CHECK_THROWS_WITH_AS(read_idx(dir / "header"), doctest::Contains("header: file is truncated"),
                         std::runtime_error);
    std::vector<uint8_t> longer = raw;
    longer.push_back(1);
    write_bytes(dir / "long", longer);
    CHECK_THROWS_WITH_AS(read_idx(dir / "long"), doctest::Contains("long: extra bytes after the 60 bytes"),
                         std::runtime_error);

    // A gzip stream cut in the middle (large enough that the cut loses data).
    write_idx(dir / "big.gz", {50, 28, 28}, pattern_images(50, 28, 28), true);
    std::vector<uint8_t> gz = read_bytes(dir / "big.gz");
    write_bytes(dir / "cut.gz", std::vector<uint8_t>(gz.begin(), gz.begin() + gz.size() / 2));
    CHECK_THROWS_WITH_AS(read_idx(dir / "cut.gz"), doctest::Contains("cut.gz: file is truncated"),
                         std::runtime_error);
    // Only the 8-byte trailer (CRC, length) missing: still detected.
    write_bytes(dir / "notrailer.gz", std::vector<uint8_t>(gz.begin(), gz.end() - 8));
    CHECK_THROWS_AS(read_idx(dir / "notrailer.gz"), std::runtime_error);
}

TEST_CASE("data: corrupt gzip stream") {
    TempDir dir;
    write_idx(dir / "im.gz", {50, 28, 28}, pattern_images(50, 28, 28), true);
    std::vector<uint8_t> gz = read_bytes(dir / "im.gz");
    std::vector<uint8_t> bad = gz;
    for (size_t i = 20; i < 60; ++i) bad[i] ^= 0xA5;  // scramble deflate data after the header
    write_bytes(dir / "bad.gz", bad);
    CHECK_THROWS_WITH_AS(read_idx(dir / "bad.gz"), doctest::Contains("bad.gz: corrupt gzip stream"),
                         std::runtime_error);
    // A wrong CRC in the trailer: the data decompresses but does not check.
    std::vector<uint8_t> crc = gz;
    crc[crc.size() - 8] ^= 0xFF;
    write_bytes(dir / "crc.gz", crc);
    CHECK_THROWS_WITH_AS(read_idx(dir / "crc.gz"), doctest::Contains("crc.gz: corrupt gzip stream"),
                         std::runtime_error);
}

TEST_CASE("data: a label outside the class range") {
    TempDir dir;
    write_idx(dir / "im", {3, 2, 2}, pattern_images(3, 2, 2), false);
    write_idx(dir / "lb", {3}, {1, 12, 0}, false);
    CHECK_THROWS_WITH_AS(load_idx(dir / "im", dir / "lb", 10),
                         doctest::Contains("lb: label 12 of example 1 is outside the class range [0, 10)"),
                         std::runtime_error);
    // Without a fixed class count, a stray label past 9 must not widen the classes silently.
    CHECK_THROWS_WITH_AS(load_idx(dir / "im", dir / "lb"),
                         doctest::Contains("lb: label 12 of example 1 makes 13 classes, but no example has label 10; "
                                           "is the labels file damaged?"),
                         std::runtime_error);
    write_idx(dir / "lb255", {3}, {1, 255, 0}, false);
    CHECK_THROWS_WITH_AS(load_idx(dir / "im", dir / "lb255"),
                         doctest::Contains("label 255 of example 1 makes 256 classes"), std::runtime_error);
    // Classes past ten that all have examples (EMNIST-like sets) are fine.
    write_idx(dir / "im12", {12, 2, 2}, pattern_images(12, 2, 2), false);
    write_idx(dir / "lb12", {12}, pattern_labels(12, 12), false);
    CHECK(load_idx(dir / "im12", dir / "lb12").classes == 12);
    // The test split takes the training split's class count.
    write_split(dir, "t10k", false, 12);
    write_idx(dir / "t10k-labels-idx1-ubyte", {12}, pattern_labels(12, 12), false);
    CHECK_THROWS_WITH_AS(load_mnist_dir(dir.path.string(), false, 10),
                         doctest::Contains("t10k-labels-idx1-ubyte: label 11 of example 11 is outside the class range [0, 10)"),
                         std::runtime_error);

    // In a Fashion-MNIST directory the class count is known to be 10.
    fs::path fashion = dir.path / "fashion";
    fs::create_directories(fashion);
    write_idx((fashion / "train-images-idx3-ubyte").string(), {3, 2, 2}, pattern_images(3, 2, 2), false);
    write_idx((fashion / "train-labels-idx1-ubyte").string(), {3}, {1, 12, 0}, false);
    CHECK_THROWS_WITH_AS(load_mnist_dir(fashion.string(), true),
                         doctest::Contains("label 12 of example 1 is outside the class range"),
                         std::runtime_error);
}

namespace {

// An IDX header (unsigned bytes) with these dims, then `extra` data bytes.
std::vector<uint8_t> idx_header(const std::vector<uint32_t>& dims, size_t extra = 0) {
    std::vector<uint8_t> b = {0, 0, 8, uint8_t(dims.size())};
    for (uint32_t d : dims)
        for (int shift = 24; shift >= 0; shift -= 8) b.push_back(uint8_t(d >> shift));
    b.resize(b.size() + extra, 7);
    return b;
}

void write_gzip(const std::string& path, const std::vector<uint8_t>& bytes) {
    gzFile f = gzopen(path.c_str(), "wb");
    REQUIRE(f != nullptr);
    REQUIRE(gzwrite(f, bytes.data(), unsigned(bytes.size())) == int(bytes.size()));
    REQUIRE(gzclose(f) == Z_OK);
}

}  // namespace

TEST_CASE("data: header sizes are checked before allocating: wrap-around, huge images, more than the file holds") {
    TempDir dir;
    // 16 x 2^30 x 2^30 bytes wraps a 64-bit product to 0.
    write_bytes(dir / "wrap", idx_header({16, 1u << 30, 1u << 30}, 8));
    CHECK_THROWS_WITH_AS(read_idx(dir / "wrap", 3, "images"),
                         doctest::Contains("wrap: images of 1073741824 x 1073741824 pixels, expected at most 4096 x 4096; "
                                           "the header is corrupt"),
                         std::runtime_error);
    write_bytes(dir / "wrap4", idx_header({16, 1u << 30, 1u << 30, 1u << 30}, 8));
    CHECK_THROWS_WITH_AS(read_idx(dir / "wrap4"),
                         doctest::Contains("header claims 16 x 1073741824 x 1073741824 x 1073741824 bytes of data, "
                                           "more than 4 GiB"),
                         std::runtime_error);
    // One image of 46341 x 46341 (its pixel count overflows an int).
    write_gzip(dir / "big.gz", idx_header({1, 46341, 46341}, 100));
    CHECK_THROWS_WITH_AS(read_idx(dir / "big.gz", 3, "images"),
                         doctest::Contains("images of 46341 x 46341 pixels, expected at most 4096"), std::runtime_error);
    // A plain file claiming Fashion-MNIST's 47 MB with 100 bytes: refused from its size.
    write_bytes(dir / "short", idx_header({60000, 28, 28}, 100));
    CHECK_THROWS_WITH_AS(read_idx(dir / "short", 3, "images"),
                         doctest::Contains("short: file is truncated: images needs 47040000 bytes, found only 100"),
                         std::runtime_error);
    // A gzip file of a few dozen bytes cannot expand to 4096 x 4096 x 200 bytes (deflate: at most 1032x).
    write_gzip(dir / "tiny.gz", idx_header({200, 4096, 4096}, 10));
    const std::string msg = [&] {
        try {
            read_idx(dir / "tiny.gz", 3, "images");
        } catch (const std::runtime_error& e) {
            return std::string(e.what());
        }
        return std::string();
    }();
    CHECK(msg.find("header claims 200 x 4096 x 4096 = 3355443200 bytes of images, but a gzip file of ") !=
          std::string::npos);
    CHECK(msg.find("the header is corrupt") != std::string::npos);
}

TEST_CASE("data: check_dataset, subset and class_counts") {
    Dataset d;
    d.count = 3;
    d.channels = 1;
    d.height = d.width = 2;
    d.classes = 2;
    d.images = pattern_images(3, 2, 2);
    d.labels = {0, 1, 1};
    CHECK_NOTHROW(check_dataset(d, "mine"));
    CHECK(class_counts(d) == std::vector<int>{1, 2});
    Dataset s = subset(d, {2, 0});
    CHECK(s.count == 2);
    CHECK(s.labels == std::vector<int>{1, 0});
    CHECK(s.image(0)[0] == d.image(2)[0]);
    CHECK_THROWS_AS(subset(d, {3}), std::invalid_argument);
    d.labels[1] = 2;
    CHECK_THROWS_WITH_AS(check_dataset(d, "mine"),
                         doctest::Contains("dataset mine: label 2 of example 1 is outside the class range [0, 2)"),
                         std::invalid_argument);
    d.labels.pop_back();
    CHECK_THROWS_WITH_AS(check_dataset(d, "mine"), doctest::Contains("holds 2 labels for 3 images"),
                         std::invalid_argument);
}

TEST_CASE("data: installed Fashion-MNIST has 60,000 + 10,000 balanced images") {
    if (!fs::exists(default_data_dir() + "/train-images-idx3-ubyte.gz")) {
        MESSAGE("Fashion-MNIST is not installed in " << default_data_dir() << "; skipped");
        return;
    }
    Dataset train = load_mnist_dir(default_data_dir(), true);
    Dataset test = load_mnist_dir(default_data_dir(), false);
    CHECK(train.count == 60000);
    CHECK(test.count == 10000);
    for (const Dataset* d : {&train, &test}) {
        CHECK(d->height == 28);
        CHECK(d->width == 28);
        CHECK(d->classes == 10);
        CHECK(d->class_names[9] == "Ankle boot");
        CHECK(class_counts(*d) == std::vector<int>(10, d->count / 10));
    }
}
