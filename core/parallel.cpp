#include "core/parallel.h"

#include "core/fast/float_mode.h"

#include <cblas.h>
#include <omp.h>

#include <stdexcept>
#include <string>

namespace dl {

void set_num_threads(int n) {
    if (n < 1) throw std::invalid_argument("set_num_threads: need at least 1 thread, got " + std::to_string(n));
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
    // New pool threads inherit the main thread's float mode; set it anyway, so
    // that a pool started by someone else's code flushes denormals too.
#pragma omp parallel num_threads(n)
    apply_float_mode();
}

int num_threads() { return omp_get_max_threads(); }

}  // namespace dl
