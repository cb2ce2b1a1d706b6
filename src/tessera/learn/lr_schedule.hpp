// The learning rate of each AdamW iteration (SPEC §3.5): constant, cosine decay to train.lr_min, or reduced
// by train.plateau_factor when the monitored loss stops improving; a linear warm-up in front of any of them.
// Driven by the loss records alone, so replaying a checkpoint's history restores it exactly.
#pragma once

#include "tessera/learn/train_params.hpp"

namespace tessera {

class LearningRateSchedule {
public:
  explicit LearningRateSchedule(const TrainParams& params) : params_(params) {}

  // The rate of iteration `iteration` (1-based) given the iterations observed so far:
  //   warm-up (iteration <= warmup): lr * iteration / warmup;
  //   constant: lr;  plateau: max(lr * factor^reductions, lr_min);
  //   cosine: lr_min + (lr - lr_min) (1 + cos(pi (iteration - 1 - warmup) / (iterations - warmup))) / 2.
  // `constant` without warm-up is train.lr itself, bit for bit.
  double rate(long long iteration) const;

  // After iteration `iteration`: `plateau` watches the validation loss, or the train loss where validation is
  // NaN (no held-out times). A loss below best - improvement |best| is an improvement; plateau_patience
  // iterations in a row without one multiply the rate by plateau_factor and start the count again.
  // Non-finite losses never improve.
  void observe(long long iteration, double train, double validation);

  int reductions() const { return reductions_; }

private:
  TrainParams params_;
  double best_ = 0.0;
  bool have_best_ = false;
  long long since_improvement_ = 0;
  int reductions_ = 0;
};

} // namespace tessera
