// Tests of data/image_folder on PNG and BMP files the test writes with stb_image_write.
#include <doctest/doctest.h>
#include <stb/stb_image_write.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/temp_dir.h"
#include "data/image_folder.h"

namespace fs = std::filesystem;
using namespace dl;
using dl::testing::TempDir;

namespace {

// A w x h RGB image of one colour.
std::vector<uint8_t> solid(int w, int h, uint8_t r, uint8_t g, uint8_t b) {
    std::vector<uint8_t> px;
    for (int k = 0; k < w * h; ++k) px.insert(px.end(), {r, g, b});
    return px;
}

void write_png(const std::string& path, int w, int h, int channels, const std::vector<uint8_t>& px) {
    fs::create_directories(fs::path(path).parent_path());
    REQUIRE(stbi_write_png(path.c_str(), w, h, channels, px.data(), w * channels) != 0);
}

void write_text(const std::string& path, const std::string& text) {
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream(path) << text;
}

bool all_near(const uint8_t* p, size_t n, int value) {
    for (size_t k = 0; k < n; ++k)
        if (std::abs(int(p[k]) - value) > 1) return false;
    return true;
}

}  // namespace

TEST_CASE("data: load_image keeps pixel order, converts to grayscale, resizes") {
    TempDir dir;
    // 3 x 2 RGB image with pixel (y, x) = (10 y + x, 100 + 10 y + x, 200 + x).
    std::vector<uint8_t> px;
    for (int y = 0; y < 2; ++y)
        for (int x = 0; x < 3; ++x) px.insert(px.end(), {uint8_t(10 * y + x), uint8_t(100 + 10 * y + x), uint8_t(200 + x)});
    write_png(dir / "a.png", 3, 2, 3, px);
    std::vector<uint8_t> rgb = load_image(dir / "a.png", 3, 2, 3);  // (3, 2, 3) channel-major
    REQUIRE(rgb.size() == 18);
    CHECK(rgb[0 * 6 + 1 * 3 + 2] == 12);   // R at y=1, x=2
    CHECK(rgb[1 * 6 + 0 * 3 + 1] == 101);  // G at y=0, x=1
    CHECK(rgb[2 * 6 + 1 * 3 + 0] == 200);  // B at y=1, x=0

    write_png(dir / "red.png", 8, 6, 3, solid(8, 6, 200, 10, 50));
    std::vector<uint8_t> small = load_image(dir / "red.png", 3, 3, 4);  // resized 6x8 -> 3x4
    CHECK(all_near(small.data(), 12, 200));
    CHECK(all_near(small.data() + 12, 12, 10));
    CHECK(all_near(small.data() + 24, 12, 50));
    std::vector<uint8_t> gray = load_image(dir / "red.png", 1, 5, 5);
    CHECK(gray.size() == 25);
    int luma = (200 * 77 + 10 * 150 + 50 * 29) >> 8;  // stb_image's RGB -> Y
    CHECK(all_near(gray.data(), 25, luma));
}

TEST_CASE("data: load_image errors name the file") {
    TempDir dir;
    CHECK_THROWS_WITH_AS(load_image(dir / "none.png", 1, 28, 28),
                         doctest::Contains("none.png: no such file"), std::runtime_error);
    write_text(dir / "fake.png", "not a picture");
    CHECK_THROWS_WITH_AS(load_image(dir / "fake.png", 1, 28, 28),
                         doctest::Contains(("cannot decode " + (dir / "fake.png")).c_str()), std::runtime_error);
    CHECK_THROWS_WITH_AS(load_image(dir / "fake.png", 2, 28, 28),
                         doctest::Contains("2 channels, expected 1 (grayscale) or 3 (RGB)"),
                         std::invalid_argument);
    CHECK_THROWS_AS(load_image(dir / "fake.png", 1, 0, 28), std::invalid_argument);
}

