// graph_ode's dense products through OpenBLAS on the rank's threads (issue 11). OpenBLAS runs at one thread
// (tessera sets it: the ranks own the cores), so a single cblas_dgemm per tile ran on the calling thread
// while the other threads of an OpenMP Kokkos waited: OpenBLAS took a third of a training iteration's
// samples at 1 rank x 2 threads, all on one thread (docs/performance.md, "Ranks x threads"). The product is
// cut into kGemmRowBlocks blocks of C's rows, each one cblas_dgemm, which the execution space's threads
// share. The cut depends on C's row count and the backend only, never on the thread count, so every thread
// count makes the same BLAS calls on the same operands: results are bit for bit those of one thread. (A
// Serial build makes one call per product; OpenBLAS 0.3.21 gives the same bits for 1, 2, 4 and 8 blocks, so
// its results equal an OpenMP build's, but nothing here relies on that.) Each row of C belongs to
// one block, so no sum crosses blocks (for op(A) = A^T the rows of C are the columns of A).
#pragma once

#include <Kokkos_Core.hpp>
#include <cblas.h>

#include <algorithm>
#include <cstddef>

namespace tessera {

// Blocks per product: as many as the threads of a small node rank (2 or 4) can share evenly; one where the
// execution space is Serial, which has one thread (4 calls instead of 1 cost OpenBLAS's small-matrix kernels
// 12 % more per product at 240 x 64 x 64).
inline constexpr int kGemmRowBlocks = 4;
template <class ExecutionSpace>
inline constexpr int gemm_row_blocks = kGemmRowBlocks;
#ifdef KOKKOS_ENABLE_SERIAL
template <>
inline constexpr int gemm_row_blocks<Kokkos::Serial> = 1;
#endif

// One block of C = alpha op(A) B + beta C, all row-major: rows [block * per, min(m, (block + 1) * per)).
struct RowBlockedGemmFunctor {
  CBLAS_TRANSPOSE trans_a = CblasNoTrans;
  int m = 0, n = 0, k = 0, per = 0;
  double alpha = 1.0, beta = 0.0;
  const double* a = nullptr;
  int lda = 0;
  const double* b = nullptr;
  int ldb = 0;
  double* c = nullptr;
  int ldc = 0;

  void operator()(const int block) const {
    const int first = block * per, rows = std::min(m, first + per) - first;
    if (rows <= 0) return;
    // Row i of op(A) is row i of A (A: m x k) or column i of A (A^T: A is k x m).
    const double* a_block =
        trans_a == CblasNoTrans ? a + static_cast<std::ptrdiff_t>(first) * lda : a + first;
    cblas_dgemm(CblasRowMajor, trans_a, CblasNoTrans, rows, n, k, alpha, a_block, lda, b, ldb, beta,
                c + static_cast<std::ptrdiff_t>(first) * ldc, ldc);
  }
};

// C (m x n) = alpha op(A) B + beta C on `space`'s threads when it is a host space, in block order otherwise
// (a device build never calls BLAS: its products are Kokkos kernels; this keeps the call compilable there).
// The caller has fenced the kernels that wrote the operands; the products are done on return.
template <class ExecutionSpace>
void row_blocked_dgemm(const ExecutionSpace& space, CBLAS_TRANSPOSE trans_a, int m, int n, int k,
                       double alpha, const double* a, int lda, const double* b, int ldb, double beta,
                       double* c, int ldc) {
  constexpr int blocks = gemm_row_blocks<ExecutionSpace>;
  const int per = (m + blocks - 1) / blocks;
  const RowBlockedGemmFunctor f{trans_a, m, n, k, per, alpha, beta, a, lda, b, ldb, c, ldc};
  if constexpr (blocks == 1) {
    f(0);
  } else if constexpr (Kokkos::SpaceAccessibility<ExecutionSpace, Kokkos::HostSpace>::accessible) {
    Kokkos::parallel_for("tessera::grn::graph_ode::blas_blocks",
                         Kokkos::RangePolicy<ExecutionSpace>(space, 0, blocks), f);
    space.fence();
  } else {
    for (int block = 0; block < blocks; ++block)
      f(block);
  }
}

} // namespace tessera
