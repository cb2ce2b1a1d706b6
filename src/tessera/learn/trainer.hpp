// Training the `graph_ode` model (SPEC §3): the one_step objective over a trajectory dataset with its exact
// gradient (rk4 discrete adjoint, reverse halo, allreduce over ranks), AdamW, and the loop of `tessera
// train`.
#pragma once

#include "tessera/grn/graph_ode.hpp"
#include "tessera/grn/signaling.hpp"
#include "tessera/learn/dataset.hpp"
#include "tessera/learn/train_params.hpp"
#include "tessera/parallel/decomposition.hpp"
#include "tessera/tissue/cells.hpp"
#include "tessera/tissue/domain.hpp"

#include <mpi.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace tessera {

// The one_step loss
//   L = 1/(S N G) sum_{k in starts} sum_{cells, genes} (x_pred(t_{k+1}; x_obs(t_k)) - x_obs(t_{k+1}))^2
// where each start k builds the tissue at t_k from the dataset (every rank keeps the cells whose position at
// t_k lies in its box; ghosts, neighbour list and signalling graph frozen over [t_k, t_{k+1}]) and integrates
// it by rk4 with step <= dt. Collective on the decomposition's communicator.
class OneStepObjective {
public:
  // Throws input_error when a position lies outside the domain or the rank boxes are narrower than
  // signaling.range (agreed across ranks).
  // `dataset` must outlive the objective.
  OneStepObjective(MPI_Comm comm, const Domain& domain, std::array<int, 3> rank_grid,
                   SignalingParams signaling, const TrajectoryDataset& dataset, double dt);

  // The loss over `starts` (indices k with k + 1 < n_times, repeats allowed); when `gradient` is not empty
  // it is overwritten with dL/dtheta (sets x values per set), summed over ranks: every rank gets the same.
  double evaluate(GraphOdeModel& model, const std::vector<int>& starts, ParameterGradient gradient) const;

  // The tissue at time index k as evaluate() builds it: this rank's cells (dataset rows `rows`, in dataset
  // order; ghosts after them), the model's cell types and signalling set, x = the observed state at t_k;
  // then `visit(cells, x, rows)`, after which the model's signalling is unset. Collective.
  void visit_tissue(GraphOdeModel& model, int k,
                    const std::function<void(const Cells<>& cells, GeneState x,
                                             const std::vector<std::size_t>& rows)>& visit) const;

  std::size_t owned_cells(int start) const; // this rank's cells at time index `start`
  const CartesianDecomposition& decomposition() const { return *decomposition_; }
  const TrajectoryDataset& dataset() const { return *dataset_; }

private:
  MPI_Comm comm_;
  Domain domain_;
  SignalingParams signaling_;
  const TrajectoryDataset* dataset_;
  double dt_;
  std::unique_ptr<CartesianDecomposition> decomposition_;
};

// Adam with decoupled weight decay (AdamW) and gradient-norm clipping over one flat parameter vector, on the
// host; every rank applying it to the same gradient keeps identical parameters.
class AdamW {
public:
  explicit AdamW(const TrainParams& params) : params_(params) {}
  // Clips the gradient to params.clip (in place), then theta <- theta - lr (m_hat / (sqrt(v_hat) + eps) +
  // weight_decay theta). Returns the norm of the gradient before clipping.
  double step(GraphOdeParameters& parameters, const ParameterGradient& gradient);
  long long steps() const { return t_; }
  const std::vector<double>& first_moment() const { return m_; }
  const std::vector<double>& second_moment() const { return v_; }

private:
  TrainParams params_;
  long long t_ = 0;
  std::vector<double> m_, v_;
};

// Start indices: training pairs (k, k+1) use k in [0, n_train - 1), validation pairs k in [n_train - 1,
// n_times - 1), n_train = n_times - floor(val_fraction * n_times) (at least 2).
struct TimeSplit {
  int n_train = 0;
  std::vector<int> train_starts, validation_starts;
};
TimeSplit split_times(std::size_t n_times, double val_fraction);

// `count` distinct training starts for `iteration` (all of them, in order, when count >= their number):
// a partial Fisher-Yates shuffle driven by CounterRng{seed}, the same on every rank.
std::vector<int> sample_starts(const std::vector<int>& train_starts, long long count, std::uint64_t seed,
                               long long iteration);

// Checks that the deck's genes and cell types are the dataset's (same names, same order); input_error
// naming the first difference.
void check_dataset_matches(const TrajectoryDataset& dataset, const std::vector<std::string>& genes,
                           const std::vector<std::string>& cell_types, const std::string& dataset_path);

// One row of loss.csv.
struct TrainRecord {
  long long iteration = 0;
  double train = 0, validation = 0, grad_norm = 0, wall_s = 0;
};

// The training loop: `params.iterations` steps of `optimizer` (built from params) on the one_step loss,
// iteration i sampling its starts with sample_starts(..., seed, i); the train loss and validation loss (NaN
// without held-out times) are those of the parameters before the step. `report` (may be empty) gets each
// iteration's record. Collective.
std::vector<TrainRecord> train_one_step(const OneStepObjective& objective, GraphOdeModel& model,
                                        const TrainParams& params, std::uint64_t seed, AdamW& optimizer,
                                        const std::function<void(const TrainRecord&)>& report);

// Central differences of the loss against `gradient` on `count` parameters drawn by CounterRng{seed}, step
// h = 1e-6 max(1, |theta|). Parameters whose loss has a ReLU kink within 2h (second differences at h and 2h
// disagree; typical for zero biases of dead units, where the gradient is a subgradient) are counted, not
// compared; so are those where central differences at h and 2h disagree beyond a smooth function's terms
// (many small kinks). worst: the largest (|fd - g| - 10 rounding) / max(|fd|, |g|, 1e-6 max|g|) over the
// others, rounding = 1e-16 |L| / h. Collective.
struct GradientCheck {
  double worst = 0.0;
  int checked = 0, at_kinks = 0;
};
GradientCheck check_gradient(const OneStepObjective& objective, GraphOdeModel& model,
                             const std::vector<int>& starts, const ParameterGradient& gradient, int count,
                             std::uint64_t seed);

} // namespace tessera
