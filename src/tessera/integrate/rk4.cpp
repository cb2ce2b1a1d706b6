#include "tessera/integrate/rk4.hpp"

#include <cmath>

namespace tessera {

void Rk4Integrator::ensure(std::size_t n, std::size_t g) {
  if (k1_.extent(0) == n && k1_.extent(1) == g) return;
  k1_ = GeneState(Kokkos::view_alloc("tessera::rk4::k1", Kokkos::WithoutInitializing), n, g);
  k2_ = GeneState(Kokkos::view_alloc("tessera::rk4::k2", Kokkos::WithoutInitializing), n, g);
  k3_ = GeneState(Kokkos::view_alloc("tessera::rk4::k3", Kokkos::WithoutInitializing), n, g);
  k4_ = GeneState(Kokkos::view_alloc("tessera::rk4::k4", Kokkos::WithoutInitializing), n, g);
  stage_ = GeneState(Kokkos::view_alloc("tessera::rk4::stage", Kokkos::WithoutInitializing), n, g);
}

void Rk4Integrator::advance(const GeneRhs& rhs, GeneState x, double t0, double t1) {
  const std::size_t n = x.extent(0), g = x.extent(1);
  ensure(n, g);
  const long long substeps =
      std::max<long long>(1, static_cast<long long>(std::ceil((t1 - t0) / max_substep_ * (1.0 - 1e-12))));
  const double h = (t1 - t0) / static_cast<double>(substeps);
  // Copies for capture: lambdas never capture `this` (STYLE.md).
  const GeneState k1 = k1_, k2 = k2_, k3 = k3_, k4 = k4_, stage = stage_;
  const auto cells =
      Kokkos::MDRangePolicy<Kokkos::Rank<2>>({0, 0}, {static_cast<long long>(n), static_cast<long long>(g)});
  auto set_stage = [&](const GeneState& k, double a) {
    Kokkos::parallel_for(
        "tessera::rk4::stage", cells,
        KOKKOS_LAMBDA(const long long i, const long long j) { stage(i, j) = x(i, j) + a * k(i, j); });
  };
  for (long long s = 0; s < substeps; ++s) {
    const double t = t0 + static_cast<double>(s) * h;
    rhs.evaluate(t, x, k1);
    set_stage(k1, 0.5 * h);
    rhs.evaluate(t + 0.5 * h, stage, k2);
    set_stage(k2, 0.5 * h);
    rhs.evaluate(t + 0.5 * h, stage, k3);
    set_stage(k3, h);
    rhs.evaluate(t + h, stage, k4);
    const double w = h / 6.0;
    Kokkos::parallel_for(
        "tessera::rk4::update", cells, KOKKOS_LAMBDA(const long long i, const long long j) {
          x(i, j) += w * (k1(i, j) + 2.0 * k2(i, j) + 2.0 * k3(i, j) + k4(i, j));
        });
  }
}

} // namespace tessera
