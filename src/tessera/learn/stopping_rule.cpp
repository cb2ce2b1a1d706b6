#include "tessera/learn/stopping_rule.hpp"

#include "tessera/core/units.hpp"

#include <cmath>
#include <numeric>

namespace tessera {

WindowMeans window_means(const std::vector<double>& values, long long window) {
  const auto w = static_cast<std::ptrdiff_t>(window);
  const auto end = values.end();
  return {std::accumulate(end - w, end, 0.0) / static_cast<double>(w),
          std::accumulate(end - 2 * w, end - w, 0.0) / static_cast<double>(w)};
}

std::string StoppingRule::observe(long long iteration, double train, double validation, double grad_norm) {
  const std::string at = "stopped at iteration " + std::to_string(iteration) + ": ";
  train_.push_back(train);
  improved_best_ = std::isfinite(validation) && (best_iteration_ == 0 || validation < best_validation_);
  if (improved_best_) {
    best_iteration_ = iteration;
    best_validation_ = validation;
  }
  if (std::isfinite(validation) &&
      (!have_patience_best_ ||
       validation < patience_best_ - params_.improvement * std::fabs(patience_best_))) {
    patience_best_ = validation;
    have_patience_best_ = true;
    since_improvement_ = 0;
  } else if (!std::isnan(validation)) {
    ++since_improvement_; // an infinite validation loss is no improvement; NaN: no held-out times
  }
  if (!reason_.empty()) return reason_;

  if (params_.stop_rel_loss > 0 && train_.size() >= static_cast<std::size_t>(2 * params_.stop_window)) {
    const long long w = params_.stop_window;
    const auto [last, before] = window_means(train_, w);
    const double change = std::fabs(last - before) / std::fabs(before);
    if (change < params_.stop_rel_loss)
      reason_ = at + "the mean train loss of the last " + std::to_string(w) + " iterations (" +
                format_number(last) + ") differs from the " + std::to_string(w) + " before (" +
                format_number(before) + ") by " + format_number(change) +
                " relative, less than train.stop_rel_loss " + format_number(params_.stop_rel_loss);
  }
  if (reason_.empty() && params_.stop_grad_norm > 0 && grad_norm < params_.stop_grad_norm)
    reason_ = at + "gradient norm " + format_number(grad_norm) + " below train.stop_grad_norm " +
              format_number(params_.stop_grad_norm);
  if (reason_.empty() && params_.patience > 0 && since_improvement_ >= params_.patience)
    reason_ = at + "validation loss did not improve for " + std::to_string(params_.patience) +
              " iterations (best " + format_number(best_validation_) + " at iteration " +
              std::to_string(best_iteration_) + ")";
  return reason_;
}

} // namespace tessera
