// The ridge baseline as linear derivative fits: every coefficient lands under its regressor's kind and
// index (with its mean), the intercept is kept, and a (type, target) without training rows is marked
// unfitted.
#include "tessera/learn/warm_start.hpp"

#include <gtest/gtest.h>

using namespace tessera;

TEST(WarmStart, RidgeFitsBecomeLinearFitsByRegressorKind) {
  DerivativeBaselines baselines;
  DerivativeFit fit;
  fit.regressors = {
      {Regressor::regulator, 2}, {Regressor::self, 0}, {Regressor::ligand, 1}, {Regressor::regulator, 4}};
  fit.coefficient = {0.5, -0.3, 0.25, -1.5};
  fit.intercept = 0.7;
  fit.mean = {1.5, 0.8, 3.0, 0.2};
  fit.observations = 40;
  DerivativeFit empty;
  baselines.ridge = {{fit, empty}, {empty}};
  const LinearDerivativeFits fits = linear_derivative_fits(baselines);
  ASSERT_EQ(fits.fit.size(), 2u);
  ASSERT_EQ(fits.fit[0].size(), 2u);
  ASSERT_EQ(fits.fit[1].size(), 1u);
  const LinearDerivativeFit& f = fits.fit[0][0];
  EXPECT_TRUE(f.fitted);
  EXPECT_EQ(f.intercept, 0.7);
  EXPECT_EQ(f.regulators, (std::vector<int>{2, 4}));
  EXPECT_EQ(f.regulator_coefficient, (std::vector<double>{0.5, -1.5}));
  EXPECT_EQ(f.self_coefficient, -0.3);
  EXPECT_EQ(f.pairs, (std::vector<int>{1}));
  EXPECT_EQ(f.pair_coefficient, (std::vector<double>{0.25}));
  EXPECT_EQ(f.regulator_mean, (std::vector<double>{1.5, 0.2}));
  EXPECT_EQ(f.self_mean, 0.8);
  EXPECT_EQ(f.pair_mean, (std::vector<double>{3.0}));
  EXPECT_FALSE(fits.fit[0][1].fitted);
  EXPECT_FALSE(fits.fit[1][0].fitted);
  EXPECT_TRUE(linear_derivative_fits(DerivativeBaselines{}).fit.empty());
}
