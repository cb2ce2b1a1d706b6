// The learnable `hill` model on a tissue split over ranks (issue 9 item 2): its RHS and VJP equal those of
// the whole tissue on one rank (ghost cells' ligand cotangents go back to their owners by the reverse halo),
// the state VJP matches central differences across ranks, and so does the rk4 adjoint's gradient.
#include "tessera/grn/learnable_hill.hpp"
#include "tessera/integrate/rk4_adjoint.hpp"
#include "tessera/parallel/mpi.hpp"

#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>

#include "../support/distributed_tissue.hpp"

namespace {

constexpr int n_total = 160;

using Result = ModelResults;

LearnableHillModel make_model(bool learn_n) {
  LearnableHillConfig config;
  config.prior = PriorGraph::dense; // every ordered pair: each cell's genes all feed each other
  config.learn_n = learn_n;
  config.n = 2.0;
  LearnableHillModel model(config, network(), {"epi", "mes"}, signaling().pairs);
  std::mt19937 rng(learn_n ? 5 : 6);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  for (const TensorSpec& t : model.parameters().layout().tensors()) {
    std::vector<double> v(t.size());
    for (double& e : v)
      e = t.sparse ? 1.5 * u(rng) : u(rng);
    model.parameters().set_tensor(0, t.name, v);
  }
  return model;
}

Result run_on(MPI_Comm comm, bool learn_n) {
  const DistributedTissue tissue(comm, GlobalTissue(periodic_strip(120.0, 90.0), n_total, 77));
  const std::size_t n = tissue.n_owned;
  const std::vector<std::uint64_t>& id = tissue.ids;
  LearnableHillModel model = make_model(learn_n);
  tissue.attach(model);
  const ConstGeneState x = tissue.owned_genes();
  const GeneState lambda = tissue.cotangent("lambda");
  const auto lambda_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), lambda);
  const auto& values = model.parameters().values();
  GeneState f("f", n, n_genes), x_bar("x_bar", n, n_genes);
  ParameterGradient theta_bar("theta_bar", values.extent(0), values.extent(1));
  model.evaluate(0.0, x, f);
  model.vjp(0.0, x, lambda, x_bar, theta_bar);

  Result out;
  auto rows_of = [&](const GeneState& v, RowsById& rows) {
    const auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v);
    for (std::size_t r = 0; r < n; ++r)
      rows[id[r]] = std::vector<double>(&h(r, 0), &h(r, 0) + n_genes);
  };
  auto summed = [&](const ParameterGradient& g, std::vector<double>& out_values) {
    const auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), g);
    out_values.assign(h.data(), h.data() + h.size());
    mpi::check(MPI_Allreduce(MPI_IN_PLACE, out_values.data(), static_cast<int>(out_values.size()), MPI_DOUBLE,
                             MPI_SUM, comm),
               "MPI_Allreduce");
  };
  rows_of(f, out.f);
  rows_of(x_bar, out.x_bar);
  summed(theta_bar, out.theta_bar);

  // Central differences of the rank-summed <lambda, f(x)> w.r.t. every gene of the first 30 cells (ids),
  // perturbed by their owner. The RHS is smooth away from x = 0 and the state has no entry within the step of
  // 0. Step 1e-6: error ~1e-12 plus rounding 1e-16 |J|/h.
  const auto xb_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x_bar);
  const RankSummedInnerProduct objective(tissue, model, lambda);
  const double h = 1e-6;
  for (std::uint64_t target = 0; target < 30; ++target)
    for (int gene = 0; gene < n_genes; ++gene) {
      double scale = 0.0;
      objective(target, gene, 0.0, &scale);
      const double fd = (objective(target, gene, h) - objective(target, gene, -h)) / (2 * h);
      const double expected = objective.owned_entry(xb_host, target, gene);
      EXPECT_NEAR(expected, fd, 1e-6 * std::fabs(fd) + 10 * 1e-16 * scale / h + 1e-12)
          << "cell " << target << " gene " << gene;
      ++out.fd_checked;
    }

  // The rk4 adjoint over [0, 1] in 4 substeps, the ligand exchange running inside every evaluation and VJP.
  GeneState state("state", n, n_genes), state_bar("state_bar", n, n_genes);
  Kokkos::deep_copy(state, x);
  Kokkos::deep_copy(state_bar, lambda);
  ParameterGradient rk4_theta_bar("rk4_theta_bar", values.extent(0), values.extent(1));
  Rk4Adjoint rk4(0.25);
  rk4.forward(model, state, 0.0, 1.0);
  rk4.reverse(model, model, state_bar, rk4_theta_bar);
  rows_of(state_bar, out.x0_bar);
  summed(rk4_theta_bar, out.rk4_theta_bar);
  return out;
}

} // namespace

TEST(LearnableHillMpi, RhsAndGradientsEqualTheWholeTissueOnOneRankAlsoThroughRk4) {
  for (bool learn_n : {true, false}) {
    const std::string what = learn_n ? "learned n" : "fixed n";
    const Result split = run_on(MPI_COMM_WORLD, learn_n);
    const Result whole = run_on(MPI_COMM_SELF, learn_n);
    EXPECT_EQ(split.fd_checked, 150);
    // Received signals are summed in the graph's id order on every decomposition; the rest up to summation
    // order (expect_split_equals_whole's tolerances).
    expect_split_equals_whole(split, whole, n_total, what);
  }
}
