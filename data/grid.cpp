// PNG grid of labelled images (stb_image_write) with a built-in 3 x 5 digit font.
#include "data/grid.h"

#include <stb/stb_image_write.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <numeric>
#include <stdexcept>

namespace dl {
namespace {

constexpr int kBorder = 2;      // gray pixels around each tile
constexpr int kStrip = 7;       // label strip under each image: 1 + 5 font rows + 1
constexpr uint8_t kGray = 110;  // border colour
constexpr uint64_t kMaxSide = 32768;              // pixels a side of the picture
constexpr uint64_t kMaxBytes = uint64_t(1) << 28;  // 256 MB of pixels

// Digits 0-9, 5 rows of 3 bits each, top row in the highest bits.
constexpr uint16_t kFont[10] = {
    0b111'101'101'101'111, 0b010'110'010'010'111, 0b111'001'111'100'111, 0b111'001'111'001'111,
    0b101'101'111'001'001, 0b111'100'111'001'111, 0b111'100'111'101'111, 0b111'001'001'001'001,
    0b111'101'111'101'111, 0b111'101'111'001'111};

// An unscaled canvas of (height, width, channels) interleaved pixels.
struct Canvas {
    int width, height, channels;
    std::vector<uint8_t> px;
    Canvas(int w, int h, int c) : width(w), height(h), channels(c), px(size_t(w) * h * c, kGray) {}
    void set(int x, int y, int c, uint8_t v) {
        if (x >= 0 && x < width && y >= 0 && y < height) px[(size_t(y) * width + x) * channels + c] = v;
    }
};

// Writes `number` in white at (x0, y0), one digit every 4 pixels.
void draw_number(Canvas& cv, int x0, int y0, int number) {
    std::string text = std::to_string(number);
    for (size_t i = 0; i < text.size(); ++i) {
        uint16_t glyph = kFont[text[i] - '0'];
        for (int r = 0; r < 5; ++r)
            for (int col = 0; col < 3; ++col)
                if (glyph >> (14 - (r * 3 + col)) & 1)
                    for (int c = 0; c < cv.channels; ++c)
                        cv.set(x0 + int(i) * 4 + col, y0 + r, c, 255);
    }
}

// Copies example k of d (C, H, W) into its tile at (x0, y0), black strip below it.
void draw_tile(Canvas& cv, const Dataset& d, int k, int x0, int y0) {
    const uint8_t* img = d.image(k);
    for (int c = 0; c < d.channels; ++c)
        for (int y = 0; y < d.height + kStrip; ++y)
            for (int x = 0; x < d.width; ++x) {
                bool in_image = y < d.height;
                cv.set(x0 + x, y0 + y, c, in_image ? img[(c * d.height + y) * d.width + x] : 0);
            }
    draw_number(cv, x0 + 1, y0 + d.height + 1, d.labels[k]);
}

// Nearest-neighbour enlargement by an integer factor.
Canvas enlarge(const Canvas& cv, int s) {
    Canvas out(cv.width * s, cv.height * s, cv.channels);
    for (int y = 0; y < out.height; ++y)
        for (int x = 0; x < out.width; ++x)
            for (int c = 0; c < cv.channels; ++c)
                out.px[(size_t(y) * out.width + x) * cv.channels + c] =
                    cv.px[(size_t(y / s) * cv.width + x / s) * cv.channels + c];
    return out;
}

}  // namespace

void write_image_grid(const std::string& path, const Dataset& d, const GridOptions& o) {
    if (o.count < 1)
        throw std::invalid_argument("write_image_grid: count " + std::to_string(o.count) + ", expected >= 1");
    std::vector<int> first(static_cast<size_t>(std::min(o.count, d.count)));
    std::iota(first.begin(), first.end(), 0);
    write_image_grid_of(path, d, first, o);
}

void write_image_grid_of(const std::string& path, const Dataset& d, const std::vector<int>& indices,
                         const GridOptions& o) {
    if (indices.empty() || o.columns < 0 || o.scale < 1 || o.scale > 16)
        throw std::invalid_argument("write_image_grid: " + std::to_string(indices.size()) +
                                    " images, columns " + std::to_string(o.columns) + ", scale " +
                                    std::to_string(o.scale) +
                                    "; expected >= 1 image, columns >= 0, scale 1 .. 16");
    if (d.channels != 1 && d.channels != 3)
        throw std::invalid_argument("write_image_grid: " + std::to_string(d.channels) +
                                    " channels, expected 1 or 3");
    for (int k : indices)
        if (k < 0 || k >= d.count)
            throw std::invalid_argument("write_image_grid: index " + std::to_string(k) +
                                        " is outside [0, " + std::to_string(d.count) + ")");
    const int n = int(indices.size());
    const int cols = o.columns > 0 ? std::min(o.columns, n) : int(std::ceil(std::sqrt(double(n))));
    const int rows = (n + cols - 1) / cols;
    const int tile_w = d.width + kBorder, tile_h = d.height + kStrip + kBorder;
    // The picture's size in 64 bits, checked before anything is allocated.
    const uint64_t width = (uint64_t(cols) * tile_w + kBorder) * o.scale;
    const uint64_t height = (uint64_t(rows) * tile_h + kBorder) * o.scale;
    const uint64_t bytes = width * height * uint64_t(d.channels);
    if (width > kMaxSide || height > kMaxSide || bytes > kMaxBytes)
        throw std::invalid_argument("write_image_grid: " + std::to_string(n) + " images of " + std::to_string(d.height) +
                                    " x " + std::to_string(d.width) + " at scale " + std::to_string(o.scale) +
                                    " make a " + std::to_string(width) + " x " + std::to_string(height) +
                                    " picture of " + std::to_string(bytes >> 20) + " MB, expected at most " +
                                    std::to_string(kMaxSide) + " pixels a side and " + std::to_string(kMaxBytes >> 20) +
                                    " MB; draw fewer images or use a smaller scale");
    Canvas cv(cols * tile_w + kBorder, rows * tile_h + kBorder, d.channels);
    for (int i = 0; i < n; ++i)
        draw_tile(cv, d, indices[i], kBorder + (i % cols) * tile_w, kBorder + (i / cols) * tile_h);
    Canvas big = o.scale > 1 ? enlarge(cv, o.scale) : cv;
    // Through a temporary and a rename: a failed write never leaves a picture that looks complete.
    const std::string tmp = path + ".tmp.png";
    if (!stbi_write_png(tmp.c_str(), big.width, big.height, big.channels, big.px.data(), big.width * big.channels) ||
        std::rename(tmp.c_str(), path.c_str()) != 0) {
        std::remove(tmp.c_str());
        throw std::runtime_error("write_image_grid: cannot write " + path +
                                 "; does its directory exist and is it writable (or the disk full)?");
    }
}

}  // namespace dl
