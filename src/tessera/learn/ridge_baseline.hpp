// The baselines a learned model must beat (SPEC §3.5), fitted by tessera itself on the training data and the
// model's candidate edges: per (cell type, target gene) a ridge regression of the finite-difference
// derivative on the candidate regulators, the target itself and its received ligand signals; a per-gene
// linear relaxation; and "no change". Scored as networks (metrics.hpp) and as one-step predictors.
#pragma once

#include "tessera/grn/signaling.hpp"
#include "tessera/learn/objective.hpp"
#include "tessera/learn/trainer.hpp"

#include <string>
#include <vector>

namespace tessera {

// One column of a target's design: a candidate regulator's value x_ij, the target's own value x_ik (its
// decay), or the signal s_iq = sum_n w(d_in) x_n,ligand(q) of LR pair q received by cell i.
struct Regressor {
  enum Kind { regulator, self, ligand } kind = regulator;
  int index = 0; // gene (regulator, self) or LR pair (ligand)
};

// dx_k/dt ~ intercept + sum_a coefficient[a] * z_a for the cells of one type.
struct DerivativeFit {
  std::vector<Regressor> regressors;
  std::vector<double> coefficient;  // in the units of z_a and dx/dt
  std::vector<double> standardised; // coefficient[a] * sd(z_a) / sd(dx_k/dt): comparable across regressors
  double intercept = 0.0;
  std::vector<double> mean;  // per regressor: its mean over the training rows (the data's operating point)
  double observations = 0.0; // training rows (cells of the type x training pairs)
};

struct DerivativeBaselines {
  // [cell type][target gene]; `ridge` is empty when it was not fitted (see fit_derivative_baselines).
  std::vector<std::vector<DerivativeFit>> ridge, relaxation;
  std::vector<double> lambdas;        // the ridge penalties tried (on standardised regressors)
  std::vector<double> validation_sse; // sum over validation pairs, cells, genes of the one-step error^2
  double lambda = 0.0;                // the penalty chosen (NaN when the ridge was not fitted)
  std::string selection;              // how it was chosen, or why the ridge was not fitted
  // One-step validation MSE (x(t_k) + (t_{k+1} - t_k) * derivative against x(t_{k+1})), NaN without
  // validation pairs.
  double ridge_mse = 0.0, relaxation_mse = 0.0, no_change_mse = 0.0;
  std::size_t validation_pairs = 0;
};

// The penalties tried: 1e-6 .. 1e2 by decades (relative to standardised regressors, i.e. to the number of
// observations).
std::vector<double> ridge_lambdas();

// Fits the baselines on the objective's dataset with the trainer's split: the training pairs (k, k+1),
// k in split.train_starts, give the fits; the validation pairs choose the ridge penalty (the smallest
// one-step validation error over ridge_lambdas(); without validation pairs lambda = 1e-2) and are the
// predictors' validation MSE. candidates[c][k]: the regulators j != k of gene k in cell type c (the model's
// gene graph, GeneNetwork::regulators); `pairs`: the LR pairs (the objective's signalling, same graph and
// weights as the model's). Each rank sums the Gram matrices [z, 1, y] of its owned cells, one allreduce adds
// them, every rank solves (LAPACK dposv): the same result on every rank, and on any number of ranks up to
// summation order. Those matrices take 16 (p + 2)^2 bytes per (type, target) with p regressors; when they
// would exceed `memory_bytes` (a dense graph of thousands of genes) the ridge is not fitted (`ridge` empty,
// its MSE NaN, `selection` says why) and only the relaxation and "no change" are. Collective on the
// objective's communicator.
DerivativeBaselines fit_derivative_baselines(const TrajectoryObjective& objective,
                                             const std::vector<std::vector<std::vector<int>>>& candidates,
                                             const std::vector<LigandReceptorPair>& pairs,
                                             const TimeSplit& split,
                                             double memory_bytes = 1024.0 * 1024.0 * 1024.0);

} // namespace tessera
