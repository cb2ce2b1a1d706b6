#include "tessera/learn/group_lasso.hpp"

#include <algorithm>
#include <cmath>

namespace tessera {

double group_lasso_penalty(const std::vector<double>& theta, const ParameterGroups& groups, double strength,
                           std::vector<double>* gradient) {
  const double eps = group_lasso_smoothing;
  double sum = 0.0;
  for (const std::vector<std::size_t>& group : groups) {
    if (group.empty()) continue;
    double squares = 0.0;
    for (const std::size_t e : group)
      squares += theta[e] * theta[e];
    const double norm = std::sqrt(squares + eps * eps);
    const double weight = std::sqrt(static_cast<double>(group.size()));
    // sqrt(s + eps^2) - eps written as s / (sqrt(s + eps^2) + eps): no cancellation when s << eps^2.
    sum += weight * (squares / (norm + eps));
    if (gradient)
      for (const std::size_t e : group)
        (*gradient)[e] += strength * weight * theta[e] / norm;
  }
  return strength * sum;
}

double add_group_lasso_penalty(const ModelParameters& parameters, const ParameterGroups& groups,
                               double strength, const ParameterGradient& gradient) {
  if (strength == 0.0 || groups.empty()) return 0.0;
  const bool want_gradient = gradient.extent(0) > 0;
  const std::vector<double> theta = parameters.flat();
  if (!want_gradient) return group_lasso_penalty(theta, groups, strength, nullptr);
  auto g = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), gradient);
  std::vector<double> flat(g.data(), g.data() + g.size());
  const double value = group_lasso_penalty(theta, groups, strength, &flat);
  std::copy(flat.begin(), flat.end(), g.data());
  Kokkos::deep_copy(gradient, g);
  return value;
}

} // namespace tessera
