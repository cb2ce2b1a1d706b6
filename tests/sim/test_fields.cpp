// Diffusible fields inside the simulation (issue 12): cells that move, secrete and take up; the amount
// secreted reaches the fields exactly, uptake never empties a voxel below zero, and the fields on 1, 2 and 4
// ranks equal those of the same run on one rank.
#include "../support/petsc_environment.hpp"
#include "tessera/field/diffusion_fields.hpp"
#include "tessera/io/deck.hpp"
#include "tessera/io/deck_schema.hpp"
#include "tessera/learn/petsc.hpp"
#include "tessera/parallel/mpi.hpp"
#include "tessera/sim/simulation.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>

using namespace tessera;

namespace {

// Moving, interacting cells of two types: `source` cells secrete into u (2 per minute each) and take up v;
// v starts at 1 and is held at 1 on the x_lo wall. No decay and no flux for u: its amount grows by exactly
// 2 x (source cells) per minute.
const char* deck = R"(
domain: {dim: 2, lo: [0, 0], hi: [160, 160], boundary: reflecting}
cells:
  types: [source, sink]
  fractions: [0.25, 0.75]
  init: {placement: random, count: 120}
mechanics: {motility: 5 um^2/min}
grn:
  genes: [X]
  decay: 0.5 /min
time: {dt: 1 min, end: 12 min, integrator: rk4}
fields:
  spacing: 10 um
  dt: 0.5 min
  substrates:
    - {name: u, diffusion: 200 um^2/min}
    - {name: v, diffusion: 50 um^2/min, initial: 1, boundary: {x_lo: 1}}
  coupling:
    - {type: source, substrate: u, secretion: 2 /min}
    - {type: sink, substrate: v, uptake: 5 /min}
random: {seed: 7}
)";

std::unique_ptr<Simulation> simulate(MPI_Comm comm, SimulationSetup setup) {
  auto sim = std::make_unique<Simulation>(comm, setup);
  while (sim->step_index() < setup.time.steps())
    sim->step();
  return sim;
}

} // namespace

TEST(SimulationFields, CellsSecreteExactlyAndUptakeStaysNonNegative) {
  const Deck d = Deck::parse(deck, "fields.yaml", {}, all_key_tables());
  const SimulationSetup setup = read_simulation_setup(d, mpi::size(MPI_COMM_WORLD));
  const auto sim = simulate(MPI_COMM_WORLD, setup);
  const CellSnapshot mine = snapshot(sim->cells());
  long long sources = 0;
  for (std::size_t i = 0; i < mine.size(); ++i)
    sources += mine.type[i] == 0;
  sources = mpi::sum(MPI_COMM_WORLD, sources);
  ASSERT_GT(sources, 10);
  const FieldStats u = sim->fields()->stats(0), v = sim->fields()->stats(1);
  const double secreted = 2.0 * static_cast<double>(sources) * 12.0;
  EXPECT_NEAR(u.total, secreted, 1e-10 * secreted);
  EXPECT_GE(v.min, -1e-12);
  EXPECT_LT(v.min, 0.5); // the sinks did take up
}

// Each rank also runs the whole tissue alone and compares its own block of voxels. Cells agree to 1e-12
// between rank counts (SPEC 4.3) and the solves to rtol 1e-12: 1e-10 of the field's maximum.
TEST(SimulationFields, EveryRankCountGivesTheOneRankFields) {
  const Deck d = Deck::parse(deck, "fields.yaml", {}, all_key_tables());
  const auto all = simulate(MPI_COMM_WORLD, read_simulation_setup(d, mpi::size(MPI_COMM_WORLD)));
  const auto alone = simulate(MPI_COMM_SELF, read_simulation_setup(d, 1));
  const DiffusionFields& shared = *all->fields();
  const DiffusionFields& reference = *alone->fields();
  const auto& lo = shared.owned_lo();
  const auto& n = shared.owned_count();
  const auto& nn = shared.params().voxels;
  for (int s = 0; s < 2; ++s) {
    const std::vector<double> a = shared.values(s), b = reference.values(s);
    double worst = 0, scale = 0;
    std::size_t v = 0;
    for (int j = 0; j < n[1]; ++j)
      for (int i = 0; i < n[0]; ++i, ++v) {
        const double r = b[static_cast<std::size_t>(lo[1] + j) * nn[0] + lo[0] + i];
        worst = std::max(worst, std::abs(a[v] - r));
        scale = std::max(scale, std::abs(r));
      }
    EXPECT_LT(mpi::max(MPI_COMM_WORLD, worst), 1e-10 * mpi::max(MPI_COMM_WORLD, scale)) << "substrate " << s;
  }
}
