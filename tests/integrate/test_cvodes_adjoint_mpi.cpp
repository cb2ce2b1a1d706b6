// The CVODES adjoint on a tissue split over ranks (SPEC §3.3-3.4): the graph_ode model exchanges ligands in
// every RHS and sends ghost cotangents back in every VJP, CVODES steers every rank with global norms, and
// the quadrature is a per-rank partial sum; so x(t1) and dL/dx(t0) per cell, and theta_bar summed over
// ranks, equal those of the whole tissue on one rank.
#include "tessera/grn/graph_ode.hpp"
#include "tessera/integrate/cvodes_adjoint.hpp"
#include "tessera/parallel/decomposition.hpp"
#include "tessera/parallel/halo.hpp"
#include "tessera/parallel/mpi.hpp"
#include "tessera/sim/signaling_graph.hpp"
#include "tessera/tissue/cells.hpp"
#include "tessera/tissue/migration.hpp"
#include "tessera/tissue/neighbour_list.hpp"

#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

using namespace tessera;

namespace {

constexpr int n_total = 60;
constexpr int n_genes = 5;

Domain tissue_domain() {
  Domain d;
  d.dim = 2;
  d.hi = {70.0, 60.0, 0.0};
  d.periodic = {true, false, false}; // periodic images in x, walls in y
  return d;
}

GeneNetwork network() {
  GeneNetwork net;
  net.model = "graph_ode";
  net.genes = {"A", "B", "C", "D", "E"};
  net.edges = {{-1, 0, 1, +1, 1, 0.5, 2}, {-1, 1, 2, -1, 1, 0.5, 2}, {0, 3, 0, +1, 1, 0.5, 2},
               {1, 4, 0, -1, 1, 0.5, 2},  {1, 2, 3, +1, 1, 0.5, 2},  {0, 0, 4, +1, 1, 0.5, 2}};
  return net;
}

SignalingParams signaling() {
  SignalingParams p;
  LigandReceptorPair a, b, c;
  a.ligand = 0;
  a.receptor = 3;
  b.ligand = 2;
  b.receptor = 3;
  c.ligand = 1;
  c.receptor = 4;
  p.pairs = {a, b, c};
  p.range = 14.0;
  p.length = 20.0;
  p.autocrine = true;
  return p;
}

// Every cell's position, type, state and loss weight, drawn identically on every rank.
struct GlobalTissue {
  std::vector<double> x, y, genes, weight;
  std::vector<int> type;
  GlobalTissue() {
    std::mt19937 rng(91);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    for (int i = 0; i < n_total; ++i) {
      x.push_back(70.0 * u(rng));
      y.push_back(60.0 * u(rng));
      type.push_back(i % 2);
      for (int k = 0; k < n_genes; ++k) {
        genes.push_back(-0.3 + 2.3 * u(rng));
        weight.push_back(-1.0 + 2.0 * u(rng));
      }
    }
  }
};

struct Result {
  std::map<std::uint64_t, std::vector<double>> x_t1, x0_bar; // owned cells by id
  std::vector<double> theta_bar;                             // summed over the communicator's ranks
  CvodesAdjointStats stats;
};

// The gradient of L = <w, x(t1)> over the tissue split over `comm`, built with tessera's own halo,
// neighbour search and signalling graph (neighbours frozen over the interval, as in a simulation step).
Result gradient_on(MPI_Comm comm, const GraphOdeParameters& parameters, const TimeParams& params) {
  const GlobalTissue global;
  const Domain domain = tissue_domain();
  const CartesianDecomposition decomposition(comm, domain, {0, 0, 0});
  const SignalingParams signal = signaling();

  Cells<> cells(2, n_genes, n_total);
  auto id = Kokkos::create_mirror_view(cells.id);
  auto type = Kokkos::create_mirror_view(cells.type);
  auto position = Kokkos::create_mirror_view(cells.position);
  auto radius = Kokkos::create_mirror_view(cells.radius);
  auto genes = Kokkos::create_mirror_view(cells.genes);
  std::vector<double> weight_rows;
  std::size_t n = 0;
  for (int i = 0; i < n_total; ++i) {
    const double p[3] = {global.x[i], global.y[i], 0.0};
    if (!decomposition.owns(p)) continue;
    id(n) = static_cast<std::uint64_t>(i);
    type(n) = global.type[i];
    for (int a = 0; a < 3; ++a)
      position(n, a) = p[a];
    radius(n) = 5.0;
    for (int k = 0; k < n_genes; ++k) {
      genes(n, k) = global.genes[i * n_genes + k];
      weight_rows.push_back(global.weight[i * n_genes + k]);
    }
    ++n;
  }
  Kokkos::deep_copy(cells.id, id);
  Kokkos::deep_copy(cells.type, type);
  Kokkos::deep_copy(cells.position, position);
  Kokkos::deep_copy(cells.radius, radius);
  Kokkos::deep_copy(cells.genes, genes);
  cells.n_owned = n;
  cells.n_ghost = 0;

  const HaloPlan halo = refresh_ghosts(decomposition, signal.range, cells);
  NeighbourSearch search;
  const NeighbourList neighbours = search.build(cells, signal.range);
  const SignalingGraph graph = build_signaling_graph(cells, neighbours, signal);
  LigandExchange exchange(signal.ligand_genes());
  exchange.set_halo(&halo, cells.n_owned, cells.n_ghost);

  GraphOdeModel model(parameters, network(), signal.pairs);
  model.set_cell_types(cells.type);
  model.set_signaling(&graph, &exchange);

  GeneState x("x", n, n_genes), x_bar("x_bar", n, n_genes);
  Kokkos::deep_copy(x, Kokkos::subview(cells.genes, std::make_pair(std::size_t(0), n), Kokkos::ALL));
  auto w = Kokkos::create_mirror_view(x_bar);
  for (std::size_t r = 0; r < n; ++r)
    for (int k = 0; k < n_genes; ++k)
      w(r, k) = weight_rows[r * n_genes + k];
  Kokkos::deep_copy(x_bar, w);
  ParameterGradient theta_bar("theta_bar", parameters.values().extent(0), parameters.values().extent(1));

  CvodesAdjoint adjoint(comm, params);
  adjoint.forward(model, x, 0.0, 0.5);
  adjoint.reverse(model, model, x_bar, theta_bar);

  Result out;
  const auto xh = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
  const auto xb = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x_bar);
  for (std::size_t r = 0; r < n; ++r) {
    out.x_t1[id(r)] = std::vector<double>(&xh(r, 0), &xh(r, 0) + n_genes);
    out.x0_bar[id(r)] = std::vector<double>(&xb(r, 0), &xb(r, 0) + n_genes);
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

    auto compare_rows = [&](const std::map<std::uint64_t, std::vector<double>>& got,
                            const std::map<std::uint64_t, std::vector<double>>& want,
                            const std::string& what) {
      double largest = 0.0;
      for (const auto& [id, row] : want)
        for (double v : row)
          largest = std::max(largest, std::fabs(v));
      ASSERT_GT(largest, 0.0);
      for (const auto& [id, row] : got) {
        ASSERT_EQ(want.count(id), 1u);
        for (int k = 0; k < n_genes; ++k)
          EXPECT_NEAR(row[k], want.at(id)[k], tolerance * largest)
              << name << " " << what << " cell " << id << " gene " << k;
      }
    };
    compare_rows(split.x_t1, whole.x_t1, "x(t1)");
    compare_rows(split.x0_bar, whole.x0_bar, "x0_bar");
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
