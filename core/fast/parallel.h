// Threading helpers of the fast floor. One OpenMP pool is shared by our loops
// and by OpenBLAS (its OpenMP build), see core/parallel.h.
#pragma once
#include <omp.h>

#include "core/fast/fast.h"
#include "core/parallel.h"

namespace dl::fast {

// Runs body(first, last) over [0, n): split into one contiguous range per thread
// when `work` (about the number of elements the loop touches) is at least
// kParallelMin and the fast floor is on, else as body(0, n) on this thread. For
// loops whose iterations are independent: the result does not depend on the split.
template <class F>
void parallel_for(long n, long work, F&& body) {
    if (work < static_cast<long>(kParallelMin) || !enabled() || num_threads() == 1) {
        body(0L, n);
        return;
    }
#pragma omp parallel
    {
        const long t = omp_get_thread_num(), nt = omp_get_num_threads();
        body(n * t / nt, n * (t + 1) / nt);
    }
}

// The examples [first, last) of N that thread `tid` of `nt` handles: a fixed split,
// so that per-thread partial sums (and their reduction) are the same on every run.
inline void thread_range(int N, int tid, int nt, int& first, int& last) {
    first = (int)((long)N * tid / nt);
    last = (int)((long)N * (tid + 1) / nt);
}

// Runs f() and g(), two independent pieces of work, side by side on the two
// threads of a 2-thread pool, else one after the other. OpenBLAS runs
// single-threaded inside a parallel region, so each GEMM gets one thread. Used for
// linear's statistics GEMM beside its plain gradient (9% faster on an AVX-512
// Xeon, the same on an AMD EPYC); measure before using it for more: a pair of
// single-threaded GEMMs can also be slower than the two run one after the other
// on every thread (linear's dx beside dW: 13% slower for the EPYC's mlp step).
// f and g must not throw (check arguments before), and must not share outputs.
template <class F, class G>
void side_by_side(F&& f, G&& g) {
    if (num_threads() != 2 || !enabled()) {
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

}  // namespace dl::fast
