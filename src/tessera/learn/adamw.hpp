// Adam with decoupled weight decay (AdamW, SPEC §3.5) over a model's parameters as one flat vector, on
// the host: every rank applying it to the same gradient keeps identical parameters.
#pragma once

#include "tessera/grn/model_parameters.hpp"
#include "tessera/integrate/adjoint_rhs.hpp"
#include "tessera/learn/train_params.hpp"

#include <vector>

namespace tessera {

class AdamW {
public:
  explicit AdamW(const TrainParams& params) : params_(params) {}
  // Clips the gradient to params.clip (in place), then theta <- theta - lr (m_hat / (sqrt(v_hat) + eps) +
  // weight_decay theta). Returns the norm of the gradient before clipping.
  double step(ModelParameters& parameters, const ParameterGradient& gradient);

  // The rate of the next steps (train.lr_schedule changes it between iterations).
  void set_learning_rate(double lr) { params_.lr = lr; }

  long long steps() const { return t_; }
  const std::vector<double>& first_moment() const { return m_; }
  const std::vector<double>& second_moment() const { return v_; }
  // The state a checkpoint saved: the step count and both moments (empty before the first step).
  void restore(long long steps, std::vector<double> first_moment, std::vector<double> second_moment);

private:
  TrainParams params_;
  long long t_ = 0;
  std::vector<double> m_, v_;
};

} // namespace tessera
