// Row kernels of the fast floor for linear's per-example statistics.
#pragma once

namespace dl::fast {

// sq (R,C) = m (R,C) squared elementwise, and norms (R) = the row sums of sq, in one
// pass, vectorised (the additions reordered). Returns false where the fast floor is off.
bool square_rows(float* sq, float* norms, const float* m, int R, int C);

}  // namespace dl::fast
