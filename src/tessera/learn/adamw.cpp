#include "tessera/learn/adamw.hpp"

#include "tessera/core/error.hpp"

#include <Kokkos_Core.hpp>

#include <cmath>

namespace tessera {

double AdamW::step(ModelParameters& parameters, const ParameterGradient& gradient) {
  const auto gh = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), gradient);
  std::vector<double> g(gh.data(), gh.data() + gh.size());
  const auto values = parameters.values();
  auto theta = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), values);
  const std::size_t size = g.size();
  if (m_.empty()) {
    m_.assign(size, 0.0);
    v_.assign(size, 0.0);
  }
  double norm = 0.0;
  for (double v : g)
    norm += v * v;
  norm = std::sqrt(norm);
  if (std::isfinite(params_.clip) && norm > params_.clip) {
    const double s = params_.clip / norm;
    for (double& v : g)
      v *= s;
  }
  ++t_;
  const double c1 = 1.0 - std::pow(params_.beta1, static_cast<double>(t_));
  const double c2 = 1.0 - std::pow(params_.beta2, static_cast<double>(t_));
  double* p = theta.data();
  for (std::size_t e = 0; e < size; ++e) {
    m_[e] = params_.beta1 * m_[e] + (1.0 - params_.beta1) * g[e];
    v_[e] = params_.beta2 * v_[e] + (1.0 - params_.beta2) * g[e] * g[e];
    const double m_hat = m_[e] / c1, v_hat = v_[e] / c2;
    p[e] -= params_.lr * (m_hat / (std::sqrt(v_hat) + params_.eps) + params_.weight_decay * p[e]);
  }
  Kokkos::deep_copy(values, theta);
  return norm;
}

void AdamW::restore(long long steps, std::vector<double> first_moment, std::vector<double> second_moment) {
  if (first_moment.size() != second_moment.size())
    throw runtime_error("AdamW::restore: moments of different lengths");
  t_ = steps;
  m_ = std::move(first_moment);
  v_ = std::move(second_moment);
}

} // namespace tessera
