// The training loop of `tessera train` (SPEC §3.2, §3.5): which observation windows each iteration uses
// (seeded sampling, validation split, the three modes), the l1 term, AdamW iterations with progress records
// and checkpoint hooks, and the central-difference check of the gradient.
#pragma once

#include "tessera/grn/trainable_model.hpp"
#include "tessera/learn/adamw.hpp"
#include "tessera/learn/objective.hpp"
#include "tessera/learn/train_params.hpp"

#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace tessera {

// Start indices: training pairs (k, k+1) use k in [0, n_train - 1), validation pairs k in [n_train - 1,
// n_times - 1), n_train = n_times - floor(val_fraction * n_times) (at least 2).
struct TimeSplit {
  int n_train = 0, n_times = 0;
  std::vector<int> train_starts, validation_starts;
};
TimeSplit split_times(std::size_t n_times, double val_fraction);

// `count` distinct training starts for `iteration` (all of them, in order, when count >= their number):
// a partial Fisher-Yates shuffle driven by CounterRng{seed}, the same on every rank. Being counter-based,
// the iteration number is the whole position of the sampling stream (what a checkpoint needs).
std::vector<int> sample_starts(const std::vector<int>& train_starts, long long count, std::uint64_t seed,
                               long long iteration);

// The windows of iteration `iteration`: one_step (k, k+1) and window (k, min(k + window, n_train - 1)) at
// the sampled starts; full: (0, n_train - 1). Windows never reach the held-out times.
std::vector<ObservationWindow> training_windows(const TrainParams& params, const TimeSplit& split,
                                                std::uint64_t seed, long long iteration);
// Every training window (what lbfgs evaluates: a deterministic objective).
std::vector<ObservationWindow> all_training_windows(const TrainParams& params, const TimeSplit& split);
// The validation windows: one_step (k, k+1) over the validation starts; window mode the same starts with
// windows capped at the last time; full: (n_train - 1, n_times - 1), the forecast from the last training
// time. Empty without held-out times.
std::vector<ObservationWindow> validation_windows(const TrainParams& params, const TimeSplit& split);

// Checks that the deck's genes and cell types are the dataset's (same names, same order); input_error
// naming the first difference.
void check_dataset_matches(const TrajectoryDataset& dataset, const std::vector<std::string>& genes,
                           const std::vector<std::string>& cell_types, const std::string& dataset_path);
// Checks that the dataset has the deck's dimension and every position (each time point's, when they move)
// lies in the deck's box domain.lo .. domain.hi, where the objective places the cells on ranks; input_error
// naming the file, the cell, the time, the coordinate and the domain keys.
void check_dataset_in_domain(const TrajectoryDataset& dataset, const Domain& domain,
                             const std::string& dataset_path);

// l1 * |W|_1 over the weight tensors (Glorot-initialised: projections, attention vectors, MLP matrices);
// adds its subgradient l1 * sign(w) to `gradient` (unless it is empty) and returns the penalty. Identical on
// every rank.
double add_l1_penalty(const ModelParameters& parameters, double l1, const ParameterGradient& gradient);

// 0.5 l2 |W|^2 over the same weight tensors as add_l1_penalty (a ridge penalty: not on biases, rates or
// decays, and a term of the loss under either optimizer, unlike AdamW's decoupled weight decay); adds its
// gradient l2 * w to `gradient` (unless it is empty) and returns the penalty. Identical on every rank.
double add_l2_penalty(const ModelParameters& parameters, double l2, const ParameterGradient& gradient);

