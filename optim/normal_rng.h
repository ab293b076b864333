// NormalRng: standard normal samples from a seeded 64-bit Mersenne Twister,
// with a state that can be saved and restored, so that a Langevin run resumed
// from a checkpoint draws exactly the same noise. (std::normal_distribution
// caches values and its algorithm differs between libraries; Box-Muller written
// out here is the same everywhere and keeps no hidden state.)
#pragma once
#include <cstdint>
#include <random>

#include "core/fields.h"

namespace dl {

class NormalRng {
public:
    explicit NormalRng(uint64_t seed = 0) : engine_(seed) {}

    // One sample of N(0, 1) (Box-Muller, cosine branch).
    float next();

    // The generator's state as the field "rng" (core/fields.h).
    void state_fields(Fields& f);

private:
    double uniform();  // in [0, 1), 53 random bits

    std::mt19937_64 engine_;
};

}  // namespace dl
