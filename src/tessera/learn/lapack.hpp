// The LAPACK adapter (OpenBLAS's LAPACK through its Fortran symbols): the dense solves of the ridge baseline.
// Every LAPACK call goes through here, so return codes become tessera errors in one place.
#pragma once

#include <vector>

namespace tessera::lapack {

// Solves A x = b for a symmetric positive definite n x n matrix A (dposv: Cholesky, then two triangular
// solves). `a` holds A (n * n values; the upper triangle is read, so row- and column-major agree), `b` holds
// `right_hand_sides` columns of length n; on return `b` holds the solutions and `a` the Cholesky factor.
// Returns false when A is not positive definite (LAPACK's info > 0); throws runtime_error on a malformed
// call.
bool solve_positive_definite(int n, std::vector<double>& a, std::vector<double>& b, int right_hand_sides = 1);

} // namespace tessera::lapack
