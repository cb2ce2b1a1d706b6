// The `hill` model on one isolated cell (SPEC §2.1): its steady state equals the fixed point found
// independently (bisection / Newton on the algebraic equations), and CVODE and RK4 agree on the transient.
#include "tessera/grn/hill.hpp"
#include "tessera/integrate/cvode.hpp"
#include "tessera/integrate/rk4.hpp"

#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>

using namespace tessera;

namespace {

GeneNetwork self_activation() {
  // dx/dt = beta (b + K x^n / (h^n + x^n)) - lambda x, bistable for these values.
  GeneNetwork net;
  net.genes = {"A"};
  net.production = {1.0};
  net.basal = {0.05};
  net.decay = {0.8};
  net.edges.push_back(RegulatoryEdge{-1, 0, 0, +1, 1.0, 0.5, 4.0});
  return net;
}

GeneNetwork toggle() {
  // A -| B, B -| A with different strengths, plus a basal drive.
  GeneNetwork net;
  net.genes = {"A", "B"};
  net.production = {1.0, 0.7};
  net.basal = {0.1, 0.05};
  net.decay = {0.5, 0.3};
  net.edges.push_back(RegulatoryEdge{-1, 1, 0, -1, 1.2, 0.4, 3.0});
  net.edges.push_back(RegulatoryEdge{-1, 0, 1, -1, 0.9, 0.6, 2.0});
  return net;
}

GeneState one_cell(std::vector<double> x0) {
  GeneState x("x", 1, x0.size());
  auto h = Kokkos::create_mirror_view(x);
  for (size_t g = 0; g < x0.size(); ++g)
    h(0, g) = x0[g];
  Kokkos::deep_copy(x, h);
  return x;
}

std::vector<double> read(const GeneState& x) {
  auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
  std::vector<double> v;
  for (size_t g = 0; g < x.extent(1); ++g)
    v.push_back(h(0, g));
  return v;
}

Kokkos::View<const int*> types_of_one_cell() {
  Kokkos::View<int*> t("type", 1);
  Kokkos::deep_copy(t, 0);
  return t;
}

double hill_plus(double x, double h, double n) {
  return std::pow(x, n) / (std::pow(h, n) + std::pow(x, n));
}
double hill_minus(double x, double h, double n) {
  return std::pow(h, n) / (std::pow(h, n) + std::pow(x, n));
}

} // namespace

TEST(HillModel, RhsMatchesTheFormula) {
  const GeneNetwork net = toggle();
  HillModel model(net, 1);
  model.set_cell_types(types_of_one_cell());
  const GeneState x = one_cell({0.3, 0.7});
  GeneState f("f", 1, 2);
  model.evaluate(0.0, x, f);
  const auto v = read(f);
  EXPECT_NEAR(v[0], 1.0 * (0.1 + 1.2 * hill_minus(0.7, 0.4, 3.0)) - 0.5 * 0.3, 1e-15);
  EXPECT_NEAR(v[1], 0.7 * (0.05 + 0.9 * hill_minus(0.3, 0.6, 2.0)) - 0.3 * 0.7, 1e-15);
}

TEST(HillModel, SelfActivationSteadyStateEqualsBisectionRoot) {
  // The high branch's fixed point: root of g(x) = beta (b + K H+(x)) - lambda x in [0.5, 2], by bisection.
  auto g = [](double x) { return 1.0 * (0.05 + hill_plus(x, 0.5, 4.0)) - 0.8 * x; };
  double lo = 0.5, hi = 2.0;
  ASSERT_GT(g(lo), 0.0);
  ASSERT_LT(g(hi), 0.0);
  for (int i = 0; i < 200; ++i) {
    const double mid = 0.5 * (lo + hi);
    (g(mid) > 0 ? lo : hi) = mid;
  }
  const double root = 0.5 * (lo + hi);

  const GeneNetwork net = self_activation();
  HillModel model(net, 1);
  model.set_cell_types(types_of_one_cell());
  // 400 min = 320 decay times: the transient is below 1e-100.
  GeneState x_rk4 = one_cell({1.0});
  Rk4Integrator rk4(0.05);
  rk4.advance(model, x_rk4, 0.0, 400.0);
  EXPECT_NEAR(read(x_rk4)[0], root, 1e-8);

  TimeParams p;
  p.rtol = 1e-10;
  p.atol = 1e-12;
  p.max_steps = 100000;
  GeneState x_cv = one_cell({1.0});
  CvodeIntegrator cvode(MPI_COMM_SELF, p);
  cvode.advance(model, x_cv, 0.0, 400.0);
  EXPECT_NEAR(read(x_cv)[0], root, 1e-8);
}

