// From uint8 image to float example: normalisation statistics, the
// per-channel lookup table that applies them, and the random augmentations
// (crop from a zero-padded image, horizontal flip).
#pragma once
#include <cstdint>
#include <random>
#include <vector>

#include "data/dataset.h"

namespace dl {

// Per-channel statistics of pixel values scaled to [0, 1]:
// an example's value is (pixel / 255 - mean[c]) / std[c].
struct Normalization {
    std::vector<float> mean;  // (channels); empty with std: no shift or scale
    std::vector<float> std;   // (channels), each > 0
};

// Mean and (population) standard deviation of every pixel of the examples
// `indices` of d, or of all examples. Compute it on the training split only,
// and use the same numbers for validation and test data. A channel that is
// constant gets std 1 rather than a division by zero.
Normalization compute_normalization(const Dataset& d);
Normalization compute_normalization(const Dataset& d, const std::vector<int>& indices);

// Lookup table (channels, 256): table[c * 256 + p] = (p / 255 - mean[c]) / std[c].
// Throws std::invalid_argument if n is neither empty nor has `channels`
// entries with std > 0.
std::vector<float> normalization_table(const Normalization& n, int channels);

// Random changes applied to training examples only.
struct Augmentation {
    int crop_padding = 0;          // > 0: pad by this many black pixels, crop H x W at random
    bool horizontal_flip = false;  // mirror left-right with probability 1/2

    bool any() const { return crop_padding > 0 || horizontal_flip; }
};

// Writes one normalised, possibly augmented example.
// out (C, H, W) float, image (C, H, W) uint8, table (C, 256) from normalization_table.
// Draws from rng only when aug.any(): the crop offsets first, then the flip.
// Padding is black (pixel 0) before normalisation, as torchvision's RandomCrop.
void make_example(float* out, const uint8_t* image, int channels, int height, int width,
                  const float* table, const Augmentation& aug, std::mt19937& rng);

}  // namespace dl
