// Tests of data/grid (the PNG picture of a data set) and data/synthetic.
#include <doctest/doctest.h>
#include <stb/stb_image.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "data/grid.h"
#include "data/synthetic.h"

namespace fs = std::filesystem;
using namespace dl;

namespace {

// n images of 4 x 6 pixels, pixel value 10 i + k mod 256 for image i, position k; labels 3 i + 1.
Dataset tiny_set(int n, int channels) {
    Dataset d;
    d.count = n;
    d.channels = channels;
    d.height = 4;
    d.width = 6;
    d.classes = 20;
    for (int i = 0; i < n; ++i) {
        for (size_t k = 0; k < d.image_size(); ++k) d.images.push_back(uint8_t(10 * i + k));
        d.labels.push_back(3 * i + 1);
    }
    return d;
}

struct Png {
    int w = 0, h = 0, n = 0;
    std::unique_ptr<uint8_t, void (*)(void*)> px{nullptr, stbi_image_free};
    explicit Png(const std::string& path) { px.reset(stbi_load(path.c_str(), &w, &h, &n, 0)); }
    int at(int x, int y, int c = 0) const { return px.get()[(size_t(y) * w + x) * n + c]; }
};

}  // namespace

TEST_CASE("data: image grid layout, pixels and label digits") {
    fs::path path = fs::temp_directory_path() / ("dl_test_grid_" + std::to_string(::getpid()) + ".png");
    Dataset d = tiny_set(5, 1);
    GridOptions o;
    o.columns = 3;
    o.scale = 1;
    write_image_grid(path.string(), d, o);
    Png png(path.string());
    REQUIRE(png.px);
    CHECK(png.n == 1);
    CHECK(png.w == 3 * (6 + 2) + 2);       // 3 columns of 6-pixel images, 2-pixel borders
    CHECK(png.h == 2 * (4 + 7 + 2) + 2);   // 2 rows: image, label strip, border
    CHECK(png.at(0, 0) == 110);            // border
    CHECK(png.at(2 + 5, 2 + 3) == 23);     // image 0, pixel (y=3, x=5) = 3 * 6 + 5
    // Image 4 sits in row 1, column 1 at (10, 15); its label is 13: digits "1" and "3".
    CHECK(png.at(10, 15) == 40);
    const int lx = 11, ly = 15 + 4 + 1;    // label origin
    CHECK(png.at(lx + 1, ly) == 255);      // "1": top row 010
    CHECK(png.at(lx + 0, ly) == 0);
    CHECK(png.at(lx + 4, ly + 1) == 0);    // "3": second row 001
    CHECK(png.at(lx + 6, ly + 1) == 255);

    Dataset rgb = tiny_set(2, 3);
    o = GridOptions{};
    write_image_grid(path.string(), rgb, o);  // count 64 > 2 images: shows the 2
    Png big(path.string());
    CHECK(big.n == 3);
    CHECK(big.w == 2 * (2 * 8 + 2));
    CHECK(big.at(2 * 2, 2 * 2, 2) == 4 * 6 * 2);  // blue channel of image 0 at (0, 0), scale 2
    CHECK(big.at(2 * 3, 2 * 2, 2) == 4 * 6 * 2 + 1);  // its right neighbour
    fs::remove(path);

    CHECK_THROWS_WITH_AS(write_image_grid("/nonexistent-dir/grid.png", d),
                         doctest::Contains("cannot write /nonexistent-dir/grid.png"), std::runtime_error);
    o.scale = 0;
    CHECK_THROWS_AS(write_image_grid(path.string(), d, o), std::invalid_argument);
    CHECK_THROWS_WITH_AS(write_image_grid_of(path.string(), d, {0, 5}),
                         doctest::Contains("index 5 is outside [0, 5)"), std::invalid_argument);
}

TEST_CASE("data: Gaussian blobs are balanced, seeded and centred on their centres") {
    BlobsOptions o;
    o.count = 3000;
    o.classes = 4;
    o.dims = 3;
    o.sigma = 0.5f;
    o.seed = 7;
    Blobs b = make_blobs(o);
    CHECK(b.x.shape() == Shape{3000, 3});
    CHECK(b.centers.shape() == Shape{4, 3});
    CHECK(b.y.size() == 3000);
    std::vector<double> mean(12, 0.0), var(12, 0.0);
    for (int i = 0; i < 3000; ++i)
        for (int j = 0; j < 3; ++j) mean[b.y[i] * 3 + j] += b.x[size_t(i) * 3 + j] / 750.0;
    for (int i = 0; i < 3000; ++i)
        for (int j = 0; j < 3; ++j) {
            double e = b.x[size_t(i) * 3 + j] - b.centers[size_t(b.y[i]) * 3 + j];
            var[b.y[i] * 3 + j] += e * e / 750.0;
        }
    for (int k = 0; k < 12; ++k) {
        CHECK(std::abs(mean[k] - b.centers[k]) < 0.06);  // 4 standard errors of 0.5 / sqrt(750)
        CHECK(std::sqrt(var[k]) == doctest::Approx(0.5).epsilon(0.08));
    }
    CHECK(make_blobs(o).x.vec() == b.x.vec());
    o.seed = 8;
    CHECK(make_blobs(o).x.vec() != b.x.vec());
    o.classes = 0;
    CHECK_THROWS_WITH_AS(make_blobs(o), doctest::Contains("make_blobs: classes 0, expected >= 1"),
                         std::invalid_argument);
}

TEST_CASE("data: linear regression has the known weights and noise") {
    RegressionOptions o;
    o.count = 4000;
    o.in_features = 3;
    o.out_features = 2;
    o.noise = 0.3f;
    o.seed = 1;
    Regression r = make_regression(o);
    CHECK(r.x.shape() == Shape{4000, 3});
    CHECK(r.y.shape() == Shape{4000, 2});
    CHECK(r.weight.shape() == Shape{2, 3});
    CHECK(r.bias.shape() == Shape{2});
    // The residual y - (x W^T + b) is the noise: mean ~0, standard deviation ~0.3.
    for (int k = 0; k < 2; ++k) {
        double s = 0, q = 0;
        for (int i = 0; i < 4000; ++i) {
            double pred = r.bias[k];
            for (int j = 0; j < 3; ++j) pred += r.x[size_t(i) * 3 + j] * r.weight[size_t(k) * 3 + j];
            double e = r.y[size_t(i) * 2 + k] - pred;
            s += e;
            q += e * e;
        }
        CHECK(std::abs(s / 4000) < 0.02);
        CHECK(std::sqrt(q / 4000) == doctest::Approx(0.3).epsilon(0.05));
    }
    CHECK(make_regression(o).y.vec() == r.y.vec());
    o.noise = -1.0f;
    CHECK_THROWS_AS(make_regression(o), std::invalid_argument);
}
