// train.group_lasso's penalty (learn/group_lasso.hpp) against independent references: its value and gradient
// against the smoothed group norms written out in long double and against central differences (1e-6
// relative); its distance from the exact group lasso (at most eps per group); and the minimiser of a
// group-lasso least-squares problem under L-BFGS with the smoothed penalty against proximal gradient descent
// with the exact penalty's closed-form prox (group soft-thresholding), groups of zeros included.
#include "../support/petsc_environment.hpp"
#include "tessera/learn/group_lasso.hpp"
#include "tessera/learn/petsc.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

using namespace tessera;

namespace {

const ParameterGroups groups = {{0, 1, 2}, {3, 4, 5},       {6, 7},
                                {8},       {9, 10, 11, 12}, {}}; // the last adds nothing
constexpr int n_values = 14;                                     // value 13 belongs to no group

std::vector<double> draw(unsigned seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-2.0, 2.0);
  std::vector<double> x(n_values);
  for (double& v : x)
    v = u(rng);
  return x;
}

} // namespace

TEST(GroupLasso, PenaltyAndGradientAreTheSmoothedGroupNorms) {
  const double strength = 0.7, eps = group_lasso_smoothing;
  std::vector<double> x = draw(3);
  x[6] = x[7] = 0.0; // a group at zero: no penalty, no gradient
  x[8] = 1e-5;       // a group far inside the smoothing: sqrt(s + eps^2) - eps without cancellation
  std::vector<double> g(n_values, 0.25);
  const double value = group_lasso_penalty(x, groups, strength, &g);
  long double expected = 0.0L, exact = 0.0L;
  for (const auto& group : groups) {
    long double s = 0.0L;
    for (const std::size_t e : group)
      s += static_cast<long double>(x[e]) * x[e];
    const long double n = std::sqrt(static_cast<long double>(group.size()));
    expected += strength * n * (std::sqrt(s + static_cast<long double>(eps) * eps) - eps);
    exact += strength * n * std::sqrt(s);
    for (const std::size_t e : group)
      EXPECT_NEAR(g[e], 0.25 + static_cast<double>(strength * n * x[e] / std::sqrt(s + eps * eps)), 1e-15)
          << e;
  }
  EXPECT_NEAR(value, static_cast<double>(expected), 1e-15 * value);
  EXPECT_EQ(g[13], 0.25); // in no group: untouched
  EXPECT_EQ(g[6], 0.25);
  // Within eps of the exact group lasso per group (weighted by sqrt(n_g)).
  double bound = 0.0;
  for (const auto& group : groups)
    bound += strength * std::sqrt(static_cast<double>(group.size())) * eps;
  EXPECT_LE(static_cast<double>(exact) - value, bound);
  EXPECT_GE(static_cast<double>(exact) - value, 0.0);
  // The gradient is that of the value: central differences, step 1e-6.
  std::vector<double> zero(n_values, 0.0);
  const std::vector<double> g0 = [&] {
    std::vector<double> out(n_values, 0.0);
    group_lasso_penalty(x, groups, strength, &out);
    return out;
  }();
  for (int e = 0; e < n_values; ++e) {
    if (e == 8) continue; // |x| = 1e-5 < h: the curvature 1/eps makes differences at h = 1e-6 inexact
    const double h = 1e-6;
    std::vector<double> plus = x, minus = x;
    plus[e] += h;
    minus[e] -= h;
    const double fd = (group_lasso_penalty(plus, groups, strength, nullptr) -
                       group_lasso_penalty(minus, groups, strength, nullptr)) /
                      (2 * h);
    EXPECT_NEAR(g0[e], fd, 1e-6 * std::fabs(fd) + 1e-9) << e;
  }
  // Without a gradient the same value; strength 0 nothing.
  EXPECT_EQ(group_lasso_penalty(x, groups, strength, nullptr), value);
  EXPECT_EQ(group_lasso_penalty(x, groups, 0.0, &zero), 0.0);
}

namespace {

// 0.5 |A x - b|^2 over 40 rows, x in the groups above (value 13 unpenalised).
struct Problem {
  std::vector<double> A, b;
  static constexpr int rows = 40;

  double smooth(const std::vector<double>& x, std::vector<double>& g) const {
    double f = 0.0;
    std::fill(g.begin(), g.end(), 0.0);
    for (int i = 0; i < rows; ++i) {
      double r = -b[static_cast<std::size_t>(i)];
      for (int j = 0; j < n_values; ++j)
        r += A[static_cast<std::size_t>(i * n_values + j)] * x[static_cast<std::size_t>(j)];
      f += 0.5 * r * r;
      for (int j = 0; j < n_values; ++j)
        g[static_cast<std::size_t>(j)] += r * A[static_cast<std::size_t>(i * n_values + j)];
    }
    return f;
  }

