#include "tessera/learn/lr_schedule.hpp"

#include <algorithm>
#include <cmath>

namespace tessera {

double LearningRateSchedule::rate(long long iteration) const {
  const TrainParams& p = params_;
  if (iteration <= p.warmup) return p.lr * static_cast<double>(iteration) / static_cast<double>(p.warmup);
  switch (p.lr_schedule) {
  case LrSchedule::constant:
    return p.lr;
  case LrSchedule::cosine: {
    const double pi = std::acos(-1.0);
    const double progress =
        static_cast<double>(iteration - 1 - p.warmup) / static_cast<double>(p.iterations - p.warmup);
    return p.lr_min + 0.5 * (p.lr - p.lr_min) * (1.0 + std::cos(pi * progress));
  }
  case LrSchedule::plateau:
    return std::max(p.lr * std::pow(p.plateau_factor, reductions_), p.lr_min);
  }
  return p.lr;
}

void LearningRateSchedule::observe(long long, double train, double validation) {
  if (params_.lr_schedule != LrSchedule::plateau) return;
  const double loss = std::isnan(validation) ? train : validation;
  if (std::isfinite(loss) && (!have_best_ || loss < best_ - params_.improvement * std::fabs(best_))) {
    best_ = loss;
    have_best_ = true;
    since_improvement_ = 0;
    return;
  }
  if (++since_improvement_ < params_.plateau_patience) return;
  ++reductions_;
  since_improvement_ = 0;
}

} // namespace tessera
