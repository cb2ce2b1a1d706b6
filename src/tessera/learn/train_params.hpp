// The deck's `train` section (SPEC §3.2, §3.5): the dataset (or a simulation that makes it), the objective's
// mode and sampling, the integrator of the forward and adjoint solves, the optimizer and its settings,
// progress and checkpoints.
#pragma once

#include "tessera/core/keys.hpp"

#include <cmath>
#include <string>

namespace tessera {

class Deck;

enum class TrainMode { one_step, window, full };
enum class TrainOptimizer { adamw, lbfgs };

struct TrainParams {
  std::string dataset;   // resolved path; empty with `simulate`
  bool simulate = false; // make the dataset by running the deck's `hill` simulation first
  std::string prior;     // resolved path of a prior gene graph table; empty: see train.prior's doc
  TrainMode mode = TrainMode::one_step;
  long long window = 4; // observation intervals per window (`window` mode)
  long long iterations = 100;
  long long time_points_per_iter = 4; // sampled start times per iteration
  bool use_cvode = false;             // CVODES forward/adjoint (tolerances from `time`) instead of rk4
  double cvode_backward_factor = 1.0; // CVODES backward tolerances = forward's x this
  double dt = 0.1;                    // rk4 step, min
  TrainOptimizer optimizer = TrainOptimizer::adamw;
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weight_decay = 0.0;      // decoupled (AdamW); an L2 term 0.5 weight_decay |theta|^2 with lbfgs
  double l1 = 0.0;                // l1 * |W|_1 over the weight tensors
  double clip = INFINITY;         // gradient-norm clipping; infinity: off
  double val_fraction = 0.0;      // last observation times held out
  long long progress_every = 1;   // iterations between progress lines
  long long checkpoint_every = 0; // iterations between checkpoints; 0: none
};

const KeyTable& train_keys();
// Reads `train`; `train.dataset` must be given unless `train.simulate` (input_error naming the key
// otherwise). Not collective.
TrainParams read_train_params(const Deck& deck);

} // namespace tessera
