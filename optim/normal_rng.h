// NormalRng: a stream of standard normal samples that depends only on the seed.
//
// Pair k of the stream (samples 2k and 2k+1) is Box-Muller applied to the k-th
// output of SplitMix64 started at the (mixed) seed:
//   z      = mix(seed' + (k+1) * 0x9E3779B97F4A7C15)        64 random bits
//   u1, u2 = the high and low 32 bits, scaled into (0, 1] and [0, 1] (rounded to float)
//   sample 2k   = sqrt(-2 ln u1) cos(2 pi u2)
//   sample 2k+1 = sqrt(-2 ln u1) sin(2 pi u2)
// So the whole state is one counter (how many samples were drawn): a run resumed
// from a checkpoint draws exactly the same noise, and fill() draws a block with
// a loop whose iterations do not depend on each other. (A Mersenne Twister with
// a double log and cos per sample made Langevin 7x slower than SGD on a 1.3M-
// parameter model; std::normal_distribution also differs between libraries.)
// The smallest u1 is 2^-32, so |sample| <= 6.66: a tail of probability 3e-11 is cut.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/fields.h"

namespace dl {

class NormalRng {
public:
    explicit NormalRng(uint64_t seed = 0);

    // The next sample of N(0, 1).
    float next();

    // The next n samples into out: the same numbers as n calls of next().
    void fill(float* out, size_t n);

    // The generator's state as the field "rng" (core/fields.h): seed and counter.
    void state_fields(Fields& f);

private:
    uint64_t key_;        // the seed, mixed: nearby seeds give unrelated streams
    uint64_t drawn_ = 0;  // samples drawn so far: the next one is sample drawn_
};

}  // namespace dl
