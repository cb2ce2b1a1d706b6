// Tests of the training warnings: raw counts recognised (integers with a large maximum) and not raised for
// normalised or small integer data; a log-input offset above the data's median positive value warned about;
// a diverging or non-finite loss warned about once, naming the dataset, and a loss that falls or wobbles left
// alone.
#include "tessera/learn/training_warnings.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

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

} // namespace
} // namespace tessera
