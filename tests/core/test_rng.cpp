// Counter-based random numbers (SPEC §4.3): the same (seed, key, step, purpose, index) gives the same draw
// wherever it is made, different counters give independent draws, and the distributions are right.
#include "tessera/core/rng.hpp"

#include <gtest/gtest.h>

#include <cmath>

using namespace tessera;

TEST(CounterRng, SameCounterSameDrawDifferentCounterDifferentDraw) {
  const CounterRng a{7}, b{7}, c{8};
  double x[4], y[4], z[4], w[4];
  a.uniform4(123, 5, RandomPurpose::motility, 0, x);
  b.uniform4(123, 5, RandomPurpose::motility, 0, y);
  c.uniform4(123, 5, RandomPurpose::motility, 0, z);
  a.uniform4(123, 5, RandomPurpose::division, 0, w);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(x[i], y[i]);
    EXPECT_NE(x[i], z[i]);
    EXPECT_NE(x[i], w[i]);
    EXPECT_GT(x[i], 0.0);
    EXPECT_LT(x[i], 1.0);
  }
}

TEST(CounterRng, UniformAndNormalMoments) {
  // 4 x 200 000 draws: the standard error of the mean is 0.29/sqrt(8e5) = 3.2e-4 for the uniform and
  // 1.1e-3 for the normal; the bounds below are about 5 standard errors.
  const CounterRng rng{2024};
  const int n = 200000;
  double su = 0, su2 = 0, sn = 0, sn2 = 0, sn4 = 0;
  for (int i = 0; i < n; ++i) {
    double u[4], g[4];
    rng.uniform4(static_cast<std::uint64_t>(i), 0, RandomPurpose::init_position, 0, u);
    rng.normal4(static_cast<std::uint64_t>(i), 1, RandomPurpose::motility, 0, g);
    for (int k = 0; k < 4; ++k) {
      su += u[k];
      su2 += u[k] * u[k];
      sn += g[k];
      sn2 += g[k] * g[k];
      sn4 += g[k] * g[k] * g[k] * g[k];
    }
  }
  const double m = 4.0 * n;
  EXPECT_NEAR(su / m, 0.5, 1.6e-3);
  EXPECT_NEAR(su2 / m - (su / m) * (su / m), 1.0 / 12.0, 1e-3);
  EXPECT_NEAR(sn / m, 0.0, 5.5e-3);
  EXPECT_NEAR(sn2 / m, 1.0, 8e-3);
  EXPECT_NEAR(sn4 / m, 3.0, 5e-2); // Gaussian kurtosis
}
