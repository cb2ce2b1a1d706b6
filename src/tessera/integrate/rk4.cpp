#include "tessera/integrate/rk4.hpp"

#include "tessera/core/kernel_instance.hpp"

#include <cmath>

namespace tessera {

void Rk4Integrator::ensure(std::size_t n, std::size_t g) {
  if (slope_.extent(0) == n && slope_.extent(1) == g) return;
  slope_ =
      GeneState(Kokkos::view_alloc(std::string("tessera::rk4::slope"), Kokkos::WithoutInitializing), n, g);
  sum_ = GeneState(Kokkos::view_alloc(std::string("tessera::rk4::sum"), Kokkos::WithoutInitializing), n, g);
  stage_ =
      GeneState(Kokkos::view_alloc(std::string("tessera::rk4::stage"), Kokkos::WithoutInitializing), n, g);
}

long long Rk4Integrator::substeps(double t0, double t1) const {
  return std::max<long long>(1, static_cast<long long>(std::ceil((t1 - t0) / max_substep_ * (1.0 - 1e-12))));
}

void Rk4Integrator::advance(const GeneRhs& rhs, GeneState x, double t0, double t1,
                            const std::function<void(long long, ConstGeneState)>& before_substep) {
  const std::size_t n = x.extent(0), g = x.extent(1);
  ensure(n, g);
  const long long substeps = this->substeps(t0, t1);
  const double h = (t1 - t0) / static_cast<double>(substeps);
  // Copies for capture: lambdas never capture `this` (STYLE.md).
  const GeneState k = slope_, sum = sum_, stage = stage_;
  // One iteration per cell over its genes (contiguous in LayoutRight), as the gene models' kernels: an
  // MDRange over cells x genes cost half as much as the hill RHS evaluations on the OpenMP backend (index
  // arithmetic per element, no vectorised inner loop), this loop less than half that. Same arithmetic.
  const auto cells = range_for(0, n, n * g);
  const int genes = static_cast<int>(g);
  // sum = w_sum * sum + w_k * k (w_sum = 0 starts it), stage = x + a * k; the additions happen in the order
  // k1 + 2 k2 + 2 k3 + k4 of the textbook formula, so the result is bit-identical to it.
  auto fold = [&](double w_sum, double w_k, double a) {
    Kokkos::parallel_for(
        "tessera::rk4::stage", cells, KOKKOS_LAMBDA(const std::size_t i) {
          for (int j = 0; j < genes; ++j) {
            sum(i, j) = (w_sum == 0.0 ? 0.0 : sum(i, j)) + w_k * k(i, j);
            stage(i, j) = x(i, j) + a * k(i, j);
          }
        });
  };
  for (long long s = 0; s < substeps; ++s) {
    if (before_substep) before_substep(s, x);
    const double t = t0 + static_cast<double>(s) * h;
    rhs.evaluate(t, x, k);
    fold(0.0, 1.0, 0.5 * h);
    rhs.evaluate(t + 0.5 * h, stage, k);
    fold(1.0, 2.0, 0.5 * h);
    rhs.evaluate(t + 0.5 * h, stage, k);
    fold(1.0, 2.0, h);
    rhs.evaluate(t + h, stage, k);
    const double w = h / 6.0;
    Kokkos::parallel_for(
        "tessera::rk4::update", cells, KOKKOS_LAMBDA(const std::size_t i) {
          for (int j = 0; j < genes; ++j)
            x(i, j) += w * (sum(i, j) + k(i, j));
        });
  }
}

} // namespace tessera
