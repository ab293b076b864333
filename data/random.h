// Random numbers for the data module that give the same values with every
// standard library: std::mt19937 is specified bit for bit by the C++ standard,
// but std::uniform_int_distribution, std::normal_distribution and std::shuffle
// are not, so we draw integers, floats, normals and permutations ourselves.
#pragma once
#include <cstdint>
#include <random>
#include <vector>

namespace dl {

// Mixes a 64-bit value into a well-spread 64-bit hash (splitmix64).
uint64_t mix_seed(uint64_t x);
// One 32-bit seed from a seed and up to two stream numbers (epoch, batch, ...),
// so that each stream gets its own independent generator.
uint32_t derive_seed(uint64_t seed, uint64_t a = 0, uint64_t b = 0);

// Uniform integer in [0, n), n >= 1, without modulo bias (rejection sampling).
uint32_t uniform_below(std::mt19937& rng, uint32_t n);
// Uniform float in [0, 1).
float uniform01(std::mt19937& rng);
// Standard normal N(0, 1) by the Box-Muller transform.
float normal01(std::mt19937& rng);

// Fisher-Yates shuffle of v in place.
void shuffle_in_place(std::vector<int>& v, std::mt19937& rng);
// The permutation 0..n-1 shuffled by a generator seeded with `seed`.
std::vector<int> random_permutation(int n, uint32_t seed);

}  // namespace dl
