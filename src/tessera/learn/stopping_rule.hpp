// When training stops before train.iterations (SPEC §3.5): the train loss no longer changing, a small
// gradient, or a validation loss that has not improved for train.patience iterations; and which iteration had
// the best validation loss (what train.keep_best keeps). Driven by the loss records alone, so replaying a
// checkpoint's history restores it exactly.
#pragma once

#include "tessera/learn/train_params.hpp"

#include <string>
#include <vector>

namespace tessera {

// The mean of the last `window` values and of the `window` before them (what train.stop_rel_loss compares,
// and the warning about a run that ended while its loss was still falling). Needs 2 * window values.
struct WindowMeans {
  double last = 0, before = 0;
};
WindowMeans window_means(const std::vector<double>& values, long long window);

class StoppingRule {
public:
  explicit StoppingRule(const TrainParams& params) : params_(params) {}

  // Takes iteration `iteration`'s record and returns why training stops after it, or "" to go on:
  //  - stop_rel_loss: the mean train loss of the last stop_window iterations differs from the mean of the
  //    stop_window before them by less than stop_rel_loss of the latter (means: AdamW's losses are over
  //    sampled windows and scatter from one iteration to the next);
  //  - stop_grad_norm: the gradient norm is below it;
  //  - patience: the validation loss has not improved (fallen below best - improvement |best|) for `patience`
  //    iterations.
  // A rule set to 0 is off. Once a reason is given it stays (stopped()).
  std::string observe(long long iteration, double train, double validation, double grad_norm);

  const std::string& stopped() const { return reason_; }
  // The iteration with the lowest validation loss so far (0: none finite yet) and that loss. The record of an
  // iteration holds the validation loss at the parameters its gradient was taken at.
  long long best_iteration() const { return best_iteration_; }
  double best_validation() const { return best_validation_; }
  // Whether the record just observed set a new lowest validation loss.
  bool improved_best() const { return improved_best_; }

private:
  TrainParams params_;
  std::vector<double> train_;
  std::string reason_;
  long long best_iteration_ = 0;
  double best_validation_ = 0.0;
  bool improved_best_ = false;
  double patience_best_ = 0.0;
  bool have_patience_best_ = false;
  long long since_improvement_ = 0;
};

} // namespace tessera
