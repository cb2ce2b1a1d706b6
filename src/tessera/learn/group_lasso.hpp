// Group lasso on a model's edge parameters (train.group_lasso, issue 9): lambda sum_g sqrt(n_g) |theta_g|_2
// over groups g of n_g parameters, the groups a family's TrainableGeneModel::regulator_groups() (sigmoid and
// hill: one regulator's outgoing edges per cell type), so that a gene the data do not show regulating
// anything loses all its candidate edges together rather than one at a time as under l1. L-BFGS (TAO) needs
// a smooth objective, so the norm is smoothed: sqrt(|theta_g|^2 + eps^2) - eps, eps = group_lasso_smoothing,
// which differs from |theta_g| by less than eps and is 0 at theta_g = 0.
#pragma once

#include "tessera/grn/model_parameters.hpp"
#include "tessera/learn/objective.hpp"

#include <cstddef>
#include <vector>

namespace tessera {

// eps of the smoothed norm: far below the edge weights of a fitted model (sigmoid's W are O(0.1-10)), so the
// penalty is the group lasso's to within eps per group, yet its curvature (|theta_g|^-1, at most 1 / eps)
// stays finite for L-BFGS at theta_g = 0.
constexpr double group_lasso_smoothing = 1e-3;

// strength * sum_g sqrt(n_g) (sqrt(|theta_g|^2 + eps^2) - eps) of the host values `theta`; adds its gradient
// to `gradient` when not null (same size as theta). Empty groups add nothing.
double group_lasso_penalty(const std::vector<double>& theta, const ParameterGroups& groups, double strength,
                           std::vector<double>* gradient);

// The same over the model's parameters, its gradient added to `gradient` (unless it is empty). Identical on
// every rank (the parameters are).
double add_group_lasso_penalty(const ModelParameters& parameters, const ParameterGroups& groups,
                               double strength, const ParameterGradient& gradient);

} // namespace tessera
