// Threads: one OpenMP pool shared by our loops and by OpenBLAS (its OpenMP
// build), so the two never oversubscribe the cores. The fast floor's threading
// helpers (parallel_for, side_by_side) are in core/fast/parallel.h.
#pragma once
#include <cstddef>

namespace dl {

// Sets the thread count for OpenMP loops and OpenBLAS (n >= 1).
void set_num_threads(int n);
int num_threads();

// Elementwise loops smaller than this run on one thread: below it, waking the
// pool costs more than the loop.
constexpr std::size_t kParallelMin = 1 << 15;

}  // namespace dl