TEST_CASE("data: image folder: classes sorted by name, labels, sizes, formats") {
    TempDir dir;
    write_png(dir / "dog/b.png", 10, 10, 3, solid(10, 10, 90, 90, 90));
    write_png(dir / "dog/a.png", 12, 8, 3, solid(12, 8, 60, 60, 60));
    std::vector<uint8_t> bmp = solid(4, 4, 30, 30, 30);
    fs::create_directories(dir.path / "ant");
    REQUIRE(stbi_write_bmp((dir / "ant/x.BMP").c_str(), 4, 4, 3, bmp.data()) != 0);
    write_png(dir / "cat/c.png", 5, 5, 1, std::vector<uint8_t>(25, 150));
    write_text(dir / "cat/notes.txt", "ignored");
    write_text(dir / "cat/.hidden.png", "ignored");
    write_text(dir / "README", "ignored");

    ImageFolderOptions o;
    o.height = 6;
    o.width = 7;
    ImageFolderReport report;
    Dataset d = load_image_folder(dir.path.string(), o, &report);
    CHECK(d.class_names == std::vector<std::string>{"ant", "cat", "dog"});
    // Files that are not images are counted, hidden ones are not.
    CHECK(report.ignored == std::vector<std::string>{dir / "README", dir / "cat/notes.txt"});
    CHECK(report.skipped.empty());
    CHECK(d.source == dir.path.string());
    CHECK(d.classes == 3);
    CHECK(d.count == 4);
    CHECK(d.labels == std::vector<int>{0, 1, 2, 2});
    CHECK(d.channels == 1);
    CHECK(d.images.size() == 4 * 42u);
    CHECK(all_near(d.image(0), 42, 30));
    CHECK(all_near(d.image(1), 42, 150));
    CHECK(all_near(d.image(2), 42, 60));  // a.png sorts before b.png
    CHECK(all_near(d.image(3), 42, 90));
    CHECK_NOTHROW(check_dataset(d, "image folder"));

    o.channels = 3;
    Dataset rgb = load_image_folder(dir.path.string(), o);
    CHECK(rgb.channels == 3);
    CHECK(rgb.image_size() == 3 * 42u);
}

TEST_CASE("data: image folder errors: missing root, no classes, empty class, unreadable image") {
    TempDir dir;
    ImageFolderOptions o;
    CHECK_THROWS_WITH_AS(load_image_folder(dir / "missing", o),
                         doctest::Contains("missing does not exist or is not a directory"),
                         std::runtime_error);
    CHECK_THROWS_WITH_AS(load_image_folder(dir.path.string(), o),
                         doctest::Contains("has no class folders; expected"), std::runtime_error);
    fs::create_directories(dir.path / "empty");
    CHECK_THROWS_WITH_AS(load_image_folder(dir.path.string(), o),
                         doctest::Contains(("class folder " + (dir / "empty") + " holds no .png").c_str()),
                         std::runtime_error);
    fs::remove(dir.path / "empty");

    write_png(dir / "good/a.png", 4, 4, 1, std::vector<uint8_t>(16, 7));
    write_text(dir / "good/broken.jpg", "garbage");
    CHECK_THROWS_WITH_AS(load_image_folder(dir.path.string(), o),
                         doctest::Contains(("cannot decode " + (dir / "good/broken.jpg")).c_str()),
                         std::runtime_error);
    CHECK_THROWS_WITH_AS(load_image_folder(dir.path.string(), o),
                         doctest::Contains("build/train --skip-unreadable leaves such files out"), std::runtime_error);
    o.skip_unreadable = true;
    ImageFolderReport report;
    Dataset d = load_image_folder(dir.path.string(), o, &report);
    CHECK(d.count == 1);
    CHECK(d.labels == std::vector<int>{0});
    CHECK(all_near(d.image(0), d.image_size(), 7));
    REQUIRE(report.skipped.size() == 1);
    CHECK(report.skipped[0].find("broken.jpg") != std::string::npos);

    fs::remove(dir.path / "good/a.png");
    CHECK_THROWS_WITH_AS(load_image_folder(dir.path.string(), o),
                         doctest::Contains("none of its 1 images could be read"), std::runtime_error);
}

TEST_CASE("data: image folder: a stop flag set while loading ends it with LoadInterrupted") {
    TempDir dir;
    for (int i = 0; i < 3; ++i) write_png(dir / ("a/" + std::to_string(i) + ".png"), 4, 4, 1, std::vector<uint8_t>(16, 9));
    ImageFolderOptions o;
    volatile std::sig_atomic_t stop = 1;
    o.stop = &stop;
    CHECK_THROWS_WITH_AS(load_image_folder(dir.path.string(), o),
                         doctest::Contains("interrupted while loading its 3 images"), LoadInterrupted);
    stop = 0;
    CHECK(load_image_folder(dir.path.string(), o).count == 3);
}

TEST_CASE("data: image folder: a class folder named with a newline keeps its name") {
    TempDir dir;
    write_png(dir / "two\nlines/a.png", 4, 4, 1, std::vector<uint8_t>(16, 9));
    write_png(dir / "plain/a.png", 4, 4, 1, std::vector<uint8_t>(16, 9));
    Dataset d = load_image_folder(dir.path.string(), ImageFolderOptions{});
    CHECK(d.class_names == std::vector<std::string>{"plain", "two\nlines"});
}
