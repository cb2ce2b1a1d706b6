// Gradient matching (`train.prefit: derivative`): before the trajectory fit, the model's RHS is fitted to
// the data's derivative, min_theta sum_rows |f_theta(x(t_k), s(t_k)) - dx/dt(t_k)|^2, with no ODE solve.
// The trajectory fit from a warm start is slow to close the last orders of magnitude of its loss (each
// L-BFGS step costs a forward and an adjoint integration of every window); this objective costs one RHS and
// one VJP per observation time, so thousands of steps are cheap, and its minimiser is the true parameters up
// to the derivative's O(dt^2) error when the model class holds the data's dynamics (hill on hill data).
#pragma once

#include "tessera/learn/objective.hpp"
#include "tessera/learn/trainer.hpp"

#include <string>
#include <vector>

namespace tessera {

// The times whose derivative is matched: the interior training times k (1 <= k <= n_train - 2), whose
// central difference reads only training observations (never the held-out ones).
std::vector<int> derivative_times(const TimeSplit& split);

// dx/dt at time index k (0 < k < n_times - 1) of cell `row`, gene g: the second-order central difference
// of the observations at k - 1, k, k + 1 for unequal intervals h1 = t_k - t_{k-1}, h2 = t_{k+1} - t_k:
// (-h2^2 x_{k-1} + (h2^2 - h1^2) x_k + h1^2 x_{k+1}) / (h1 h2 (h1 + h2)).
double central_derivative(const TrajectoryDataset& dataset, int k, std::size_t row, std::size_t g);

// L(theta) = 1 / (|times| N G) sum_{k in times} sum_{cells, genes} (f_theta(x(t_k)) - dx/dt(t_k))^2, the
// model evaluated on the tissue of time k as the objective builds it (signalling included); when `gradient`
// is not empty it is overwritten with dL/dtheta (the model's parameter VJP). Times go round-robin to the
// objective's groups; the loss and gradient are summed over all ranks, so every rank gets the same.
// Collective on the objective's communicator.
double derivative_matching_loss(const TrajectoryObjective& objective, TrainableGeneModel& model,
                                const std::vector<int>& times, ParameterGradient gradient);

struct PrefitResult {
  double initial_loss = 0.0, final_loss = 0.0; // derivative_matching_loss before and after
  long long iterations = 0;
  std::string reason; // TAO's converged reason; "no derivative rows" when there were none
};

// Minimises derivative_matching_loss over derivative_times(split) plus 0.5 l2 |W|^2 (add_l2_penalty: the
// same ridge penalty as the trajectory fit's train.l2) from the model's current parameters by TAO's L-BFGS
// (at most `iterations` steps, in lockstep on every rank); the model keeps the end point. The losses in the
// result include the penalty. `tao_from_options`: petsc::LmvmOptions::from_options (train.tao_from_options).
// Needs a live petsc::Session. Collective.
PrefitResult prefit_derivatives(const TrajectoryObjective& objective, TrainableGeneModel& model,
                                const TimeSplit& split, long long iterations, double l2 = 0.0,
                                bool tao_from_options = true);

} // namespace tessera
