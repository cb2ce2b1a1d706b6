// The deck's `train` section (SPEC §3.2, §3.5): the dataset, the objective's mode and sampling, the rk4 step
// of the discrete adjoint, and AdamW's settings.
#pragma once

#include "tessera/core/keys.hpp"

#include <cmath>
#include <string>

namespace tessera {

class Deck;

enum class TrainMode { one_step };

struct TrainParams {
  std::string dataset; // resolved path
  TrainMode mode = TrainMode::one_step;
  long long iterations = 100;
  long long time_points_per_iter = 4; // sampled start times per iteration
  double dt = 0.1;                    // rk4 step, min
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weight_decay = 0.0; // decoupled (AdamW)
  double clip = INFINITY;    // gradient-norm clipping; infinity: off
  double val_fraction = 0.0; // last observation times held out
};

const KeyTable& train_keys();
// Reads `train`; `train.dataset` must be given (input_error naming the key otherwise). Not collective.
TrainParams read_train_params(const Deck& deck);

} // namespace tessera
