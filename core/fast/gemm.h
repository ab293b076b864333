// Matrix multiply: the one place that calls BLAS (OpenBLAS, multi-threaded by
// itself outside a parallel region, single-threaded inside one). The reference
// ops call sgemm as their one primitive beyond plain loops.
#pragma once

namespace dl {

// C (M,N) = alpha * op(A) * op(B) + beta * C, row-major.
// op(A) is (M,K): A is (M,K) with lda >= K, or (K,M) with lda >= M when trans_a.
// op(B) is (K,N): B is (K,N) with ldb >= N, or (N,K) with ldb >= K when trans_b.
void sgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda,
           const float* B, int ldb, float beta, float* C, int ldc);

// The same by a plain triple loop: the reference the tests compare sgemm with.
void sgemm_naive(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A,
                 int lda, const float* B, int ldb, float beta, float* C, int ldc);

}  // namespace dl
