// The tissue the MPI tests of graph_ode and its adjoints split over ranks: 5 genes, 3 LR pairs (two on one
// receptor), cells drawn identically on every rank; each rank builds its share with tessera's own halo,
// neighbour search, signalling graph and ligand exchange, as a simulation step does. And the check that a
// rank's per-cell results equal the whole tissue's.
#pragma once

#include "tessera/grn/graph_ode.hpp"
#include "tessera/parallel/decomposition.hpp"
#include "tessera/parallel/halo.hpp"
#include "tessera/parallel/mpi.hpp"
#include "tessera/sim/signaling_graph.hpp"
#include "tessera/tissue/cells.hpp"
#include "tessera/tissue/migration.hpp"
#include "tessera/tissue/neighbour_list.hpp"

#include <Kokkos_Core.hpp>
#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

// Included by one test file per executable: the anonymous namespace keeps the helpers local to it.
namespace {

using namespace tessera;

constexpr int n_genes = 5;

// A 2-D box [0, length_x] x [0, length_y]: periodic images in x, walls in y.
Domain periodic_strip(double length_x, double length_y) {
  Domain d;
  d.dim = 2;
  d.hi = {length_x, length_y, 0.0};
  d.periodic = {true, false, false};
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

// Every cell's position (uniform in the domain), type (alternating), state and cotangent (the weights of a
// linear loss, or a VJP's lambda), drawn from `seed` identically on every rank.
struct GlobalTissue {
  Domain domain;
  int n_total = 0;
  std::vector<double> x, y, genes, cotangent;
  std::vector<int> type;

  GlobalTissue(const Domain& box, int cells, unsigned seed) : domain(box), n_total(cells) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    for (int i = 0; i < n_total; ++i) {
      x.push_back(domain.lo[0] + domain.extent(0) * u(rng));
      y.push_back(domain.lo[1] + domain.extent(1) * u(rng));
      type.push_back(i % 2);
      for (int k = 0; k < n_genes; ++k) {
        genes.push_back(-0.3 + 2.3 * u(rng));
        cotangent.push_back(-1.0 + 2.0 * u(rng));
      }
    }
  }
};

// This rank's share of a GlobalTissue on `comm`: the cells whose centre it owns (rows in id order), ghosts
// one signalling range wide, and the neighbour list and signalling graph frozen as over a simulation step.
// Collective on comm. Neither copied nor moved: the exchange points at the halo, and a model given attach()
// points at the graph and the exchange.
struct DistributedTissue {
  SignalingParams signal = signaling();
  CartesianDecomposition decomposition;
  Cells<> cells;
  std::size_t n_owned = 0;
  std::vector<std::uint64_t> ids;     // of the owned rows
  std::vector<double> cotangent_rows; // of the owned rows, n_owned x n_genes
  HaloPlan halo;
  NeighbourList neighbours;
  SignalingGraph graph;
  LigandExchange exchange;

  DistributedTissue(MPI_Comm comm, const GlobalTissue& global)
      : decomposition(comm, global.domain, {0, 0, 0}), cells(2, n_genes, global.n_total),
        exchange(signal.ligand_genes()) {
    auto id = Kokkos::create_mirror_view(cells.id);
    auto type = Kokkos::create_mirror_view(cells.type);
    auto position = Kokkos::create_mirror_view(cells.position);
    auto radius = Kokkos::create_mirror_view(cells.radius);
    auto genes = Kokkos::create_mirror_view(cells.genes);
    std::size_t n = 0;
    for (int i = 0; i < global.n_total; ++i) {
      const double p[3] = {global.x[i], global.y[i], 0.0};
      if (!decomposition.owns(p)) continue;
      id(n) = static_cast<std::uint64_t>(i);
      ids.push_back(id(n));
      type(n) = global.type[i];
      for (int a = 0; a < 3; ++a)
        position(n, a) = p[a];
      radius(n) = 5.0;
      for (int k = 0; k < n_genes; ++k) {
        genes(n, k) = global.genes[i * n_genes + k];
        cotangent_rows.push_back(global.cotangent[i * n_genes + k]);
      }
      ++n;
    }
    Kokkos::deep_copy(cells.id, id);
    Kokkos::deep_copy(cells.type, type);
    Kokkos::deep_copy(cells.position, position);
    Kokkos::deep_copy(cells.radius, radius);
    Kokkos::deep_copy(cells.genes, genes);
    n_owned = n;
    cells.n_owned = n;
    cells.n_ghost = 0;

    halo = refresh_ghosts(decomposition, signal.range, cells);
    NeighbourSearch search;
    neighbours = search.build(cells, signal.range);
    graph = build_signaling_graph(cells, neighbours, signal);
    exchange.set_halo(&halo, cells.n_owned, cells.n_ghost);
  }
  DistributedTissue(const DistributedTissue&) = delete;
  DistributedTissue& operator=(const DistributedTissue&) = delete;

