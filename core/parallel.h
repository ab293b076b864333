// Threads: one OpenMP pool shared by our loops and by OpenBLAS (its OpenMP
// build), so the two never oversubscribe the cores.
#pragma once
#include <cstddef>

namespace dl {

// Sets the thread count for OpenMP loops and OpenBLAS (n >= 1).
void set_num_threads(int n);
int num_threads();

// Elementwise loops smaller than this run on one thread: below it, waking the
// pool costs more than the loop.
constexpr std::size_t kParallelMin = 1 << 15;

// Runs f() and g(), two independent pieces of work, side by side on the two
// threads of a 2-thread pool, else one after the other. For a pair of GEMMs too
// small to keep two threads busy each (linear's 256x784x128 weight gradient runs
// only 1.55x faster on two threads than on one), running each single-threaded
// side by side is faster: OpenBLAS runs single-threaded inside a parallel region.
// f and g must not throw (check arguments before), and must not share outputs.
template <class F, class G>
void side_by_side(F&& f, G&& g) {
    if (num_threads() != 2) {
        f();
        g();
        return;
    }
#pragma omp parallel sections num_threads(2)
    {
#pragma omp section
        f();
#pragma omp section
        g();
    }
}

}  // namespace dl
