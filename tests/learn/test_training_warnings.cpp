// Tests of the training warnings: raw counts recognised (integers with a large maximum) and not raised for
// normalised or small integer data; a log-input offset above the data's median positive value warned about;
// a diverging or non-finite loss warned about once, naming the dataset, and a loss that falls or wobbles left
// alone; a run that used every iteration with its loss still falling (window means, as train.stop_rel_loss
// compares them) warned about, and a levelled-off, stopped-early or short run not.
#include "tessera/learn/training_warnings.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace tessera {
namespace {

TrajectoryDataset with_expression(const std::vector<double>& values) {
  TrajectoryDataset ds;
  ds.expression = values;
  return ds;
}

TEST(RawCounts, IntegersWithALargeMaximum) {
  EXPECT_EQ(
      raw_counts_warning(with_expression({0, 3, 1200, 7}), "data/counts.h5"),
      "data/counts.h5 looks like raw counts (every expression value an integer, the largest 1200): "
      "tessera's gene models fit normalised, log-scale expression; normalise before converting, e.g. in "
      "scanpy sc.pp.normalize_total(adata); sc.pp.log1p(adata)");
  // log1p-normalised values, small integer data (binary or a few counts) and one fraction among counts pass.
  EXPECT_EQ(raw_counts_warning(with_expression({0, std::log1p(1200.0), 2.5}), "a.h5"), "");
  EXPECT_EQ(raw_counts_warning(with_expression({0, 1, 50, 3}), "a.h5"), "");
  EXPECT_EQ(raw_counts_warning(with_expression({0, 51.5, 1200}), "a.h5"), "");
}

TEST(LogOffset, WarnsWhenTheOffsetIsAboveMostOfTheData) {
  // Positive values 0.01 .. 0.05 (median 0.03; zeros are dropouts and do not count): 0.05 is above it.
  const auto small = with_expression({0, 0, 0.01, 0.02, 0.03, 0.04, 0.05});
  EXPECT_EQ(
      log_offset_warning(small, 0.05, "grn.sigmoid.log_offset", "data/small.h5"),
      "grn.sigmoid.log_offset = 0.05 is above the median positive expression value of data/small.h5 "
      "(0.03): most inputs lie below it, where log(x + offset) is nearly linear in x, so the log inputs "
      "act as linear ones; set grn.sigmoid.log_offset to a few percent of that median");
  // An offset below the median, a model without log inputs (offset 0), data with no positive value: none.
  EXPECT_EQ(log_offset_warning(small, 0.001, "grn.sigmoid.log_offset", "a.h5"), "");
  EXPECT_EQ(log_offset_warning(small, 0.0, "grn.sigmoid.log_offset", "a.h5"), "");
  EXPECT_EQ(log_offset_warning(with_expression({0, 0, -1}), 0.05, "grn.sigmoid.log_offset", "a.h5"), "");
  // The generated recovery data (genes start uniform in [0, 1.5-3)) sit far above the default offset.
  EXPECT_EQ(log_offset_warning(with_expression({0.2, 0.9, 1.4, 2.1}), 0.05, "grn.sigmoid.log_offset", "a.h5"),
            "");
}

TrainRecord record(long long iteration, double train, double validation) {
  TrainRecord r;
  r.iteration = iteration;
  r.train = train;
  r.validation = validation;
  return r;
}

TEST(Divergence, WarnsOnceWhenTheTrainLossGrowsAThousandfold) {
  DivergenceWatch watch("data.h5");
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(watch.observe(record(1, 5e11, nan)), "");
  EXPECT_EQ(watch.observe(record(2, 4e14, nan)), ""); // 800 x: not yet
  const std::string message = watch.observe(record(3, 7e14, nan));
  EXPECT_EQ(message,
            "training diverges: the train loss at iteration 3 is 7e+14, 1400 times the first train loss "
            "(5e+11) (dataset data.h5). Usual causes: times in another unit than minutes (tessera "
            "convert --time-unit h or day), unnormalised expression (log1p), or a step too large "
            "(lower train.lr)");
  EXPECT_EQ(watch.observe(record(4, 1e16, nan)), ""); // once
}

TEST(Divergence, ValidationFarAboveTheFirstTrainLoss) {
  DivergenceWatch watch("data.h5");
  EXPECT_EQ(watch.observe(record(1, 5e11, 4e12)), "");
  const std::string message = watch.observe(record(2, 4e11, 7e23));
  EXPECT_NE(message.find("the validation loss at iteration 2 is 7e+23, 1.4e+12 times the first train loss"),
            std::string::npos)
      << message;
}

TEST(Divergence, NonFiniteLossWarnedOnce) {
  DivergenceWatch watch("x/data.h5");
  EXPECT_EQ(watch.observe(record(1, 0.5, 0.4)), "");
  const std::string message = watch.observe(record(2, std::numeric_limits<double>::infinity(), 0.4));
  EXPECT_NE(message.find("training loss is not finite at iteration 2 (train inf, validation 0.4) (dataset "
                         "x/data.h5)"),
            std::string::npos)
      << message;
  EXPECT_EQ(watch.observe(record(3, std::nan(""), 0.4)), "");
}

TEST(Divergence, DecreasingOrNoisyLossIsLeftAlone) {
  DivergenceWatch watch("data.h5");
  const double values[] = {1.0, 0.5, 3.0, 200.0, 0.01, 999.0};
  for (long long k = 0; k < 6; ++k)
    EXPECT_EQ(watch.observe(record(k + 1, values[k], std::numeric_limits<double>::quiet_NaN())), "");
}

// Records 1..n with train loss f(iteration).
template <class F>
std::vector<TrainRecord> run_of(long long n, F f) {
  std::vector<TrainRecord> records;
  for (long long k = 1; k <= n; ++k)
    records.push_back(record(k, f(k), std::numeric_limits<double>::quiet_NaN()));
  return records;
}

TEST(StillFalling, WarnsWhenTheLastWindowIsClearlyBelowTheOneBefore) {
  // 1 / k over 20 iterations: the mean of 11..20, (H_20 - H_10) / 10 = 0.0668771, is 1 - 0.22833 = 77.167 %
  // below that of 1..10, H_10 / 10 = 0.292897 (H_n the harmonic numbers).
  const auto records = run_of(20, [](long long k) { return 1.0 / static_cast<double>(k); });
  EXPECT_EQ(still_falling_warning(records, 20, 10),
            "training used all 20 iterations (train.iterations) with the train loss still falling: the mean "
            "of the last 10 iterations (0.0668771) is 77.167 % below that of the 10 before (0.292897); the "
            "model and the network read out of it may still change. Raise train.iterations (with "
            "train.stop_rel_loss to end the run where the loss levels off)");
  // Only the last 2 windows count: a long run falling by 0.2 % per step is 1 - 0.998^10 = 2 % lower per
  // window.
  const auto slow = run_of(100, [](long long k) { return std::pow(0.998, static_cast<double>(k)); });
  EXPECT_NE(still_falling_warning(slow, 100, 10), "");
}

TEST(StillFalling, LevelledStoppedOrShortRunsAreLeftAlone) {
  // Falling 0.5 % per window, and a loss that scatters around a level (AdamW's sampled windows): no warning.
  const auto levelled = run_of(40, [](long long k) { return std::pow(0.9995, static_cast<double>(k)); });
  EXPECT_EQ(still_falling_warning(levelled, 40, 10), "");
  const auto noisy = run_of(40, [](long long k) { return k % 2 == 0 ? 1.0 : 1.01; });
  EXPECT_EQ(still_falling_warning(noisy, 40, 10), "");
  // A rising loss is the divergence warnings' business.
  const auto rising = run_of(40, [](long long k) { return static_cast<double>(k); });
  EXPECT_EQ(still_falling_warning(rising, 40, 10), "");
  // Stopped before train.iterations (a stopping rule, TAO's tolerances, a signal), or too few records.
  const auto falling = run_of(30, [](long long k) { return 1.0 / static_cast<double>(k); });
  EXPECT_EQ(still_falling_warning(falling, 50, 10), "");
  EXPECT_EQ(
      still_falling_warning(run_of(19, [](long long k) { return 1.0 / static_cast<double>(k); }), 19, 10),
      "");
  EXPECT_EQ(still_falling_warning(falling, 30, 0), "");
}

} // namespace
} // namespace tessera
