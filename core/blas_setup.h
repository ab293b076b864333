// OpenBLAS's kernels, picked when the program starts.
//
// OpenBLAS 0.3.21 (Debian 12) does not know recent Intel cores (Sapphire Rapids,
// Emerald Rapids among them) and falls back to its Prescott (SSE3) kernels,
// which run GEMM about half as fast as its AVX-512 ones. It reads
// OPENBLAS_CORETYPE once, when the library loads, before any code of ours runs.
// So when that variable is unset, detection gave Prescott and the CPU has
// AVX-512 (or AVX2), the library sets it to SkylakeX (Haswell) and re-executes
// the program once, before main(): every program linked with the library gets
// the fast kernels without doing anything. An OPENBLAS_CORETYPE set by the user
// is always respected.
#pragma once

namespace dl {

// The name of the kernels OpenBLAS uses ("SkylakeX", "Haswell", "Prescott", ...).
const char* blas_kernels();

// Called once before main() (from core/tensor.cpp): re-executes the program with
// OPENBLAS_CORETYPE set when that gives faster kernels. Returns otherwise.
void choose_blas_kernels_at_start();

}  // namespace dl
