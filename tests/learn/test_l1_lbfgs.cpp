// L1-penalised L-BFGS (learn/l1_lbfgs.hpp) against an independent solution of the same problems: a lasso
// with two unpenalised variables, 0.5 |A x - b|^2 + l1 sum_{e >= 2} |x_e|, solved here by cyclic coordinate
// descent (soft-thresholding, run to a fixed point); the split bound-constrained L-BFGS must end on the same
// support with exact zeros and the same nonzero values; l1 = 0 is the unpenalised least squares; a penalty
// above |A^T b|_inf on the penalised variables zeroes them all.
#include "../support/petsc_environment.hpp"
#include "tessera/learn/l1_lbfgs.hpp"
#include "tessera/learn/petsc.hpp"

#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>
#include <memory>
#include <random>
#include <vector>

using namespace tessera;

namespace {

constexpr int rows = 30, cols = 10, free_variables = 2;

struct Lasso {
  std::vector<double> A, b; // row-major rows x cols
  double l1 = 0.0;

  double residual(const std::vector<double>& x, int i) const {
    double r = -b[static_cast<std::size_t>(i)];
    for (int j = 0; j < cols; ++j)
      r += A[static_cast<std::size_t>(i * cols + j)] * x[static_cast<std::size_t>(j)];
    return r;
  }
  // The smooth part and its gradient (what minimize_l1_lmvm is given).
  double smooth(const std::vector<double>& x, std::vector<double>& g) const {
    double f = 0.0;
    std::fill(g.begin(), g.end(), 0.0);
    for (int i = 0; i < rows; ++i) {
      const double r = residual(x, i);
      f += 0.5 * r * r;
      for (int j = 0; j < cols; ++j)
        g[static_cast<std::size_t>(j)] += r * A[static_cast<std::size_t>(i * cols + j)];
    }
    return f;
  }
  // Cyclic coordinate descent: x_j = S(a_j . (b - A x + a_j x_j), l1_j) / |a_j|^2, S the soft threshold.
  std::vector<double> coordinate_descent() const {
    std::vector<double> x(cols, 0.0);
    for (int sweep = 0; sweep < 100000; ++sweep) {
      double change = 0.0;
      for (int j = 0; j < cols; ++j) {
        double rho = 0.0, norm = 0.0;
        for (int i = 0; i < rows; ++i) {
          const double a = A[static_cast<std::size_t>(i * cols + j)];
          rho += a * (a * x[static_cast<std::size_t>(j)] - residual(x, i));
          norm += a * a;
        }
        const double t = j < free_variables ? 0.0 : l1;
        const double v = std::copysign(std::max(std::fabs(rho) - t, 0.0), rho) / norm;
        change = std::max(change, std::fabs(v - x[static_cast<std::size_t>(j)]));
        x[static_cast<std::size_t>(j)] = v;
      }
      if (change < 1e-15) break;
    }
    return x;
  }
};

Lasso draw(double l1) {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> normal;
  Lasso p;
  p.l1 = l1;
  for (int e = 0; e < rows * cols; ++e)
    p.A.push_back(normal(rng));
  // b from a sparse truth plus noise: the penalty then has true zeros to find.
  const std::vector<double> truth = {1.5, -0.7, 2.0, 0.0, -1.2, 0.0, 0.0, 0.4, 0.0, 0.0};
  for (int i = 0; i < rows; ++i) {
    double v = 0.3 * normal(rng);
    for (int j = 0; j < cols; ++j)
      v += p.A[static_cast<std::size_t>(i * cols + j)] * truth[static_cast<std::size_t>(j)];
    p.b.push_back(v);
  }
  return p;
}

std::vector<double> solve(const Lasso& p, std::vector<double> x) {
  std::vector<bool> penalised(cols, true);
  for (int j = 0; j < free_variables; ++j)
    penalised[static_cast<std::size_t>(j)] = false;
  petsc::LmvmOptions options;
  options.max_iterations = 500;
  options.gatol = 1e-12;
  minimize_l1_lmvm(x, penalised, p.l1, options,
                   [&](const std::vector<double>& at, std::vector<double>& g) { return p.smooth(at, g); },
                   {});
  return x;
}

TEST(L1Lbfgs, MatchesCoordinateDescentOnALasso) {
  for (const double l1 : {2.0, 8.0, 20.0}) {
    const Lasso p = draw(l1);
    const std::vector<double> reference = p.coordinate_descent();
    // From zero and from a start of the wrong signs: the same minimiser (the problem is strictly convex).
    for (const double start : {0.0, -1.0}) {
      const std::vector<double> x = solve(p, std::vector<double>(cols, start));
      int zeros = 0;
      for (int j = 0; j < cols; ++j) {
        const double want = reference[static_cast<std::size_t>(j)], got = x[static_cast<std::size_t>(j)];
        if (want == 0.0) {
          // Exactly zero: the bound stops the variable there (a subgradient method would leave ~1e-8).
          EXPECT_EQ(got, 0.0) << "l1 " << l1 << ", start " << start << ", x_" << j;
          ++zeros;
        } else {
          // gatol 1e-12 on a problem with condition ~10: 1e-8 relative leaves room for TAO's stopping point.
          EXPECT_NEAR(got, want, 1e-8 * std::max(1.0, std::fabs(want)))
              << "l1 " << l1 << ", start " << start << ", x_" << j;
        }
      }
      EXPECT_GT(zeros, 0) << "l1 " << l1 << ": the problem should have zeros to find";
    }
  }
}

TEST(L1Lbfgs, NoPenaltyIsLeastSquaresAndALargeOneZeroesEveryPenalisedVariable) {
  const Lasso none = draw(0.0);
  const std::vector<double> reference = none.coordinate_descent(),
                            x = solve(none, std::vector<double>(cols, 0.0));
  for (int j = 0; j < cols; ++j)
    EXPECT_NEAR(x[static_cast<std::size_t>(j)], reference[static_cast<std::size_t>(j)], 1e-8);
  // Above max_j |a_j . r| at the minimiser over the free variables alone, every penalised x_j is 0.
  const Lasso big = draw(1e4);
  const std::vector<double> y = solve(big, std::vector<double>(cols, 0.5)), z = big.coordinate_descent();
  for (int j = free_variables; j < cols; ++j)
    EXPECT_EQ(y[static_cast<std::size_t>(j)], 0.0) << "x_" << j;
  for (int j = 0; j < free_variables; ++j)
    EXPECT_NEAR(y[static_cast<std::size_t>(j)], z[static_cast<std::size_t>(j)], 1e-8);
}

TEST(L1Lbfgs, TheMonitorSeesTheUnsplitVariablesAndThePenalisedObjective) {
  const Lasso p = draw(8.0);
  std::vector<double> x(cols, 0.3);
  std::vector<bool> penalised(cols, true);
  long long calls = 0;
  petsc::LmvmOptions options;
  options.max_iterations = 5;
  minimize_l1_lmvm(
      x, penalised, p.l1, options,
      [&](const std::vector<double>& at, std::vector<double>& g) { return p.smooth(at, g); },
      [&](long long, double f, double, const std::vector<double>& at) {
        EXPECT_EQ(at.size(), static_cast<std::size_t>(cols));
        std::vector<double> g(cols);
        double norm = 0.0;
        for (double v : at)
          norm += std::fabs(v);
        // f = smooth + l1 sum (u + v) >= smooth + l1 |x|_1 (equal when no variable holds both signs).
        EXPECT_GE(f, p.smooth(at, g) + p.l1 * norm - 1e-12 * std::fabs(f));
        ++calls;
        return false;
      });
  EXPECT_GT(calls, 1);
}

} // namespace
