// The CVODES adjoint on a tissue split over ranks (SPEC §3.3-3.4): the graph_ode model exchanges ligands in
// every RHS and sends ghost cotangents back in every VJP, CVODES steers every rank with global norms, and
// the quadrature is a per-rank partial sum; so x(t1) and dL/dx(t0) per cell, and theta_bar summed over
// ranks, equal those of the whole tissue on one rank.
#include "tessera/grn/graph_ode.hpp"
#include "tessera/integrate/cvodes_adjoint.hpp"
#include "tessera/parallel/mpi.hpp"

#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "../support/distributed_tissue.hpp"

namespace {

constexpr int n_total = 60;

struct Result {
  RowsById x_t1, x0_bar;         // owned cells
  std::vector<double> theta_bar; // summed over the communicator's ranks
  CvodesAdjointStats stats;
};

// The gradient of L = <w, x(t1)> (w: the tissue's cotangents) over the tissue split over `comm`, neighbours
// frozen over the interval as in a simulation step.
Result gradient_on(MPI_Comm comm, const GraphOdeParameters& parameters, const TimeParams& params) {
  const DistributedTissue tissue(comm, GlobalTissue(periodic_strip(70.0, 60.0), n_total, 91));
  const std::size_t n = tissue.n_owned;
  GraphOdeModel model(parameters, network(), tissue.signal.pairs);
  tissue.attach(model);

  GeneState x("x", n, n_genes);
  Kokkos::deep_copy(x, tissue.owned_genes());
  GeneState x_bar = tissue.cotangent("x_bar");
  ParameterGradient theta_bar("theta_bar", parameters.values().extent(0), parameters.values().extent(1));

  CvodesAdjoint adjoint(comm, params);
  adjoint.forward(model, x, 0.0, 0.5);
  adjoint.reverse(model, model, x_bar, theta_bar);

  Result out;
  const auto xh = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
  const auto xb = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x_bar);
  for (std::size_t r = 0; r < n; ++r) {
    out.x_t1[tissue.ids[r]] = std::vector<double>(&xh(r, 0), &xh(r, 0) + n_genes);
    out.x0_bar[tissue.ids[r]] = std::vector<double>(&xb(r, 0), &xb(r, 0) + n_genes);
  }
  const auto tb = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), theta_bar);
  out.theta_bar.assign(tb.data(), tb.data() + tb.size());
  mpi::check(MPI_Allreduce(MPI_IN_PLACE, out.theta_bar.data(), static_cast<int>(out.theta_bar.size()),
                           MPI_DOUBLE, MPI_SUM, comm),
             "MPI_Allreduce");
  out.stats = adjoint.stats();
  return out;
}

} // namespace

TEST(CvodesAdjointMpi, RankSummedGradientsEqualTheWholeTissueOnOneRank) {
  // CVODES's step, order and iteration decisions use global norms, which differ between rank counts only in
  // the order of summation (~1e-16 relative), so every rank count takes the same steps (checked). Then:
  // - Adams + fixed point: the same arithmetic up to summation order; measured 2e-12 relative to the
  //   largest entry: 1e-10.
  // - BDF + GMRES: CVODE's difference-quotient Jacobian-vector products (forward pass) have a rounding
  //   error of ~sqrt(eps) whose pattern follows the increment 1 / ||v||, a global norm; Newton and GMRES
  //   stop at tolerances, so the solution moves by a small fraction of rtol. Measured 5e-9 at rtol 1e-6:
  //   5e-2 rtol = 5e-8.
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  for (CvodeMethod method : {CvodeMethod::bdf, CvodeMethod::adams}) {
    GraphOdeArchitecture a;
    a.variant = method == CvodeMethod::bdf ? AttentionVariant::gat : AttentionVariant::gatv2;
    a.heads = 2;
    a.hidden = 4;
    a.mlp_width = 6;
    a.mlp_layers = 2;
    a.share = ParameterSharing::per_type;
    GraphOdeParameters parameters(a, network().genes, {"epi", "mes"});
    parameters.glorot_init(17, 0.2);
    TimeParams params;
    params.method = method;
    params.rtol = 1e-6; // the deck's defaults
    params.atol = 1e-8;
    const std::string name = method == CvodeMethod::bdf ? "bdf/gat" : "adams/gatv2";
    const double tolerance = method == CvodeMethod::bdf ? 5e-2 * params.rtol : 1e-10;

    const Result split = gradient_on(MPI_COMM_WORLD, parameters, params);
    const Result whole = gradient_on(MPI_COMM_SELF, parameters, params);
    int owned = static_cast<int>(split.x_t1.size()), total = 0;
    MPI_Allreduce(&owned, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    EXPECT_EQ(total, n_total);

    expect_rows_near(split.x_t1, whole.x_t1, tolerance, name + " x(t1)");
    expect_rows_near(split.x0_bar, whole.x0_bar, tolerance, name + " x0_bar");
    double largest = 0.0, worst = 0.0;
    for (double v : whole.theta_bar)
      largest = std::max(largest, std::fabs(v));
    ASSERT_GT(largest, 0.0);
    ASSERT_EQ(split.theta_bar.size(), whole.theta_bar.size());
    for (std::size_t e = 0; e < whole.theta_bar.size(); ++e) {
      EXPECT_NEAR(split.theta_bar[e], whole.theta_bar[e], tolerance * largest) << name << " theta_bar " << e;
      worst = std::max(worst, std::fabs(split.theta_bar[e] - whole.theta_bar[e]) / largest);
    }
    // The same steps on every rank count (the step sequence is what the ranks agree on).
    EXPECT_EQ(split.stats.forward_steps, whole.stats.forward_steps) << name;
    EXPECT_EQ(split.stats.backward_steps, whole.stats.backward_steps) << name;
    if (rank == 0)
      std::printf(
          "[ info ] %s: worst theta_bar difference %.2e relative; %ld forward steps, %ld checkpoints, "
          "%ld backward steps, %ld RHS, %ld state VJPs, %ld parameter VJPs\n",
          name.c_str(), worst, split.stats.forward_steps, split.stats.checkpoints, split.stats.backward_steps,
          split.stats.rhs_evaluations, split.stats.state_vjps, split.stats.parameter_vjps);
  }
}
