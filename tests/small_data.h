// A small MNIST-like data set written by a test: the four IDX files of `dir`,
// 28 x 28 images whose class c shows a bright bar at row 2 + 2c over a noisy
// background, so that a model learns it in an epoch and the two splits have
// the same pixel statistics. Runs of build/train on it take a fraction of a
// second, where Fashion-MNIST would take seconds.
#pragma once
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "data/idx.h"

namespace dl::testing {

struct SmallData {
    int train = 600, test = 200, classes = 10, height = 28, width = 28;
    int brightness = 40;  // background noise amplitude; more changes the statistics
    uint32_t seed = 1;
};

inline void write_small_split(const std::string& dir, const std::string& split, int count, const SmallData& s) {
    std::mt19937 rng(s.seed + (split == "train" ? 0u : 1u));
    std::vector<uint8_t> images(static_cast<size_t>(count) * s.height * s.width), labels(static_cast<size_t>(count));
    for (int i = 0; i < count; ++i) {
        const int c = i % s.classes;
        labels[i] = static_cast<uint8_t>(c);
        uint8_t* img = images.data() + static_cast<size_t>(i) * s.height * s.width;
        for (int k = 0; k < s.height * s.width; ++k) img[k] = static_cast<uint8_t>(rng() % (s.brightness + 1));
        const int row = (2 + 2 * c) % s.height;
        for (int x = 2; x < s.width - 2; ++x) img[row * s.width + x] = 230;
    }
    const std::string prefix = dir + "/" + split;
    write_idx(prefix + "-images-idx3-ubyte.gz", {count, s.height, s.width}, images, true);
    write_idx(prefix + "-labels-idx1-ubyte.gz", {count}, labels, true);
}

inline std::string write_small_data(const std::string& dir, const SmallData& s = {}) {
    std::filesystem::create_directories(dir);
    write_small_split(dir, "train", s.train, s);
    write_small_split(dir, "t10k", s.test, s);
    return dir;
}

}  // namespace dl::testing
