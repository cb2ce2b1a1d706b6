// Decomposition invariance (SPEC §4.3): the same deck run on all ranks of MPI_COMM_WORLD and, as the
// reference, on rank 0 alone (MPI_COMM_SELF) gives the same cells — ids, types, positions, genes.
#include "tessera/io/deck.hpp"
#include "tessera/io/deck_schema.hpp"
#include "tessera/parallel/mpi.hpp"
#include "tessera/sim/simulation.hpp"

#include "../support/gathered_cells.hpp"

#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <string>
#include <vector>

using namespace tessera;
using test::gather;
using test::Gathered;

namespace {

// Mechanics (repulsion, adhesion, Brownian motion), division, death and ligand-receptor signalling, on a
// periodic box: every part of a step that could depend on the decomposition.
const std::string full_deck = R"(
domain: {dim: 2, lo: [0, 0], hi: [240 um, 180 um], boundary: periodic}
cells:
  types: [a, b]
  fractions: [0.5, 0.5]
  radius: [5, 4]
  max_cells: 1500
  init: {placement: random, count: 400, genes: uniform, gene_low: 0, gene_high: 1}
  division: {time: [30 min, 45 min], gene: g1, gain: 0.5}
  death: {rate: [0.002, 0.004]}
mechanics:
  repulsion: [10, 8]
  adhesion_range: [1.3, 1.2]
  adhesion: [[1.0, 0.4], [0.4, 2.0]]
  motility: [0.5 um^2/min, 1 um^2/min]
grn:
  genes: [lig, rec, g1, g2]
  decay: 0.3
  basal: 0.05
  edges:
    - {type: a, source: lig, target: lig, sign: activation, K: 1, h: 0.4, n: 3}
    - {source: rec, target: g1, sign: activation, K: 1, h: 0.3, n: 2}
    - {source: g1, target: g2, sign: repression, K: 1, h: 0.5, n: 2}
signaling:
  range: 18 um
  length: 10 um
  autocrine: true
  pairs:
    - {ligand: lig, receptor: rec, K: 1.5, h: 0.2, n: 2}
time: {dt: 1 min, end: 100 min, integrator: rk4, dt_grn: 0.25 min}
random: {seed: 2024}
)";

// The learned graph ODE with ligand-receptor edges and per-type weights on a moving tissue.
const std::string graph_ode_deck = R"(
domain: {dim: 2, lo: [0, 0], hi: [200 um, 150 um], boundary: periodic}
cells:
  types: [a, b]
  init: {placement: random, count: 250, genes: uniform, gene_low: 0, gene_high: 1}
mechanics: {repulsion: 10, motility: 0.5}
grn:
  model: graph_ode
  genes: [l, r, x, y]
  edges:
    - {source: r, target: x}
    - {source: x, target: y}
    - {type: b, source: y, target: l}
  graph_ode: {variant: gatv2, heads: 2, hidden: 8, mlp_width: 8, mlp_layers: 3, share: per_type, init_seed: 3}
signaling:
  range: 16 um
  autocrine: true
  pairs:
    - {ligand: l, receptor: r}
time: {dt: 1 min, end: 30 min, integrator: rk4, dt_grn: 0.5 min}
random: {seed: 8}
)";

const char* deck_text(int dim) {
  if (dim == 0) return full_deck.c_str();
  if (dim == 1) return graph_ode_deck.c_str();
  static std::string text2 = R"(
domain: {dim: 2, lo: [0, 0], hi: [300 um, 200 um], boundary: periodic}
cells:
  types: [a, b]
  fractions: [0.6, 0.4]
  init: {placement: random, count: 700, genes: uniform, gene_low: 0, gene_high: 1.5}
grn:
  genes: [g0, g1, g2, g3, g4]
  decay: [0.3, 0.5, 0.4, 0.2, 0.6]
  basal: 0.05
  edges:
    - {source: g0, target: g1, sign: repression, K: 1, h: 0.4, n: 3}
    - {source: g1, target: g0, sign: repression, K: 1, h: 0.4, n: 3}
    - {type: a, source: g2, target: g3, sign: activation, K: 0.8, h: 0.3, n: 2}
    - {type: b, source: g4, target: g2, sign: repression, K: 0.5, h: 0.5, n: 2.5}
    - {source: g3, target: g4, sign: activation, K: 1.2, h: 0.6, n: 4}
time: {dt: 1 min, end: 30 min, integrator: rk4, dt_grn: 0.25 min}
random: {seed: 99}
)";
  static std::string text3 = R"(
domain: {dim: 3, lo: [0, 0, 0], hi: [100, 120, 90], boundary: reflecting}
cells:
  types: [a, b, c]
  init: {placement: lattice, spacing: 12 um, genes: uniform, gene_low: 0.2, gene_high: 1}
grn:
  genes: [x, y]
  edges:
    - {source: x, target: y, sign: activation, K: 1, h: 0.5, n: 2}
    - {type: c, source: y, target: x, sign: repression, K: 2, h: 0.3, n: 3}
time: {dt: 2 min, end: 40 min, integrator: cvode, rtol: 1e-8, atol: 1e-10}
random: {seed: 5}
)";
  return dim == 2 ? text2.c_str() : text3.c_str();
}

