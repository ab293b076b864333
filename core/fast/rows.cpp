#include "core/fast/rows.h"

#include "core/fast/fast.h"

namespace dl::fast {

// 'omp simd' lets the compiler keep several partial sums per row (the scalar chain
// of dependent additions was slow).
bool square_rows(float* sq, float* norms, const float* m, int R, int C) {
    if (!enabled()) return false;
    for (int r = 0; r < R; ++r) {
        const float* row = m + (long)r * C;
        float* out = sq + (long)r * C;
        float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
        for (int c = 0; c < C; ++c) {
            out[c] = row[c] * row[c];
            acc += out[c];
        }
        norms[r] = acc;
    }
    return true;
}

}  // namespace dl::fast