TEST(HillModel, ToggleSteadyStateEqualsNewtonFixedPoint) {
  const GeneNetwork net = toggle();
  // Independent fixed point: Newton on F(a, b) = 0 with a finite-difference Jacobian.
  auto F = [](double a, double b, double out[2]) {
    out[0] = 1.0 * (0.1 + 1.2 * hill_minus(b, 0.4, 3.0)) - 0.5 * a;
    out[1] = 0.7 * (0.05 + 0.9 * hill_minus(a, 0.6, 2.0)) - 0.3 * b;
  };
  HillModel model(net, 1);
  model.set_cell_types(types_of_one_cell());
  GeneState x = one_cell({1.0, 0.1});
  Rk4Integrator rk4(0.05);
  rk4.advance(model, x, 0.0, 300.0); // 90 slowest decay times
  const auto ss = read(x);
  double a = ss[0] + 0.05, b = ss[1] - 0.05; // start Newton near, not at, the integrated state
  for (int it = 0; it < 50; ++it) {
    double f[2], fa[2], fb[2];
    const double e = 1e-7;
    F(a, b, f);
    F(a + e, b, fa);
    F(a, b + e, fb);
    const double j00 = (fa[0] - f[0]) / e, j10 = (fa[1] - f[1]) / e, j01 = (fb[0] - f[0]) / e,
                 j11 = (fb[1] - f[1]) / e;
    const double det = j00 * j11 - j01 * j10;
    a -= (j11 * f[0] - j01 * f[1]) / det;
    b -= (-j10 * f[0] + j00 * f[1]) / det;
  }
  double residual[2];
  F(a, b, residual);
  ASSERT_LT(std::fabs(residual[0]) + std::fabs(residual[1]), 1e-14);
  EXPECT_NEAR(ss[0], a, 1e-8);
  EXPECT_NEAR(ss[1], b, 1e-8);
}

TEST(HillModel, CvodeAndRk4AgreeOnTheTransient) {
  // RK4 with h = 0.01 min has a global error ~ h^4 * C ~ 1e-9 here; CVODE at rtol 1e-10 is tighter. The two
  // must agree to 1e-7 at every checkpoint of a transient that moves the state by O(1).
  const GeneNetwork net = toggle();
  HillModel model(net, 1);
  model.set_cell_types(types_of_one_cell());
  GeneState x_rk4 = one_cell({0.05, 1.5});
  GeneState x_cv = one_cell({0.05, 1.5});
  Rk4Integrator rk4(0.01);
  TimeParams p;
  p.rtol = 1e-10;
  p.atol = 1e-12;
  CvodeIntegrator cvode(MPI_COMM_SELF, p);
  for (int k = 0; k < 10; ++k) {
    rk4.advance(model, x_rk4, k * 2.0, (k + 1) * 2.0);
    cvode.advance(model, x_cv, k * 2.0, (k + 1) * 2.0);
    const auto a = read(x_rk4), b = read(x_cv);
    EXPECT_NEAR(a[0], b[0], 1e-7) << "at t = " << (k + 1) * 2.0;
    EXPECT_NEAR(a[1], b[1], 1e-7) << "at t = " << (k + 1) * 2.0;
  }
}

TEST(HillModel, PerTypeEdgesOnlyActInTheirType) {
  GeneNetwork net;
  net.genes = {"A", "B"};
  net.production = {1.0, 1.0};
  net.basal = {0.0, 0.0};
  net.decay = {0.0, 0.0};
  net.edges.push_back(RegulatoryEdge{1, 0, 1, +1, 2.0, 0.5, 1.0}); // A -> B only in type 1
  HillModel model(net, 2);
  Kokkos::View<int*> types("types", 2);
  auto th = Kokkos::create_mirror_view(types);
  th(0) = 0;
  th(1) = 1;
  Kokkos::deep_copy(types, th);
  model.set_cell_types(types);
  GeneState x("x", 2, 2), f("f", 2, 2);
  Kokkos::deep_copy(x, 0.5);
  model.evaluate(0.0, x, f);
  auto fh = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), f);
  EXPECT_EQ(fh(0, 1), 0.0);
  EXPECT_NEAR(fh(1, 1), 2.0 * 0.5, 1e-15);
}
