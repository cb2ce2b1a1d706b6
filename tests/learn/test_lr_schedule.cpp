// Tests of the learning-rate schedule: constant is train.lr itself; cosine against its formula written out
// independently, with and without warm-up; plateau reductions on a scripted loss sequence (validation, or
// train without held-out times), floored at lr_min.
#include "tessera/learn/lr_schedule.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace tessera {
namespace {

const double nan = std::numeric_limits<double>::quiet_NaN();

TEST(LrSchedule, ConstantIsTheConfiguredRateExactly) {
  TrainParams p;
  p.lr = 3.7e-3;
  LearningRateSchedule schedule(p);
  for (long long i = 1; i <= 50; ++i) {
    EXPECT_EQ(schedule.rate(i), p.lr);
    schedule.observe(i, 1.0, 1.0); // a loss that never improves changes nothing
  }
}

TEST(LrSchedule, CosineFollowsTheFormula) {
  TrainParams p;
  p.lr_schedule = LrSchedule::cosine;
  p.lr = 0.1;
  p.lr_min = 0.01;
  p.iterations = 20;
  const LearningRateSchedule schedule(p);
  // Tolerance 1e-15: the same expression up to rounding.
  const double pi = 3.14159265358979323846;
  for (long long i = 1; i <= 20; ++i)
    EXPECT_NEAR(schedule.rate(i), 0.01 + 0.045 * (1 + std::cos(pi * (i - 1) / 20.0)), 1e-15) << i;
  EXPECT_EQ(schedule.rate(1), 0.1);
  EXPECT_NEAR(schedule.rate(11), 0.055, 1e-15); // half way: the mean of lr and lr_min
  for (long long i = 2; i <= 20; ++i)
    EXPECT_LT(schedule.rate(i), schedule.rate(i - 1));
  EXPECT_GT(schedule.rate(20), 0.01);
}

TEST(LrSchedule, WarmupRisesLinearlyThenTheScheduleStarts) {
  TrainParams p;
  p.lr_schedule = LrSchedule::cosine;
  p.lr = 0.2;
  p.iterations = 14;
  p.warmup = 4;
  const LearningRateSchedule schedule(p);
  EXPECT_DOUBLE_EQ(schedule.rate(1), 0.05);
  EXPECT_DOUBLE_EQ(schedule.rate(2), 0.1);
  EXPECT_DOUBLE_EQ(schedule.rate(4), 0.2);
  EXPECT_DOUBLE_EQ(schedule.rate(5), 0.2);    // the cosine's first iteration
  EXPECT_NEAR(schedule.rate(10), 0.1, 1e-15); // (10 - 1 - 4) / (14 - 4) = 1/2
  p.lr_schedule = LrSchedule::constant;
  const LearningRateSchedule constant(p);
  EXPECT_DOUBLE_EQ(constant.rate(3), 0.15);
  EXPECT_EQ(constant.rate(5), 0.2);
}

TEST(LrSchedule, PlateauHalvesAfterPatienceIterationsWithoutImprovement) {
  TrainParams p;
  p.lr_schedule = LrSchedule::plateau;
  p.lr = 0.08;
  p.plateau_patience = 3;
  p.improvement = 0.01;
  LearningRateSchedule schedule(p);
  // validation: improves (1.0, 0.9), then 0.895 is within 1 % of 0.9 (no improvement), 0.95, 0.92 -> third
  // iteration without improvement: halved before iteration 6.
  const double validation[] = {1.0, 0.9, 0.895, 0.95, 0.92, 0.5, 0.6, 0.7, 0.8, 0.9, 0.9, 0.9};
  const double expected[] = {0.08, 0.08, 0.08, 0.08, 0.08, 0.04, 0.04, 0.04, 0.04, 0.02, 0.02, 0.02};
  for (long long i = 1; i <= 12; ++i) {
    EXPECT_EQ(schedule.rate(i), expected[i - 1]) << "iteration " << i;
    schedule.observe(i, 123.0, validation[i - 1]); // the train loss is not what counts
  }
  EXPECT_EQ(schedule.reductions(), 3); // after 5, 8 and 11
  EXPECT_EQ(schedule.rate(13), 0.01);
}

TEST(LrSchedule, PlateauWatchesTheTrainLossWithoutValidationAndStopsAtLrMin) {
  TrainParams p;
  p.lr_schedule = LrSchedule::plateau;
  p.lr = 1.0;
  p.lr_min = 0.3;
  p.plateau_patience = 1;
  p.improvement = 0;
  LearningRateSchedule schedule(p);
  schedule.observe(1, 2.0, nan);
  EXPECT_EQ(schedule.rate(2), 1.0);
  schedule.observe(2, 1.0, nan); // improved
  EXPECT_EQ(schedule.rate(3), 1.0);
  schedule.observe(3, 1.0, nan); // equal: not an improvement
  EXPECT_EQ(schedule.rate(4), 0.5);
  schedule.observe(4, std::numeric_limits<double>::infinity(), nan);
  EXPECT_EQ(schedule.rate(5), 0.3); // 0.25 floored
  schedule.observe(5, nan, nan);    // a NaN train loss never improves
  EXPECT_EQ(schedule.rate(6), 0.3);
  EXPECT_EQ(schedule.reductions(), 3);
}

} // namespace
} // namespace tessera
