// Inverted dropout. Each element has its own mask value, so the op is
// per-example and allows per-example statistics.
#include <cstdint>
#include <stdexcept>
#include <string>

#include "core/fast/parallel.h"
#include "core/ops_nn.h"

namespace dl {

namespace {

// splitmix64: a fast, well-mixed hash of a 64-bit counter (Steele et al. 2014).
std::uint64_t splitmix64(std::uint64_t z) {
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

// ---- dropout: y = x * mask, mask_i in {0, 1/(1-p)};  dx += dy * mask ----------------------
struct DropoutSaved {
    Tensor mask;  // x's shape
};

void dropout_backward(Tape& t, Node& n) {
    const float* mask = n.saved<DropoutSaved>().mask.data();
    const float* dy = n.grad->data();
    float* dx = t.grad_acc(n.in[0]).data();
    const long size = (long)n.out.size();
    fast::parallel_for(size, size, [&](long first, long last) {
        for (long i = first; i < last; ++i) dx[i] += dy[i] * mask[i];
    });
}

}  // namespace

Var dropout(Tape& t, Var x, float p, bool training, std::uint64_t& rng_state) {
    if (!(p >= 0.0f && p < 1.0f))
        throw std::invalid_argument("dropout: probability " + std::to_string(p) + " must be in [0, 1)");
    if (!training || p == 0.0f) return x;
    Node& n = t.record("dropout", t.shape(x), {x}, dropout_backward);
    const long size = (long)n.out.size();
    Tensor& mask_t = n.save<DropoutSaved>().mask;
    mask_t.resize(t.shape(x));
    float* mask = mask_t.data();
    const float keep = 1.0f / (1.0f - p);
    const std::uint64_t base = rng_state;  // element i's mask comes from counter base + i
    const float* xv = t.value(x).data();
    float* y = n.out.data();
    fast::parallel_for(size, size, [&](long first, long last) {
        for (long i = first; i < last; ++i) {
            const float u = (float)(splitmix64(base + (std::uint64_t)i) >> 40) * 0x1.0p-24f;  // [0, 1)
            mask[i] = u < p ? 0.0f : keep;
            y[i] = xv[i] * mask[i];
        }
    });
    rng_state = base + (std::uint64_t)size;
    return Var{t.size() - 1};
}

}  // namespace dl