  // Proximal gradient descent on the exact group lasso: x <- prox(x - t grad), the prox of t lambda sqrt(n_g)
  // |x_g| being x_g max(0, 1 - t lambda sqrt(n_g) / |x_g|) (group soft-thresholding), t below 1 / |A|^2.
  std::vector<double> proximal_gradient(double lambda) const {
    double frobenius = 0.0;
    for (const double a : A)
      frobenius += a * a;
    const double t = 1.0 / frobenius;
    std::vector<double> x(n_values, 0.0), g(n_values);
    for (int it = 0; it < 2000000; ++it) {
      smooth(x, g);
      std::vector<double> y(n_values);
      for (int j = 0; j < n_values; ++j)
        y[static_cast<std::size_t>(j)] = x[static_cast<std::size_t>(j)] - t * g[static_cast<std::size_t>(j)];
      for (const auto& group : groups) {
        double s = 0.0;
        for (const std::size_t e : group)
          s += y[e] * y[e];
        const double norm = std::sqrt(s),
                     shrink = std::max(0.0, 1.0 - t * lambda * std::sqrt(double(group.size())) / norm);
        for (const std::size_t e : group)
          y[e] = norm > 0 ? y[e] * shrink : 0.0;
      }
      double change = 0.0;
      for (int j = 0; j < n_values; ++j)
        change = std::max(change, std::fabs(y[static_cast<std::size_t>(j)] - x[static_cast<std::size_t>(j)]));
      x.swap(y);
      if (change < 1e-14) break;
    }
    return x;
  }
};

Problem draw_problem() {
  std::mt19937_64 rng(11);
  std::normal_distribution<double> normal;
  Problem p;
  for (int e = 0; e < Problem::rows * n_values; ++e)
    p.A.push_back(normal(rng));
  // Groups {3,4,5} and {8} are zero in the truth: the penalty has whole groups to remove.
  const std::vector<double> truth = {1.0, -0.5, 0.8, 0, 0, 0, 1.5, -1.0, 0, 0.6, 0.3, -0.4, 0.5, 2.0};
  for (int i = 0; i < Problem::rows; ++i) {
    double v = 0.2 * normal(rng);
    for (int j = 0; j < n_values; ++j)
      v += p.A[static_cast<std::size_t>(i * n_values + j)] * truth[static_cast<std::size_t>(j)];
    p.b.push_back(v);
  }
  return p;
}

} // namespace

TEST(GroupLasso, LbfgsOnTheSmoothedPenaltyFindsTheProximalGradientSolution) {
  const Problem p = draw_problem();
  for (const double lambda : {3.0, 10.0}) {
    const std::vector<double> reference = p.proximal_gradient(lambda);
    std::vector<double> x(n_values, 0.5);
    petsc::LmvmOptions options;
    options.max_iterations = 2000;
    options.gatol = 1e-10;
    petsc::minimize_lmvm(x, options,
                         [&](const std::vector<double>& at, std::vector<double>& g) {
                           const double f = p.smooth(at, g);
                           return f + group_lasso_penalty(at, groups, lambda, &g);
                         },
                         {});
    int zero_groups = 0;
    for (const auto& group : groups) {
      double norm = 0.0;
      for (const std::size_t e : group)
        norm += reference[e] * reference[e];
      if (group.empty() || norm > 0.0) continue;
      ++zero_groups;
      // A group the exact problem zeroes ends within a few eps of zero: at the smoothed optimum
      // |x_g| = eps r / sqrt(1 - r^2), r = |A_g^T residual| / (lambda sqrt(n_g)) < 1.
      for (const std::size_t e : group)
        EXPECT_LT(std::fabs(x[e]), 10 * group_lasso_smoothing) << "lambda " << lambda << ", x_" << e;
    }
    EXPECT_GT(zero_groups, 0) << "lambda " << lambda << ": the problem should zero a group";
    // The other values move by O(eps) from the exact solution (the smoothing's perturbation of the optimum).
    for (int j = 0; j < n_values; ++j)
      EXPECT_NEAR(x[static_cast<std::size_t>(j)], reference[static_cast<std::size_t>(j)],
                  10 * group_lasso_smoothing)
          << "lambda " << lambda << ", x_" << j;
  }
}