  // The cell types and the signalling (ghosts included) for `model`, which must not outlive this tissue.
  void attach(CellGeneModel& model) const {
    model.set_cell_types(cells.type);
    model.set_signaling(&graph, &exchange);
  }

  // The owned rows of the state: a view into the cells' genes.
  ConstGeneState owned_genes() const {
    return Kokkos::subview(cells.genes, std::make_pair(std::size_t(0), n_owned), Kokkos::ALL);
  }

  // The owned rows' cotangents in a new view.
  GeneState cotangent(const std::string& label) const {
    GeneState out(label, n_owned, n_genes);
    auto host = Kokkos::create_mirror_view(out);
    for (std::size_t r = 0; r < n_owned; ++r)
      for (int k = 0; k < n_genes; ++k)
        host(r, k) = cotangent_rows[r * n_genes + k];
    Kokkos::deep_copy(out, host);
    return out;
  }
};

// What the MPI tests difference to check a state VJP x_bar = lambda^T df/dx through the halo: <lambda, f(x)>
// summed over the tissue's ranks with gene `gene` of the cell whose id is `target` moved by `delta` by the
// rank that owns it (a ghost's ligand then feeds neighbours on other ranks, so central differences of it
// check the reverse halo against the forward one). `model` must be attached to `tissue`; x is its owned
// genes.
class RankSummedInnerProduct {
public:
  RankSummedInnerProduct(const DistributedTissue& tissue, const GeneRhs& model, ConstGeneState lambda)
      : tissue_(tissue), model_(model), trial_("trial", tissue.n_owned, n_genes),
        f_("f", tissue.n_owned, n_genes), trial_host_(Kokkos::create_mirror_view(trial_)),
        x_host_("x_host", tissue.n_owned, n_genes), lambda_host_("lambda_host", tissue.n_owned, n_genes) {
    Kokkos::deep_copy(x_host_, tissue.owned_genes());
    Kokkos::deep_copy(lambda_host_, lambda);
  }

  // The sum, and through `scale` (unless null) the sum of |lambda f|: the size of its rounding. Collective.
  double operator()(std::uint64_t target, int gene, double delta, double* scale = nullptr) const {
    Kokkos::deep_copy(trial_host_, x_host_);
    for (std::size_t r = 0; r < tissue_.n_owned; ++r)
      if (tissue_.ids[r] == target) trial_host_(r, gene) += delta;
    Kokkos::deep_copy(trial_, trial_host_);
    model_.evaluate(0.0, trial_, f_);
    const auto fh = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), f_);
    double sums[2] = {0.0, 0.0};
    for (std::size_t r = 0; r < tissue_.n_owned; ++r)
      for (int k = 0; k < n_genes; ++k) {
        sums[0] += lambda_host_(r, k) * fh(r, k);
        sums[1] += std::fabs(lambda_host_(r, k) * fh(r, k));
      }
    mpi::check(MPI_Allreduce(MPI_IN_PLACE, sums, 2, MPI_DOUBLE, MPI_SUM, tissue_.decomposition.comm()),
               "MPI_Allreduce");
    if (scale) *scale = sums[1];
    return sums[0];
  }

  // Entry (target, gene) of a per-cell result such as x_bar (host rows of the owned cells), on every rank
  // from the one that owns the cell. Collective.
  template <class HostRows>
  double owned_entry(const HostRows& rows, std::uint64_t target, int gene) const {
    double value = 0.0;
    for (std::size_t r = 0; r < tissue_.n_owned; ++r)
      if (tissue_.ids[r] == target) value = rows(r, gene);
    mpi::check(MPI_Allreduce(MPI_IN_PLACE, &value, 1, MPI_DOUBLE, MPI_SUM, tissue_.decomposition.comm()),
               "MPI_Allreduce");
    return value;
  }

