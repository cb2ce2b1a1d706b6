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
enum class LrSchedule { constant, cosine, plateau };
// automatic: derivative when the model family asks for it (TrainableModelSpec::prefit_by_default).
enum class TrainPrefit { automatic, none, derivative };

struct TrainParams {
  std::string dataset;   // resolved path; empty with `simulate`
  bool simulate = false; // make the dataset by running the deck's `hill` simulation first
  std::string model;     // train.model as written; empty: see train.model's doc
  std::string prior;     // resolved path of a prior gene graph table; empty: see train.prior's doc
  TrainMode mode = TrainMode::one_step;
  long long window = 4; // observation intervals per window (`window` mode)
  long long iterations = 100;
  long long time_points_per_iter = 4; // sampled start times per iteration
  bool use_cvode = false;             // CVODES forward/adjoint (tolerances from `time`) instead of rk4
  double cvode_backward_factor = 1.0; // CVODES backward tolerances = forward's x this
  double dt = 0.1;                    // rk4 step, min
  TrainOptimizer optimizer = TrainOptimizer::adamw;
  TrainPrefit prefit = TrainPrefit::automatic;
  long long prefit_iterations = 300; // L-BFGS steps of the derivative pre-fit
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weight_decay = 0.0;      // decoupled (AdamW); an L2 term 0.5 weight_decay |theta|^2 with lbfgs
  double l1 = 0.0;                // l1 * |W|_1 over the weight tensors
  double l2 = 0.0;                // 0.5 l2 |W|^2 over the same tensors (a term of the loss)
  double group_lasso = 0.0;       // group lasso over the model's regulator groups (group_lasso.hpp)
  double clip = INFINITY;         // gradient-norm clipping; infinity: off
  double val_fraction = 0.0;      // last observation times held out
  long long progress_every = 1;   // iterations between progress lines
  long long checkpoint_every = 0; // iterations between checkpoints; 0: none

  // The learning rate over the iterations (AdamW; lr_schedule.hpp) and when to stop early
  // (stopping_rule.hpp). The defaults are a constant train.lr and all `iterations`.
  LrSchedule lr_schedule = LrSchedule::constant;
  long long warmup = 0;            // iterations of linear warm-up
  double lr_min = 0.0;             // floor of cosine and plateau
  double plateau_factor = 0.5;     // rate multiplier at each plateau
  long long plateau_patience = 10; // iterations without improvement that make a plateau
  double improvement = 1e-4;       // relative fall of a loss that counts as improving (plateau, patience)
  double stop_rel_loss = 0.0;      // 0: off
  long long stop_window = 10;      // iterations per mean of stop_rel_loss
  double stop_grad_norm = 0.0;     // 0: off
  long long patience = 0;          // validation patience; 0: off
  bool tao_from_options = true;    // TAO configured by TaoSetFromOptions (petsc::LmvmOptions)
  bool keep_best = false;          // model.h5 holds the best-validation parameters
};

const KeyTable& train_keys();
// Reads `train`; `train.dataset` must be given unless `train.simulate` (input_error naming the key
// otherwise). Not collective.
TrainParams read_train_params(const Deck& deck);

} // namespace tessera
