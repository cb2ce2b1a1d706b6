// The ridge baseline (learn/ridge_baseline.hpp) as the linear derivative fits a trainable model can start
// from (TrainableGeneModel::warm_start, `init: ridge`).
#pragma once

#include "tessera/grn/trainable_model.hpp"
#include "tessera/learn/ridge_baseline.hpp"

namespace tessera {

// Per (cell type, target gene) the ridge fit's intercept and its coefficients by regressor kind (candidate
// regulators, the target itself, LR pairs), in the units of x and dx/dt. Empty when the ridge was not
// fitted (baselines.ridge empty).
LinearDerivativeFits linear_derivative_fits(const DerivativeBaselines& baselines);

} // namespace tessera