private:
  const DistributedTissue& tissue_;
  const GeneRhs& model_;
  GeneState trial_, f_;
  GeneState::HostMirror trial_host_;
  Kokkos::View<double**, Kokkos::LayoutRight, Kokkos::HostSpace> x_host_, lambda_host_;
};

// Per-cell rows of a result by cell id: one rank's owned cells, or the whole tissue's.
using RowsById = std::map<std::uint64_t, std::vector<double>>;

// Every row of `got` (one rank's cells) equals the same cell's row of `want` (the whole tissue) within
// `tolerance` times the largest |entry| of `want`.
void expect_rows_near(const RowsById& got, const RowsById& want, double tolerance, const std::string& what) {
  double largest = 0.0;
  for (const auto& [id, row] : want)
    for (double v : row)
      largest = std::max(largest, std::fabs(v));
  ASSERT_GT(largest, 0.0);
  for (const auto& [id, row] : got) {
    ASSERT_EQ(want.count(id), 1u);
    for (int k = 0; k < n_genes; ++k)
      EXPECT_NEAR(row[k], want.at(id)[k], tolerance * largest) << what << " cell " << id << " gene " << k;
  }
}

// Every entry of `got` (a parameter gradient summed over ranks) equals the same entry of `want` within
// `tolerance` times the largest |entry| of `want`.
void expect_parameters_near(const std::vector<double>& got, const std::vector<double>& want, double tolerance,
                            const std::string& what) {
  double largest = 0.0;
  for (double v : want)
    largest = std::max(largest, std::fabs(v));
  ASSERT_GT(largest, 0.0);
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t e = 0; e < want.size(); ++e)
    EXPECT_NEAR(got[e], want[e], tolerance * largest) << what << " " << e;
}

// What the 1-vs-N-rank tests of a per-edge model (hill, sigmoid) compute on one communicator.
struct ModelResults {
  RowsById f, x_bar, x0_bar;                    // owned cells: RHS, state VJP, x0's cotangent through rk4
  std::vector<double> theta_bar, rk4_theta_bar; // summed over the communicator's ranks
  int fd_checked = 0;                           // central differences compared
};

// The ranks of MPI_COMM_WORLD own `n_cells` cells in `split` together, and every result equals the whole
// tissue's on one rank up to summation order (the ligand cotangents of ghosts and the parameter gradient
// over ranks): 1e-12 of the largest entry for one evaluation, 1e-11 through 4 substeps x 4 stages of rk4.
void expect_split_equals_whole(const ModelResults& split, const ModelResults& whole, int n_cells,
                               const std::string& what) {
  int owned = static_cast<int>(split.x_bar.size()), total = 0;
  MPI_Allreduce(&owned, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  EXPECT_EQ(total, n_cells);
  expect_rows_near(split.f, whole.f, 1e-12, what + " f");
  expect_rows_near(split.x_bar, whole.x_bar, 1e-12, what + " x_bar");
  expect_parameters_near(split.theta_bar, whole.theta_bar, 1e-12, what + " theta_bar");
  expect_rows_near(split.x0_bar, whole.x0_bar, 1e-11, what + " rk4 x0_bar");
  expect_parameters_near(split.rk4_theta_bar, whole.rk4_theta_bar, 1e-11, what + " rk4 theta_bar");
}

} // namespace
