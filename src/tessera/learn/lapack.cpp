#include "tessera/learn/lapack.hpp"

#include "tessera/core/error.hpp"

#include <string>

// OpenBLAS exports LAPACK's Fortran symbols; Debian installs no LAPACKE headers beside it, so the one
// routine used is declared here (Fortran: every argument by reference, column-major, hidden string lengths
// omitted as the reference LAPACK's own C callers do for one-character arguments).
extern "C" void dposv_(const char* uplo, const int* n, const int* nrhs, double* a, const int* lda, double* b,
                       const int* ldb, int* info);

namespace tessera::lapack {

bool solve_positive_definite(int n, std::vector<double>& a, std::vector<double>& b, int right_hand_sides) {
  if (n < 1 || right_hand_sides < 1 ||
      a.size() != static_cast<std::size_t>(n) * static_cast<std::size_t>(n) ||
      b.size() != static_cast<std::size_t>(n) * static_cast<std::size_t>(right_hand_sides))
    throw runtime_error("dposv: " + std::to_string(a.size()) + " matrix and " + std::to_string(b.size()) +
                        " right-hand-side values for n = " + std::to_string(n));
  // LAPACK reads column-major storage; A is symmetric, so its row-major storage is the same matrix.
  const char uplo = 'U';
  int info = 0;
  dposv_(&uplo, &n, &right_hand_sides, a.data(), &n, b.data(), &n, &info);
  if (info < 0) throw runtime_error("dposv: argument " + std::to_string(-info) + " is illegal");
  return info == 0;
}

} // namespace tessera::lapack
