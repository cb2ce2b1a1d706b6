// Mechanics (SPEC §1.3) against analytic answers: two cells settle at the root of F(d) = 0, and free
// Brownian cells spread with mean squared displacement 2 d D t.
#include "tessera/tissue/mechanics.hpp"
#include "tessera/tissue/neighbour_list.hpp"

#include <gtest/gtest.h>

#include <cmath>

using namespace tessera;

namespace {

MechanicsParams one_type(double k_rep, double k_adh, double a, double motility) {
  MechanicsParams p;
  p.drag = {1.0};
  p.repulsion = {k_rep};
  p.adhesion_range = {a};
  p.adhesion = {k_adh};
  p.motility = {motility};
  return p;
}

Domain big_box(int dim) {
  Domain d;
  d.dim = dim;
  d.lo = {-1e6, -1e6, dim == 3 ? -1e6 : 0};
  d.hi = {1e6, 1e6, dim == 3 ? 1e6 : 0};
  return d;
}

Cells<> two_cells(double distance, double radius) {
  Cells<> cells(2, 1, 2);
  cells.n_owned = 2;
  auto id = Kokkos::create_mirror_view(cells.id);
  auto pos = Kokkos::create_mirror_view(cells.position);
  id(0) = 0;
  id(1) = 1;
  for (int a = 0; a < 3; ++a)
    pos(0, a) = pos(1, a) = 0.0;
  // Along a diagonal, so both axes carry the force.
  pos(1, 0) = distance / std::sqrt(2.0);
  pos(1, 1) = distance / std::sqrt(2.0);
  Kokkos::deep_copy(cells.id, id);
  Kokkos::deep_copy(cells.position, pos);
  Kokkos::deep_copy(cells.type, 0);
  Kokkos::deep_copy(cells.radius, radius);
  return cells;
}

double separation(const Cells<>& cells) {
  auto pos = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), cells.position);
  return std::hypot(pos(1, 0) - pos(0, 0), pos(1, 1) - pos(0, 1));
}

} // namespace

TEST(Mechanics, TwoCellsSettleAtTheAnalyticEquilibrium) {
  // F(d) = k_rep (1 - d/R)^2 - k_adh (1 - d/(aR))^2 = 0 for d < R:
  //   sqrt(k_rep) (1 - d/R) = sqrt(k_adh) (1 - d/(aR))  =>  d* = (sr - sa) / (sr/R - sa/(aR)).
  const double radius = 5.0, R = 2 * radius, k_rep = 10.0, k_adh = 2.0, a = 1.5;
  const double sr = std::sqrt(k_rep), sa = std::sqrt(k_adh);
  const double d_star = (sr - sa) / (sr / R - sa / (a * R));
  ASSERT_LT(d_star, R);
  for (const double start : {0.6 * R, 1.4 * R}) { // pushed apart from overlap, pulled together by adhesion
    Cells<> cells = two_cells(start, radius);
    Mechanics mechanics(one_type(k_rep, k_adh, a, 0.0), big_box(2), 1);
    NeighbourSearch search;
    // Relaxation rate ~ 2 F'(d*)/eta ~ 1/min: 20 000 steps of 0.01 min converge to round-off.
    for (int s = 0; s < 20000; ++s)
      mechanics.advance(cells, search.build(cells, a * R), 0.01, s);
    EXPECT_NEAR(separation(cells), d_star, 1e-9) << "starting at " << start;
  }
}

TEST(Mechanics, BrownianMeanSquaredDisplacementIs2dDt) {
  for (const int dim : {2, 3}) {
    const int n = 4000;
    const double D = 1.5, dt = 0.5;
    Cells<> cells(dim, 1, n);
    cells.n_owned = n;
    auto id = Kokkos::create_mirror_view(cells.id);
    for (int i = 0; i < n; ++i)
      id(i) = static_cast<std::uint64_t>(i);
    Kokkos::deep_copy(cells.id, id);
    Kokkos::deep_copy(cells.position, 0.0);
    Kokkos::deep_copy(cells.type, 0);
    Kokkos::deep_copy(cells.radius, 5.0);
    // No pair forces (k_rep = k_adh = 0): free diffusion; the walls are a million µm away.
    Mechanics mechanics(one_type(0.0, 0.0, 1.0, D), big_box(dim), 77);
    NeighbourList none;
    none.offsets = Kokkos::View<int*>("offsets", n + 1);
    none.neighbours = Kokkos::View<int*>("neighbours", 0);
    none.n_owned = n;
    for (int s = 1; s <= 200; ++s) {
      mechanics.advance(cells, none, dt, s);
      if (s % 50 != 0) continue;
      auto pos = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), cells.position);
      double msd = 0.0;
      for (int i = 0; i < n; ++i)
        for (int a = 0; a < dim; ++a)
          msd += pos(i, a) * pos(i, a);
      msd /= n;
      const double t = s * dt;
      const double sigma2 = 2.0 * D * t; // per axis
      // Var(|x|^2) = 2 d sigma^4 for Gaussian displacements: standard error of the mean over n cells.
      const double standard_error = std::sqrt(2.0 * dim) * sigma2 / std::sqrt(static_cast<double>(n));
      EXPECT_NEAR(msd, dim * sigma2, 3.0 * standard_error) << "dim " << dim << ", t = " << t;
    }
  }
}