// The terms of the objective the configured optimizer minimises (SPEC §3.2) at the model's parameters.
// `data`: the MSE over the windows; `l1`: train.l1 * |W|_1 (adamw; lbfgs minimises it exactly on split
// variables instead, see lbfgs.hpp); `l2`: 0.5 train.l2 |W|^2 (both optimizers); `group_lasso`:
// train.group_lasso over the model's regulator_groups() (both optimizers; group_lasso.hpp); `weight_decay`:
// 0.5 train.weight_decay * |theta|^2 under lbfgs, which minimises it with the data term. AdamW's weight decay
// is decoupled (a shrink of theta in the step, not a loss term), so it is 0 there.
struct ObjectiveTerms {
  double data = 0.0, l1 = 0.0, l2 = 0.0, group_lasso = 0.0, weight_decay = 0.0;
  double total() const { return data + l1 + l2 + group_lasso + weight_decay; }
};
// Evaluates the terms over `windows` and, unless `gradient` is empty, the (sub)gradient of their total.
// What train_adamw, train_lbfgs, --gradient-only and --check-gradient all use. Collective.
ObjectiveTerms training_objective(const TrajectoryObjective& objective, TrainableGeneModel& model,
                                  const TrainParams& params, const std::vector<ObservationWindow>& windows,
                                  ParameterGradient gradient);

// One row of loss.csv. lr: the learning rate of the iteration's step (NaN under lbfgs, which has none).
struct TrainRecord {
  long long iteration = 0;
  double train = 0, validation = 0, grad_norm = 0, wall_s = 0;
  double lr = NAN;
};

// Where a training run stands: iterations done and their records (a checkpoint restores both), why it
// stopped early ("" while it goes on or when it ran every iteration), and under train.keep_best the
// parameters at which the lowest validation loss so far was seen (flattened as ModelParameters::values(),
// the set index slowest) and that iteration (0: none yet). The learning-rate schedule and the stopping rules
// are functions of the records, so a restart replays them; the best parameters travel in checkpoint.h5.
struct TrainProgress {
  long long iteration = 0;
  std::vector<TrainRecord> records;
  std::string stopped;
  long long best_iteration = 0;
  std::vector<double> best_parameters;
};

// AdamW iterations progress.iteration + 1 .. params.iterations: iteration i evaluates the loss and gradient
// on training_windows(params, split, seed, i) (plus the l1 term), the validation loss (NaN without held-out
// times) at the same parameters, then steps with the learning rate LearningRateSchedule gives it. `train` in
// the record is the data loss plus the l1 penalty. After each iteration the StoppingRule may end the run
// (progress.stopped says why); under train.keep_best, progress keeps the parameters of the lowest validation
// loss. Both are first replayed over progress.records (a restart). `report` (may be empty) gets each record
// after it is appended to `progress`; `after_step` (may be empty) runs after each iteration (checkpoints);
// then `stop_requested` (may be empty; collective, the same answer on every rank: StopPoll::poll) ends the
// loop when it returns true (a signal or the wall-clock limit), leaving progress at that iteration.
// wall_s continues from the last record's. Collective.
void train_adamw(const TrajectoryObjective& objective, TrainableGeneModel& model, const TrainParams& params,
                 std::uint64_t seed, AdamW& optimizer, TrainProgress& progress,
                 const std::function<void(const TrainRecord&)>& report,
                 const std::function<void(const TrainProgress&)>& after_step,
                 const std::function<bool()>& stop_requested = {});

// Central differences of the whole objective (training_objective(...).total(): every term, as the optimizer
// sees it) over `windows` against `gradient` on `count` parameters drawn by CounterRng{seed}, step h = 1e-6
// max(1, |theta|). Parameters whose loss has a kink within 2h (second differences at h and 2h disagree;
// typical for zero biases of dead ReLU units, or a weight within 2h of 0 under l1, where the gradient is a
// subgradient) are counted, not compared; so are those where central differences at h and 2h disagree
// beyond a smooth function's terms (many small kinks). worst: the largest (|fd - g| - 10 rounding) /
// max(|fd|, |g|, 1e-6 max|g|) over the others, rounding = 1e-16 |L| / h. Collective.
struct GradientCheck {
  double worst = 0.0;
  int checked = 0, at_kinks = 0;
};
GradientCheck check_gradient(const TrajectoryObjective& objective, TrainableGeneModel& model,
                             const TrainParams& params, const std::vector<ObservationWindow>& windows,
                             const ParameterGradient& gradient, int count, std::uint64_t seed);

} // namespace tessera