void expect_same(const Gathered& world, const Gathered& self, double rel_tol) {
  ASSERT_EQ(world.cells.size(), self.cells.size());
  double worst_position = 0.0;
  ASSERT_EQ(world.row.size(), world.cells.size()) << "duplicate ids across ranks";
  double worst = 0.0;
  for (const auto& [id, i] : self.row) {
    const auto it = world.row.find(id);
    ASSERT_NE(it, world.row.end()) << "cell " << id << " lost by the decomposition";
    const std::size_t j = it->second;
    EXPECT_EQ(world.cells.type[j], self.cells.type[i]);
    for (int a = 0; a < self.cells.dim; ++a) {
      const double x = self.cells.position[i * self.cells.dim + a];
      const double y = world.cells.position[j * self.cells.dim + a];
      worst_position = std::max(worst_position, std::fabs(x - y) / std::max(std::fabs(x), 1.0));
    }
    for (int g = 0; g < self.cells.n_genes; ++g) {
      const double x = self.cells.genes[i * self.cells.n_genes + g];
      const double y = world.cells.genes[j * self.cells.n_genes + g];
      worst = std::max(worst, std::fabs(x - y) / std::max(std::fabs(x), 1e-300));
    }
  }
  EXPECT_LE(worst, rel_tol);
  EXPECT_LE(worst_position, rel_tol);
}

void run_and_compare(int dim, double rel_tol, const std::vector<std::string>& overrides = {}) {
  const Deck deck = Deck::parse(deck_text(dim), "invariance.yaml", overrides, all_key_tables());
  const SimulationSetup setup = read_simulation_setup(deck, mpi::size(MPI_COMM_WORLD));
  Simulation world(MPI_COMM_WORLD, setup);
  while (world.step_index() < setup.time.steps())
    world.step();
  const Gathered all = gather(MPI_COMM_WORLD, snapshot(world.cells()));
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank != 0) return;
  Simulation alone(MPI_COMM_SELF, setup);
  while (alone.step_index() < setup.time.steps())
    alone.step();
  const Gathered ref = gather(MPI_COMM_SELF, snapshot(alone.cells()));
  expect_same(all, ref, rel_tol);
}

} // namespace

TEST(DecompositionInvariance, Rk4In2DIsExactlyTheSameOnAnyRankCount) {
  // Each cell's ODE is integrated by the same arithmetic wherever it lives: no tolerance needed beyond 0.
  run_and_compare(2, 0.0);
}

TEST(DecompositionInvariance, CvodeIn3DAgreesToRoundoff) {
  // CVODE's error norms are sums over all ranks; only their summation order differs with the rank count, so
  // step sizes, and hence states, agree to a few ulps of the accepted steps: 1e-10 relative.
  run_and_compare(3, 1e-10);
}

TEST(DecompositionInvariance, MechanicsDivisionDeathAndSignalingAreTheSameOnAnyRankCount) {
  // Neighbour rows are sorted by id, daughter ids follow the global order of parent ids and every draw is
  // keyed by cell id, so 100 steps give the same cells bit for bit: the tolerance is 0.
  run_and_compare(0, 0.0);
}

TEST(DecompositionInvariance, GraphOdeWithSignalingAgreesToRoundoff) {
  // Attention sums follow the id-sorted signalling graph; the MLP runs as BLAS products over tiles whose
  // composition differs with the rank count, which may change the last bits of a dot product: 1e-12.
  run_and_compare(1, 1e-12);
}

TEST(DecompositionInvariance, GraphOdeInMixedPrecisionAgreesToRoundoff) {
  // The mixed precision's float products are cut at the cells (one call per cell's genes), so no float value
  // depends on the tiles: the tolerance of double.
  run_and_compare(1, 1e-12, {"grn.graph_ode.precision=mixed"});
}

TEST(DecompositionInvariance, EveryInitialCellIsOwnedExactlyOnce) {
  const Deck deck = Deck::parse(deck_text(2), "invariance.yaml", {}, all_key_tables());
  const SimulationSetup setup = read_simulation_setup(deck, mpi::size(MPI_COMM_WORLD));
  Simulation world(MPI_COMM_WORLD, setup);
  const Gathered all = gather(MPI_COMM_WORLD, snapshot(world.cells()));
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank != 0) return;
  ASSERT_EQ(all.cells.size(), 700u);
  ASSERT_EQ(all.row.size(), 700u);
  EXPECT_EQ(all.row.begin()->first, 0u);
  EXPECT_EQ(all.row.rbegin()->first, 699u);
}

TEST(DecompositionInvariance, BalancedBoxesGiveTheSameCellsBitForBit) {
  // parallel.balance: cells moves the box edges to the cells' quantiles, not what any step computes: the
  // same 100 steps of mechanics, division, death and signalling as on one rank, tolerance 0.
  run_and_compare(0, 0.0, {"parallel.balance=cells"});
}

TEST(DecompositionInvariance, BoxesReCutDuringTheRunGiveTheSameCellsBitForBit) {
  // parallel.balance_every re-cuts the boxes every 7 steps where the cells then are, and that step's
  // migration moves each cell to its new box's rank (across several boxes when the cut moved far): 100 steps
  // as on one rank, tolerance 0.
  run_and_compare(0, 0.0, {"parallel.balance=cells", "parallel.balance_every=7"});
}

TEST(DecompositionInvariance, BalanceRefusesARankGridItCannotCut) {
  // More boxes along an axis than RankBoxes carries cuts for: an input error naming the key, at setup.
  const Deck deck = Deck::parse(deck_text(2), "invariance.yaml",
                                {"parallel.balance=cells", "parallel.dims=[65, 1]"}, all_key_tables());
  try {
    read_simulation_setup(deck, 65);
    ADD_FAILURE() << "65 boxes along x were accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("parallel.balance"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("at most 64 boxes per axis"), std::string::npos) << e.what();
  }
}
