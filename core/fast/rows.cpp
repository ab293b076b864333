// Row kernels of the fast floor (see core/fast/rows.h), in Highway: compiled once per
// instruction set of core/fast/simd_targets.h, the best picked at run time.
#include "core/fast/simd_targets.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "core/fast/rows.cpp"
#include <hwy/foreach_target.h>  // re-includes this file once per target
#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace dl::fast::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// sq (R,C) = m squared, norms (R) = row sums of sq; a vector of partial sums per row.
void SquareRows(float* sq, float* norms, const float* m, int R, int C) {
    const hn::ScalableTag<float> d;
    const int L = (int)hn::Lanes(d);
    for (int r = 0; r < R; ++r) {
        const float* row = m + (long)r * C;
        float* out = sq + (long)r * C;
        auto acc = hn::Zero(d);
        int c = 0;
        for (; c + L <= C; c += L) {
            const auto v = hn::LoadU(d, row + c);
            const auto v2 = hn::Mul(v, v);
            hn::StoreU(v2, d, out + c);
            acc = hn::Add(acc, v2);
        }
        float rest = 0.0f;
        for (; c < C; ++c) out[c] = row[c] * row[c], rest += out[c];
        norms[r] = hn::GetLane(hn::SumOfLanes(d, acc)) + rest;
    }
}

}  // namespace dl::fast::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "core/fast/dispatch.h"
#include "core/fast/fast.h"
#include "core/fast/rows.h"

namespace dl::fast {

HWY_EXPORT(SquareRows);

bool square_rows(float* sq, float* norms, const float* m, int R, int C) {
    if (!enabled()) return false;
    simd_init();
    HWY_DYNAMIC_DISPATCH(SquareRows)(sq, norms, m, R, C);
    return true;
}

}  // namespace dl::fast
#endif  // HWY_ONCE
