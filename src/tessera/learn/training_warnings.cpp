#include "tessera/learn/training_warnings.hpp"

#include "tessera/core/units.hpp"
#include "tessera/learn/stopping_rule.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

namespace tessera {

namespace {

// What usually makes a loss explode, for the end of the divergence warnings.
std::string divergence_causes(const std::string& dataset_path) {
  return " (dataset " + dataset_path +
         "). Usual causes: times in another unit than minutes (tessera convert --time-unit h or day), "
         "unnormalised expression (log1p), or a step too large (lower train.lr)";
}

} // namespace

std::string raw_counts_warning(const TrajectoryDataset& dataset, const std::string& dataset_path) {
  double largest = 0;
  for (const double x : dataset.expression) {
    if (x != std::floor(x)) return "";
    largest = std::max(largest, std::abs(x));
  }
  if (largest <= raw_counts_max) return "";
  return dataset_path + " looks like raw counts (every expression value an integer, the largest " +
         format_number(largest) +
         "): tessera's gene models fit normalised, log-scale expression; normalise before converting, e.g. "
         "in scanpy sc.pp.normalize_total(adata); sc.pp.log1p(adata)";
}

std::string log_offset_warning(const TrajectoryDataset& dataset, double offset, const std::string& offset_key,
                               const std::string& dataset_path) {
  if (!(offset > 0.0)) return "";
  std::vector<double> positive;
  for (const double x : dataset.expression)
    if (x > 0.0) positive.push_back(x);
  if (positive.empty()) return "";
  const auto middle = positive.begin() + static_cast<std::ptrdiff_t>(positive.size() / 2);
  std::nth_element(positive.begin(), middle, positive.end());
  const double median = *middle;
  if (offset <= median) return "";
  return offset_key + " = " + format_number(offset) + " is above the median positive expression value of " +
         dataset_path + " (" + format_number(median) +
         "): most inputs lie below it, where log(x + offset) is nearly linear in x, so the log inputs act as "
         "linear ones; set " +
         offset_key + " to a few percent of that median";
}

std::string still_falling_warning(const std::vector<TrainRecord>& records, long long iterations,
                                  long long window) {
  if (window < 1 || records.size() < static_cast<std::size_t>(2 * window) ||
      records.back().iteration != iterations)
    return "";
  std::vector<double> train;
  train.reserve(records.size());
  for (const TrainRecord& r : records)
    train.push_back(r.train);
  const auto [last, before] = window_means(train, window);
  if (!(std::isfinite(last) && std::isfinite(before) && before > 0))
    return ""; // the divergence warnings' case
  const double fall = (before - last) / before;
  if (!(fall > still_falling_fraction)) return "";
  return "training used all " + std::to_string(iterations) +
         " iterations (train.iterations) with the train loss still falling: the mean of the last " +
         std::to_string(window) + " iterations (" + format_number(last) + ") is " +
         format_number(100.0 * fall) + " % below that of the " + std::to_string(window) + " before (" +
         format_number(before) +
         "); the model and the network read out of it may still change. Raise train.iterations (with "
         "train.stop_rel_loss to end the run where the loss levels off)";
}

std::string DivergenceWatch::observe(const TrainRecord& record) {
  // NaN validation means "no held-out times", not a failure.
  if (!std::isfinite(record.train) || std::isinf(record.validation)) {
    if (warned_non_finite_) return "";
    warned_non_finite_ = true;
    return "training loss is not finite at iteration " + std::to_string(record.iteration) + " (train " +
           format_number(record.train) + ", validation " + format_number(record.validation) + ")" +
           divergence_causes(dataset_path_);
  }
  if (!have_first_) {
    first_train_ = record.train;
    have_first_ = true;
  }
  // Both losses against the first train loss: a validation loss far above it is a trajectory that explodes
  // over the held-out (later) times.
  const auto grown = [&](double value, bool& warned, const char* which) {
    if (warned || !std::isfinite(value) || first_train_ <= 0 || !(value > divergence_factor * first_train_))
      return std::string();
    warned = true;
    return std::string("training diverges: the ") + which + " loss at iteration " +
           std::to_string(record.iteration) + " is " + format_number(value) + ", " +
           format_number(value / first_train_) + " times the first train loss (" +
           format_number(first_train_) + ")" + divergence_causes(dataset_path_);
  };
  std::string message = grown(record.train, warned_train_, "train");
  if (message.empty()) message = grown(record.validation, warned_validation_, "validation");
  return message;
}

} // namespace tessera
