// cells.division.threshold: a cell divides only while its division gene is at or above the threshold
// (quiescence, e.g. hypoxia in inputs/spheroid_oxygen.yaml); its cycle clock keeps running meanwhile.
#include "tessera/io/deck.hpp"
#include "tessera/io/deck_schema.hpp"
#include "tessera/parallel/mpi.hpp"
#include "tessera/sim/simulation.hpp"

#include "../support/gathered_cells.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

using namespace tessera;

namespace {

// Two cells far apart whose gene Q never changes (no production, no decay): cell 0 at Q = 0.8 and cell 1 at
// Q = 0.2, a 20 min cycle and clocks that start somewhere in it. Over 70 min every cell of a dividing lineage
// divides at least 3 times (8 cells or more); the second cell, below the threshold 0.5, never does, though
// its clock runs past 70 min; without the threshold both lineages grow alike.
test::Gathered run(const std::string& threshold) {
  const std::string csv = std::string(TESSERA_BINARY_DIR) + "/tests/sim/quiescence_np" +
                          std::to_string(mpi::size(MPI_COMM_WORLD)) + ".csv";
  if (mpi::rank(MPI_COMM_WORLD) == 0) {
    std::ofstream out(csv);
    out << "id,type,x,y,Q\n0,cell,50,100,0.8\n1,cell,250,100,0.2\n";
  }
  MPI_Barrier(MPI_COMM_WORLD);
  const std::string text = R"(
domain: {dim: 2, lo: [0, 0], hi: [300, 200], boundary: reflecting}
cells:
  types: [cell]
  init: {placement: file, file: )" +
                           csv + R"(, genes: file}
  division: {time: 20 min, gene: Q)" +
                           threshold +
                           R"(}
mechanics: {repulsion: 10}
grn: {genes: [Q], production: 0, basal: 0, decay: 0}
time: {dt: 1 min, end: 70 min, integrator: rk4}
)";
  const Deck d = Deck::parse(text, "quiescence.yaml", {}, all_key_tables());
  const SimulationSetup setup = read_simulation_setup(d, mpi::size(MPI_COMM_WORLD));
  Simulation sim(MPI_COMM_WORLD, setup);
  while (sim.step_index() < setup.time.steps())
    sim.step();
  return test::gather(MPI_COMM_WORLD, snapshot(sim.cells()));
}

int lineage(const test::Gathered& cells, bool high) {
  int n = 0;
  for (std::size_t i = 0; i < cells.cells.size(); ++i)
    n += (cells.cells.genes[i] > 0.5) == high;
  return n;
}

} // namespace

TEST(Lifecycle, ACellBelowTheDivisionThresholdDoesNotDivide) {
  const test::Gathered with = run(", threshold: 0.5");
  EXPECT_GE(lineage(with, true), 8);
  EXPECT_EQ(lineage(with, false), 1);
  ASSERT_EQ(with.row.count(1), 1u);
  EXPECT_GE(with.cells.cycle[with.row.at(1)], 70.0); // its clock ran on
  const test::Gathered without = run("");
  EXPECT_GE(lineage(without, true), 8);
  EXPECT_GE(lineage(without, false), 8);
}
