// Warnings about a training run that tessera can carry out but that is probably not what the user meant: data
// that look like raw counts, a log-input offset above most of the data, a loss that diverges (times in
// the wrong unit, unnormalised data, a step too large), and a run that ended while its loss was still
// falling. Each returns the message (naming the dataset where it is about one) or "" and leaves logging to
// the caller.
#pragma once

#include "tessera/learn/dataset.hpp"
#include "tessera/learn/trainer.hpp"

#include <string>
#include <vector>

namespace tessera {

// Counts look like this: every expression value an integer and the largest above this.
inline constexpr double raw_counts_max = 50.0;

// A warning when every value of /expression is an integer and the largest exceeds raw_counts_max: the model
// fits normalised, log-scale expression, and counts in the thousands make the loss huge.
std::string raw_counts_warning(const TrajectoryDataset& dataset, const std::string& dataset_path);

// A warning when a model reads log inputs u(x) = log(max(x, 0) + offset) (`sigmoid` with grn.sigmoid.inputs:
// log; offset 0 for every other model: no warning) whose offset is above the median of the dataset's positive
// expression values: most inputs then lie below it, where u is nearly linear in x, so the model does not get
// the Hill-shaped terms log inputs are for. `offset_key` names the deck key in the message.
std::string log_offset_warning(const TrajectoryDataset& dataset, double offset, const std::string& offset_key,
                               const std::string& dataset_path);

// A run counts as still falling when the mean train loss of its last `window` iterations is more than this
// fraction below the mean of the `window` before.
inline constexpr double still_falling_fraction = 0.01;

// A warning when a run that used every one of its `iterations` ends with the train loss still falling (means
// over `window` records, train.stop_window, as train.stop_rel_loss compares them): the fitted model, and the
// network read out of it, may still change with more iterations. `hill` on fresh motif networks ranked two
// types below the ridge baseline after 100 iterations and every type perfectly after 1000
// (docs/performance.md, "Inference"). "" when the run stopped before `iterations`, has fewer than
// 2 * window records, or levelled off.
std::string still_falling_warning(const std::vector<TrainRecord>& records, long long iterations,
                                  long long window);

// Watches loss.csv's records as they come: warns once when a loss is not finite, and once per loss (train,
// validation) when it exceeds divergence_factor times the first train loss.
class DivergenceWatch {
public:
  static constexpr double divergence_factor = 1e3;

  explicit DivergenceWatch(std::string dataset_path) : dataset_path_(std::move(dataset_path)) {}
  // The warning for this record, or "".
  std::string observe(const TrainRecord& record);

private:
  std::string dataset_path_;
  double first_train_ = 0;
  bool have_first_ = false;
  bool warned_non_finite_ = false, warned_train_ = false, warned_validation_ = false;
};

} // namespace tessera
