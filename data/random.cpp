// Portable random numbers: see random.h for why we do not use std's distributions.
#include "data/random.h"

#include <cmath>
#include <numeric>
#include <utility>

namespace dl {

uint64_t mix_seed(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

uint32_t derive_seed(uint64_t seed, uint64_t a, uint64_t b) {
    uint64_t h = mix_seed(mix_seed(mix_seed(seed) ^ a) ^ b);
    return static_cast<uint32_t>(h ^ (h >> 32));
}

uint32_t uniform_below(std::mt19937& rng, uint32_t n) {
    // Accept only draws below the largest multiple of n that fits in 2^32.
    uint64_t range = uint64_t(1) << 32;
    uint64_t limit = range - range % n;
    uint64_t r;
    do r = rng(); while (r >= limit);
    return static_cast<uint32_t>(r % n);
}

float uniform01(std::mt19937& rng) {
    return static_cast<float>(rng() >> 8) * (1.0f / 16777216.0f);  // 24 random bits
}

float normal01(std::mt19937& rng) {
    float u1 = 1.0f - uniform01(rng);  // in (0, 1], so log(u1) is finite
    float u2 = uniform01(rng);
    return std::sqrt(-2.0f * std::log(u1)) * std::cos(6.28318530718f * u2);
}

void shuffle_in_place(std::vector<int>& v, std::mt19937& rng) {
    for (size_t i = v.size(); i > 1; --i) {
        size_t j = uniform_below(rng, static_cast<uint32_t>(i));
        std::swap(v[i - 1], v[j]);
    }
}

std::vector<int> random_permutation(int n, uint32_t seed) {
    std::vector<int> v(static_cast<size_t>(n));
    std::iota(v.begin(), v.end(), 0);
    std::mt19937 rng(seed);
    shuffle_in_place(v, rng);
    return v;
}

}  // namespace dl
