// Normalisation statistics and the per-example transform used by DataLoader.
#include "data/transform.h"

#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

#include "data/random.h"

namespace dl {

Normalization compute_normalization(const Dataset& d) {
    std::vector<int> all(static_cast<size_t>(d.count));
    std::iota(all.begin(), all.end(), 0);
    return compute_normalization(d, all);
}

Normalization compute_normalization(const Dataset& d, const std::vector<int>& indices) {
    if (indices.empty())
        throw std::invalid_argument("compute_normalization: no examples to compute statistics on");
    const size_t plane = size_t(d.height) * d.width;
    // Integer sums are exact: 60,000 x 784 pixels of 255^2 fit easily in 64 bits.
    std::vector<uint64_t> sum(size_t(d.channels), 0), sum_sq(size_t(d.channels), 0);
    for (int i : indices) {
        if (i < 0 || i >= d.count)
            throw std::invalid_argument("compute_normalization: index " + std::to_string(i) +
                                        " is outside [0, " + std::to_string(d.count) + ")");
        const uint8_t* img = d.image(i);
        for (int c = 0; c < d.channels; ++c) {
            uint64_t s = 0, q = 0;
            for (size_t k = 0; k < plane; ++k) {
                uint32_t p = img[c * plane + k];
                s += p;
                q += p * p;
            }
            sum[c] += s;
            sum_sq[c] += q;
        }
    }
    Normalization n;
    double count = double(indices.size()) * double(plane);
    for (int c = 0; c < d.channels; ++c) {
        double mean = double(sum[c]) / count / 255.0;
        double var = double(sum_sq[c]) / count / (255.0 * 255.0) - mean * mean;
        double sd = std::sqrt(std::max(var, 0.0));
        n.mean.push_back(float(mean));
        n.std.push_back(sd > 1e-6 ? float(sd) : 1.0f);
    }
    return n;
}

std::vector<float> normalization_table(const Normalization& n, int channels) {
    bool plain = n.mean.empty() && n.std.empty();
    if (!plain && (n.mean.size() != size_t(channels) || n.std.size() != size_t(channels)))
        throw std::invalid_argument("normalization: " + std::to_string(n.mean.size()) + " means and " +
                                    std::to_string(n.std.size()) + " stds for " +
                                    std::to_string(channels) + " channels; expected one of each per channel");
    std::vector<float> table(size_t(channels) * 256);
    for (int c = 0; c < channels; ++c) {
        float mean = plain ? 0.0f : n.mean[c];
        float sd = plain ? 1.0f : n.std[c];
        if (!(sd > 0.0f))
            throw std::invalid_argument("normalization: std of channel " + std::to_string(c) +
                                        " is " + std::to_string(sd) + ", expected > 0");
        for (int p = 0; p < 256; ++p) table[size_t(c) * 256 + p] = (float(p) / 255.0f - mean) / sd;
    }
    return table;
}

void make_example(float* out, const uint8_t* image, int channels, int height, int width,
                  const float* table, const Augmentation& aug, std::mt19937& rng) {
    const size_t plane = size_t(height) * width;
    if (!aug.any()) {
        for (int c = 0; c < channels; ++c) {
            const float* t = table + c * 256;
            for (size_t k = 0; k < plane; ++k) out[c * plane + k] = t[image[c * plane + k]];
        }
        return;
    }
    // Output pixel (y, x) comes from image (y + dy, sx(x)): the crop shifts by
    // (dy, dx) in [-pad, pad], the flip mirrors the cropped window.
    const int pad = aug.crop_padding;
    int dy = 0, dx = 0;
    if (pad > 0) {
        dy = int(uniform_below(rng, uint32_t(2 * pad + 1))) - pad;
        dx = int(uniform_below(rng, uint32_t(2 * pad + 1))) - pad;
    }
    const bool flip = aug.horizontal_flip && uniform_below(rng, 2) == 1;
    for (int c = 0; c < channels; ++c) {
        const float* t = table + c * 256;
        const uint8_t* src = image + c * plane;
        float* dst = out + c * plane;
        for (int y = 0; y < height; ++y) {
            int sy = y + dy;
            for (int x = 0; x < width; ++x) {
                int sx = (flip ? width - 1 - x : x) + dx;
                bool inside = sy >= 0 && sy < height && sx >= 0 && sx < width;
                dst[y * width + x] = t[inside ? src[sy * width + sx] : 0];
            }
        }
    }
}

}  // namespace dl
