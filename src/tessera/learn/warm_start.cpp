#include "tessera/learn/warm_start.hpp"

namespace tessera {

LinearDerivativeFits linear_derivative_fits(const DerivativeBaselines& baselines) {
  LinearDerivativeFits out;
  for (const std::vector<DerivativeFit>& type : baselines.ridge) {
    out.fit.emplace_back();
    for (const DerivativeFit& fit : type) {
      LinearDerivativeFit linear;
      // A (type, target) without training rows has nothing to say.
      linear.fitted = fit.observations > 0.0 && fit.coefficient.size() == fit.regressors.size();
      linear.intercept = fit.intercept;
      const bool means = fit.mean.size() == fit.regressors.size();
      for (std::size_t a = 0; a < fit.regressors.size() && linear.fitted; ++a) {
        const Regressor& r = fit.regressors[a];
        switch (r.kind) {
        case Regressor::regulator:
          linear.regulators.push_back(r.index);
          linear.regulator_coefficient.push_back(fit.coefficient[a]);
          if (means) linear.regulator_mean.push_back(fit.mean[a]);
          break;
        case Regressor::self:
          linear.self_coefficient = fit.coefficient[a];
          if (means) linear.self_mean = fit.mean[a];
          break;
        case Regressor::ligand:
          linear.pairs.push_back(r.index);
          linear.pair_coefficient.push_back(fit.coefficient[a]);
          if (means) linear.pair_mean.push_back(fit.mean[a]);
          break;
        }
      }
      out.fit.back().push_back(std::move(linear));
    }
  }
  return out;
}

} // namespace tessera
