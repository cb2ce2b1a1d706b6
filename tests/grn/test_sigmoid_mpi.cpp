// The sigmoid model on a tissue split over ranks (SPEC §3.3-3.4): ghost cells' ligand values come from
// their owners (halo) and their cotangents go back (received signal's adjoint, then the reverse halo), so
// the RHS and the state VJP of each owned cell, and the parameter VJP summed over ranks, equal those of the
// whole tissue on one rank; the same through the rk4 adjoint. The state VJP also equals central differences
// of the rank-summed <lambda, f> with every cell perturbed by its owner (ghosts in play even on one rank:
// the strip is periodic in x). Each with linear and with log inputs (grn.sigmoid.inputs).
#include "tessera/grn/sigmoid.hpp"
#include "tessera/integrate/rk4_adjoint.hpp"
#include "tessera/parallel/mpi.hpp"

#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>
#include <random>
#include <string>

#include "../support/distributed_tissue.hpp"

namespace {

constexpr int n_total = 160;
const std::vector<std::string> type_names{"epi", "mes"};

using Result = ModelResults;

ModelParameters random_parameters(const CandidateEdges& candidates, PriorGraph prior) {
  ModelParameters p("sigmoid", sigmoid_layout(candidates), {"all"}, network().genes, type_names);
  std::mt19937 rng(prior == PriorGraph::dense ? 5 : 6);
  std::uniform_real_distribution<double> u(-0.7, 0.7), rate(0.3, 1.3);
  for (const TensorSpec& t : p.layout().tensors()) {
    std::vector<double> v(t.size());
    for (double& e : v)
      e = t.name == "beta_rho" || t.name == "gamma_rho" ? inverse_softplus(rate(rng)) : u(rng);
    p.set_tensor(0, t.name, v);
  }
  return p;
}

Result run_on(MPI_Comm comm, PriorGraph prior, const SigmoidInputs& inputs) {
  const DistributedTissue tissue(comm, GlobalTissue(periodic_strip(120.0, 90.0), n_total, 77));
  const std::size_t n = tissue.n_owned;
  const std::vector<std::uint64_t>& id = tissue.ids;
  const CandidateEdges candidates(network(), 2, prior == PriorGraph::dense, tissue.signal.pairs);
  const ModelParameters parameters = random_parameters(candidates, prior);
  SigmoidModel model(parameters, candidates, tissue.signal.pairs, prior, inputs);
  tissue.attach(model);
  const ConstGeneState x = tissue.owned_genes();
  const GeneState lambda = tissue.cotangent("lambda");
  const auto lambda_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), lambda);

  Result out;
  auto rows_of = [&](const GeneState& state, RowsById& rows) {
    const auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), state);
    for (std::size_t r = 0; r < n; ++r)
      rows[id[r]] = std::vector<double>(&h(r, 0), &h(r, 0) + n_genes);
  };
  auto summed = [&](const ParameterGradient& g) {
    const auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), g);
    std::vector<double> v(h.data(), h.data() + h.size());
    mpi::check(MPI_Allreduce(MPI_IN_PLACE, v.data(), static_cast<int>(v.size()), MPI_DOUBLE, MPI_SUM, comm),
               "MPI_Allreduce");
    return v;
  };
  GeneState f("f", n, n_genes), x_bar("x_bar", n, n_genes);
  model.evaluate(0.0, x, f);
  rows_of(f, out.f);
  ParameterGradient theta_bar("theta_bar", 1, parameters.size());
  model.vjp(0.0, x, lambda, x_bar, theta_bar);
  rows_of(x_bar, out.x_bar);
  out.theta_bar = summed(theta_bar);

  // Central differences of the rank-summed <lambda, f(x)> w.r.t. every gene of the first 30 cells (ids),
  // perturbed by their owner. Smooth model, step 1e-6: truncation ~1e-12, rounding 1e-16 |terms| / h.
  const auto xb_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x_bar);
  const RankSummedInnerProduct objective(tissue, model, lambda);
  const double h = 1e-6;
  for (std::uint64_t target = 0; target < 30; ++target)
    for (int gene = 0; gene < n_genes; ++gene) {
      double scale = 0.0;
      objective(target, gene, 0.0, &scale);
      const double fd = (objective(target, gene, h) - objective(target, gene, -h)) / (2 * h);
      const double expected = objective.owned_entry(xb_host, target, gene);
      EXPECT_NEAR(expected, fd, 1e-6 * std::fabs(fd) + 1e-15 * scale / h + 1e-12)
          << "cell " << target << " gene " << gene;
      ++out.fd_checked;
    }

  // The parameter VJP summed over ranks along one random direction per tensor (the same on every rank),
  // against central differences of the rank-summed <lambda, f>: the signals come through the halo.
  {
    auto values = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), parameters.values());
    std::mt19937 rng(83);
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    for (const TensorSpec& t : parameters.layout().tensors()) {
      std::vector<double> v(t.size());
      for (double& e : v)
        e = u(rng);
      auto loss_at = [&](double step, double* scale) {
        for (std::size_t e = 0; e < v.size(); ++e)
          values(0, t.offset + e) += step * v[e];
        Kokkos::deep_copy(parameters.values(), values);        // the model shares the View
        const double loss = objective(n_total, 0, 0.0, scale); // no cell has id n_total: x unperturbed
        for (std::size_t e = 0; e < v.size(); ++e)
          values(0, t.offset + e) -= step * v[e];
        Kokkos::deep_copy(parameters.values(), values);
        return loss;
      };
      double scale = 0.0, expected = 0.0;
      loss_at(0.0, &scale);
      for (std::size_t e = 0; e < v.size(); ++e)
        expected += out.theta_bar[t.offset + e] * v[e];
      const double fd = (loss_at(h, nullptr) - loss_at(-h, nullptr)) / (2 * h);
      EXPECT_NEAR(expected, fd, 1e-6 * std::fabs(fd) + 1e-15 * scale / h + 1e-12) << t.name;
      ++out.fd_checked;
    }
  }

  // The rk4 adjoint over [0, 1] in 4 substeps, the ligand exchange running inside every evaluation and VJP.
  GeneState state("state", n, n_genes), state_bar("state_bar", n, n_genes);
  Kokkos::deep_copy(state, x);
  Kokkos::deep_copy(state_bar, lambda);
  ParameterGradient rk4_theta_bar("rk4_theta_bar", 1, parameters.size());
  Rk4Adjoint rk4(0.25);
  rk4.forward(model, state, 0.0, 1.0);
  rk4.reverse(model, model, state_bar, rk4_theta_bar);
  rows_of(state_bar, out.x0_bar);
  out.rk4_theta_bar = summed(rk4_theta_bar);
  return out;
}

} // namespace

TEST(SigmoidMpi, OwnedResultsEqualTheWholeTissueOnOneRankAlsoThroughRk4) {
  // The genes are uniform in [0, 1): log inputs (offset 0.05) are smooth there.
  SigmoidInputs log_inputs;
  log_inputs.log = true;
  log_inputs.offset = 0.05;
  for (const SigmoidInputs& inputs : {SigmoidInputs{}, log_inputs})
    for (const PriorGraph prior : {PriorGraph::edges, PriorGraph::dense}) {
      const std::string name = to_string(prior) + " " + to_string(inputs);
      const Result split = run_on(MPI_COMM_WORLD, prior, inputs);
      EXPECT_EQ(split.fd_checked, 30 * n_genes + 5); // and the five tensors
      const Result whole = run_on(MPI_COMM_SELF, prior, inputs);
      expect_split_equals_whole(split, whole, n_total, name);
    }
}
