#include "optim/normal_rng.h"

#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>

namespace dl {

namespace {

const uint64_t kGolden = 0x9E3779B97F4A7C15ull;  // 2^64 / golden ratio, SplitMix64's step

// SplitMix64's output function (Steele, Lea and Flood 2014): 64 well-mixed bits.
uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// Samples 2k and 2k+1 of the stream with key `key` (Box-Muller, both branches).
void normal_pair(uint64_t key, uint64_t k, float& even, float& odd) {
    const uint64_t z = mix(key + (k + 1) * kGolden);
    const float u1 = static_cast<float>((z >> 32) + 1) * 0x1p-32f;        // (0, 1]: ln u1 is finite
    const float u2 = static_cast<float>(z & 0xFFFFFFFFull) * 0x1p-32f;   // [0, 1]
    const float r = std::sqrt(-2.0f * std::log(u1));
    const float theta = 6.28318530717958648f * u2;
    even = r * std::cos(theta);
    odd = r * std::sin(theta);
}

}  // namespace

NormalRng::NormalRng(uint64_t seed) : key_(mix(seed)) {}

float NormalRng::next() {
    float even, odd;
    normal_pair(key_, drawn_ / 2, even, odd);
    return (drawn_++ % 2 == 0) ? even : odd;
}

void NormalRng::fill(float* out, size_t n) {
    size_t i = 0;
    if (n > 0 && drawn_ % 2 == 1) out[i++] = next();  // finish the pair begun before
    const size_t pairs = (n - i) / 2;
    const uint64_t first = drawn_ / 2;
    for (size_t p = 0; p < pairs; ++p) normal_pair(key_, first + p, out[i + 2 * p], out[i + 2 * p + 1]);
    drawn_ += 2 * pairs;
    i += 2 * pairs;
    if (i < n) out[i] = next();  // the first half of a pair
}

void NormalRng::state_fields(Fields& f) {
    std::ostringstream text;
    text << "splitmix64-box-muller " << key_ << ' ' << drawn_;
    std::string state = text.str();
    f("rng", state);
    if (!f.loading()) return;
    std::istringstream in(state);
    std::string kind;
    uint64_t key = 0, drawn = 0;
    in >> kind >> key >> drawn;
    if (!in || kind != "splitmix64-box-muller")
        throw std::runtime_error("load_state: the noise generator's state is not 'splitmix64-box-muller KEY COUNT' "
                                 "(a checkpoint written before 2026-12 keeps a Mersenne Twister state: "
                                 "restart that Langevin run)");
    key_ = key;
    drawn_ = drawn;
}

}  // namespace dl
