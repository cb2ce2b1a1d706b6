// Ligand–receptor signalling (SPEC §2): with frozen cells on a lattice, a receptor's target switches on in
// exactly the cells that have a ligand-expressing (sender) cell within r_sig, on any number of ranks;
// neighbours at exactly r_sig signal, within a rank and across a rank cut.
#include "tessera/io/deck.hpp"
#include "tessera/io/deck_schema.hpp"
#include "tessera/parallel/mpi.hpp"
#include "tessera/sim/simulation.hpp"

#include "../support/gathered_cells.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <numeric>
#include <string>

using namespace tessera;

namespace {

// Senders keep their ligand L on (self-activation); receivers' L decays from its initial value. R is
// produced only by the received signal, T only by R. Lattice step 10 um, r_sig 15 um: a cell hears its 8
// nearest lattice neighbours (distances 10 and 14.1), never those at 20 um.
const char* deck = R"(
domain: {dim: 2, lo: [0, 0], hi: [200, 160], boundary: periodic}
cells:
  types: [sender, receiver]
  fractions: [0.08, 0.92]
  init: {placement: lattice, spacing: 10 um, genes: constant, gene_value: [1, 0, 0]}
mechanics: {frozen: true}
grn:
  genes: [L, R, T]
  basal: 0               # receivers make no ligand; senders keep theirs by self-activation
  decay: [0.5, 0.5, 0.5]
  edges:
    - {type: sender, source: L, target: L, sign: activation, K: 1, h: 0.3, n: 4}
    - {source: R, target: T, sign: activation, K: 1, h: 0.3, n: 4}
signaling:
  range: 15 um
  pairs:
    - {ligand: L, receptor: R, K: 1, h: 0.2, n: 4}
time: {dt: 1 min, end: 80 min, integrator: rk4, dt_grn: 0.2 min}
random: {seed: 4}
)";

} // namespace

TEST(Signaling, ReceptorTargetSwitchesOnOnlyWithinRangeOfSenders) {
  const Deck d = Deck::parse(deck, "signaling.yaml", {}, all_key_tables());
  const SimulationSetup setup = read_simulation_setup(d, mpi::size(MPI_COMM_WORLD));
  Simulation sim(MPI_COMM_WORLD, setup);
  while (sim.step_index() < setup.time.steps())
    sim.step();

  // Everyone's type, position and T on every rank.
  const CellSnapshot mine = snapshot(sim.cells());
  const int n = static_cast<int>(mine.size()), ranks = mpi::size(MPI_COMM_WORLD);
  std::vector<int> counts(ranks), displs(ranks, 0);
  MPI_Allgather(&n, 1, MPI_INT, counts.data(), 1, MPI_INT, MPI_COMM_WORLD);
  std::partial_sum(counts.begin(), counts.end() - 1, displs.begin() + 1);
  const int total = std::accumulate(counts.begin(), counts.end(), 0);
  std::vector<int> type(total);
  std::vector<double> x(total), y(total), t_gene(total), my_x, my_y, my_t;
  for (int i = 0; i < n; ++i) {
    my_x.push_back(mine.position[2 * i]);
    my_y.push_back(mine.position[2 * i + 1]);
    my_t.push_back(mine.genes[3 * i + 2]);
  }
  MPI_Allgatherv(mine.type.data(), n, MPI_INT, type.data(), counts.data(), displs.data(), MPI_INT,
                 MPI_COMM_WORLD);
  MPI_Allgatherv(my_x.data(), n, MPI_DOUBLE, x.data(), counts.data(), displs.data(), MPI_DOUBLE,
                 MPI_COMM_WORLD);
  MPI_Allgatherv(my_y.data(), n, MPI_DOUBLE, y.data(), counts.data(), displs.data(), MPI_DOUBLE,
                 MPI_COMM_WORLD);
  MPI_Allgatherv(my_t.data(), n, MPI_DOUBLE, t_gene.data(), counts.data(), displs.data(), MPI_DOUBLE,
                 MPI_COMM_WORLD);
  ASSERT_EQ(total, 20 * 16);

  int on_near = 0, off_far = 0, near = 0, far = 0;
  for (int i = 0; i < total; ++i) {
    if (type[i] != 1) continue;
    bool hears = false;
    for (int j = 0; j < total; ++j) {
      if (type[j] != 0) continue;
      double dx = std::fabs(x[i] - x[j]), dy = std::fabs(y[i] - y[j]);
      dx = std::min(dx, 200 - dx);
      dy = std::min(dy, 160 - dy);
      hears |= std::hypot(dx, dy) <= 15.0;
    }
    // On: T near its steady state ~ 1/0.5 * H(R) ~ 1.9; off: T ~ 0 (nothing ever produced it).
    if (hears) {
      ++near;
      on_near += t_gene[i] > 1.0;
    } else {
      ++far;
      off_far += t_gene[i] < 0.05;
    }
  }
  ASSERT_GT(near, 10);
  ASSERT_GT(far, 10);
  EXPECT_EQ(on_near, near) << "receivers within r_sig of a sender whose target stayed off";
  EXPECT_EQ(off_far, far) << "receivers beyond r_sig of every sender whose target switched on";
}

