#include "apps/common/blas_setup.h"

#include <cblas.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace dl {

const char* blas_kernels() { return openblas_get_corename(); }

void choose_blas_kernels(char** argv) {
    if (std::getenv("OPENBLAS_CORETYPE")) return;
    if (strcasecmp(openblas_get_corename(), "Prescott") != 0) return;  // detection worked
    const char* pick = __builtin_cpu_supports("avx512f") ? "SkylakeX"
                     : __builtin_cpu_supports("avx2")    ? "Haswell"
                                                         : nullptr;
    if (!pick) return;
    setenv("OPENBLAS_CORETYPE", pick, 1);
    execv("/proc/self/exe", argv);  // on failure, go on with the slower kernels
}

}  // namespace dl
