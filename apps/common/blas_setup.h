// Picks OpenBLAS's kernels when its own detection fails.
//
// OpenBLAS 0.3.21 (Debian 12) does not know recent Intel cores (this machine's
// Xeon, family 6 model 207, among them) and falls back to its Prescott (SSE3)
// kernels, which run GEMM about half as fast as its AVX-512 ones. It reads
// OPENBLAS_CORETYPE once, when the library loads, before main. So when that
// variable is unset, detection gave Prescott and the CPU has AVX-512 (or AVX2),
// we set it to SkylakeX (Haswell) and re-execute the program once. An
// OPENBLAS_CORETYPE set by the user is always respected.
#pragma once

namespace dl {

// Call first in main. Returns only if no re-execution was needed (or it failed).
void choose_blas_kernels(char** argv);

// The name of the kernels OpenBLAS uses ("SkylakeX", "Prescott", ...).
const char* blas_kernels();

}  // namespace dl