namespace {

// Frozen cells on the lattice lo + 8 + 16 i of a periodic 144 um square: every cell has exactly 4 lattice
// neighbours at 16 um (2 of them through the periodic wrap for the edge cells) and none closer than 22.6 um
// beyond those. The rank cuts (2 or 2 x 2 boxes) fall at 64 um, on lattice sites, so the cells at 48 um sit
// exactly one ghost width (16 um) from the cut. Every coordinate and distance is exact in floating point.
// L stays at 1 (no decay, no production); R is made only by the signal.
std::string exact_range_deck(const std::string& range) {
  return R"(
domain: {dim: 2, lo: [-8, -8], hi: [136, 136], boundary: periodic}
cells:
  types: [cell]
  init: {placement: lattice, spacing: 16 um, genes: constant, gene_value: [1, 0]}
mechanics: {frozen: true}
grn:
  genes: [L, R]
  basal: 0
  decay: [0, 0.5]
signaling:
  range: )" +
         range + R"(
  pairs:
    - {ligand: L, receptor: R, K: 1, h: 2, n: 2}
time: {dt: 1 min, end: 3 min, integrator: rk4, dt_grn: 0.25 min}
random: {seed: 4}
)";
}

// R of every cell by id, on every rank.
std::map<std::uint64_t, double> receptor_after_run(const std::string& range) {
  const Deck d = Deck::parse(exact_range_deck(range), "exact_range.yaml", {}, all_key_tables());
  const SimulationSetup setup = read_simulation_setup(d, mpi::size(MPI_COMM_WORLD));
  Simulation sim(MPI_COMM_WORLD, setup);
  while (sim.step_index() < setup.time.steps())
    sim.step();
  const test::Gathered all = test::gather(MPI_COMM_WORLD, snapshot(sim.cells()));
  std::map<std::uint64_t, double> out;
  for (const auto& [id, row] : all.row)
    out[id] = all.cells.genes[row * 2 + 1];
  return out;
}

} // namespace

TEST(Signaling, NeighboursAtExactlyTheRangeSignalWithinAndAcrossRanks) {
  // SPEC §2: d <= r_sig. Range 16 um must give the run of range 16.5 um (the same 4 neighbours, unit weights)
  // bit for bit, and differ from 15.5 um (no neighbour: R stays 0).
  const auto exact = receptor_after_run("16 um");
  const auto wider = receptor_after_run("16.5 um");
  const auto narrower = receptor_after_run("15.5 um");
  ASSERT_EQ(exact.size(), 81u);
  ASSERT_EQ(wider.size(), 81u);
  for (const auto& [id, r] : exact) {
    EXPECT_EQ(r, wider.at(id)) << "cell " << id << ": its neighbours at exactly r_sig were left out";
    EXPECT_GT(r, 0.1) << "cell " << id;
    EXPECT_EQ(narrower.at(id), 0.0) << "cell " << id;
  }
}
