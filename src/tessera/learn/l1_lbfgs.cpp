#include "tessera/learn/l1_lbfgs.hpp"

#include "tessera/core/error.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace tessera {

namespace {

// The split variables z = (x with u_e in place of each penalised x_e, then v_e of each penalised e in order).
struct Split {
  std::vector<std::size_t> penalised; // indices e into x

  std::vector<double> to_split(const std::vector<double>& x) const {
    std::vector<double> z(x.begin(), x.end());
    for (std::size_t i = 0; i < penalised.size(); ++i) {
      const double w = x[penalised[i]];
      z[penalised[i]] = std::max(w, 0.0);
      z.push_back(std::max(-w, 0.0));
    }
    return z;
  }
  void to_x(const std::vector<double>& z, std::vector<double>& x) const {
    const std::size_t n = x.size();
    std::copy(z.begin(), z.begin() + static_cast<std::ptrdiff_t>(n), x.begin());
    for (std::size_t i = 0; i < penalised.size(); ++i)
      x[penalised[i]] = z[penalised[i]] - z[n + i];
  }
  // sum over the penalised variables of u_e + v_e
  double l1_norm(const std::vector<double>& z, std::size_t n) const {
    double s = 0.0;
    for (std::size_t i = 0; i < penalised.size(); ++i)
      s += z[penalised[i]] + z[n + i];
    return s;
  }
};

} // namespace

std::string minimize_l1_lmvm(std::vector<double>& x, const std::vector<bool>& penalised, double l1,
                             const petsc::LmvmOptions& options, const petsc::ObjectiveAndGradient& f,
                             const petsc::LmvmMonitor& monitor) {
  if (penalised.size() != x.size())
    throw runtime_error("minimize_l1_lmvm: " + std::to_string(penalised.size()) + " flags for " +
                        std::to_string(x.size()) + " variables");
  if (!options.lower.empty()) throw runtime_error("minimize_l1_lmvm: takes no bounds of its own");
  if (l1 == 0.0) return petsc::minimize_lmvm(x, options, f, monitor);
  const std::size_t n = x.size();
  Split split;
  for (std::size_t e = 0; e < n; ++e)
    if (penalised[e]) split.penalised.push_back(e);
  std::vector<double> z = split.to_split(x);
  petsc::LmvmOptions bounded = options;
  bounded.lower.assign(z.size(), -std::numeric_limits<double>::infinity());
  for (std::size_t i = 0; i < split.penalised.size(); ++i)
    bounded.lower[split.penalised[i]] = bounded.lower[n + i] = 0.0;

  std::vector<double> at(n), g(n);
  auto split_f = [&](const std::vector<double>& zz, std::vector<double>& gz) {
    split.to_x(zz, at);
    std::fill(g.begin(), g.end(), 0.0);
    const double value = f(at, g);
    std::copy(g.begin(), g.end(), gz.begin());
    // d/du_e = g_e + l1, d/dv_e = -g_e + l1
    for (std::size_t i = 0; i < split.penalised.size(); ++i) {
      const std::size_t e = split.penalised[i];
      gz[e] = g[e] + l1;
      gz[n + i] = -g[e] + l1;
    }
    return value + l1 * split.l1_norm(zz, n);
  };
  auto split_monitor = [&](long long iteration, double value, double gnorm, const std::vector<double>& zz) {
    if (!monitor) return false;
    split.to_x(zz, at);
    return monitor(iteration, value, gnorm, at);
  };
  const std::string reason = petsc::minimize_lmvm(z, bounded, split_f, split_monitor);
  split.to_x(z, x);
  return reason;
}

} // namespace tessera
