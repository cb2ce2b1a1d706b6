// Per-phase cost of a full simulation step on the quickstart physics (2-D, mechanics with adhesion and
// motility, hill GRN with two ligand->receptor pairs, rk4), in ns per cell-step, and peak memory per cell.
// Weak scaling: cells per rank fixed, the domain grows with the rank count along x.
//   mpirun -np R build/bin/tessera_bench_tissue [--cells-per-rank 10000,100000,1000000] [--genes 8,32]
//                                              [--steps 10] [--dim 2] [--integrator rk4|cvode]
#include "bench_common.hpp"
#include "tessera/io/deck.hpp"
#include "tessera/io/deck_schema.hpp"
#include "tessera/parallel/mpi.hpp"
#include "tessera/sim/simulation.hpp"

#include <Kokkos_Core.hpp>
#include <mpi.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using namespace tessera;
using bench::max_over_ranks;
using bench::now;
using bench::parse_list;

namespace {

// Peak resident memory of this process, bytes (Linux).
double peak_rss_bytes() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) * 1024.0;
  return 0.0;
}

double current_rss_bytes() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) * 1024.0;
  return 0.0;
}

// Quickstart physics: 3 types, 0.008 cells/um^2 (2-D) or 0.0008 cells/um^3 (3-D), ligand->receptor pairs.
std::string deck_text(long long cells, int ranks, int genes, int dim, const std::string& integrator) {
  const double density = dim == 2 ? 0.008 : 0.0008;
  const double volume = static_cast<double>(cells) * ranks / density;
  // The box is `ranks` times longer in x than in the other axes, so each rank gets a cube-like box.
  const double side = std::pow(volume / ranks, 1.0 / dim);
  std::ostringstream d;
  d << "domain: {dim: " << dim << ", lo: [0, 0" << (dim == 3 ? ", 0" : "") << "], hi: [" << side * ranks
    << ", " << side << (dim == 3 ? ", " + std::to_string(side) : "") << "], boundary: periodic}\n"
    << "parallel: {dims: [" << ranks << ", 1" << (dim == 3 ? ", 1" : "") << "]}\n"
    << "cells: {types: [a, b, c], radius: [5, 6, 4], max_cells: " << cells * ranks * 4
    << ", init: {count: " << cells * ranks << ", genes: uniform, gene_low: 0, gene_high: 1}}\n"
    << "mechanics: {repulsion: 10, adhesion_range: 1.2, adhesion: [[1, 0.5, 0.2], [0.5, 1, 0.2], [0.2, 0.2, "
       "0.5]], "
    << "motility: [0.2, 0.5, 2]}\n"
    << "grn:\n  genes: [";
  for (int g = 0; g < genes; ++g)
    d << (g ? ", " : "") << "g" << g;
  d << "]\n  decay: 0.5\n  basal: 0.05\n  edges:\n";
  for (int g = 0; g < genes; ++g) {
    d << "    - {source: g" << (g + genes - 1) % genes << ", target: g" << g
      << ", sign: repression, h: 0.4, n: 3}\n";
    d << "    - {source: g" << (g + 3) % genes << ", target: g" << g << ", sign: activation, h: 0.5, n: 2}\n";
  }
  d << "signaling:\n  range: 20 um\n  pairs:\n    - {ligand: g0, receptor: g1}\n    - {ligand: g2, receptor: "
       "g3}\n"
    << "time: {dt: 1 min, end: 10000 min, integrator: " << integrator << ", dt_grn: 0.25 min}\n";
  return d.str();
}

} // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  {
    Kokkos::ScopeGuard kokkos(argc, argv);
    std::vector<long long> per_rank{10000, 100000, 1000000}, gene_counts{8, 32};
    int steps = 10, dim = 2;
    std::string integrator = "rk4";
    for (int i = 1; i + 1 < argc; i += 2) {
      const std::string a = argv[i];
      if (a == "--cells-per-rank") per_rank = parse_list(argv[i + 1]);
      if (a == "--genes") gene_counts = parse_list(argv[i + 1]);
      if (a == "--steps") steps = std::stoi(argv[i + 1]);
      if (a == "--dim") dim = std::stoi(argv[i + 1]);
      if (a == "--integrator") integrator = argv[i + 1];
    }
    const int rank = mpi::rank(MPI_COMM_WORLD), ranks = mpi::size(MPI_COMM_WORLD);
    if (rank == 0)
      std::printf("# tessera_bench_tissue: %d rank(s), Kokkos %s, %d-D, %s, %d steps; ns per cell-step "
                  "(slowest rank)\n"
                  "%9s %4s %8s %8s %8s %9s %9s %9s %9s %9s %12s %10s\n",
                  ranks, Kokkos::DefaultExecutionSpace::name(), dim, integrator.c_str(), steps, "cells/rk",
                  "G", "migrate", "halo", "neighb", "mechanics", "grn", "lifecycle", "total", "step_s",
                  "mech+nb/s/core", "bytes/cell");
    for (const long long n : per_rank)
      for (const long long g : gene_counts) {
        const double rss0 = current_rss_bytes();
        const Deck deck = Deck::parse(deck_text(n, ranks, static_cast<int>(g), dim, integrator), "bench.yaml",
                                      {}, all_key_tables());
        const SimulationSetup setup = read_simulation_setup(deck, ranks);
        Simulation sim(MPI_COMM_WORLD, setup);
        for (int s = 0; s < 2; ++s)
          sim.step(); // warm-up: buffers reach their size
        const PhaseTimes before = sim.phase_times();
        MPI_Barrier(MPI_COMM_WORLD);
        const double t0 = now();
        for (int s = 0; s < steps; ++s)
          sim.step();
        const double wall = max_over_ranks(now() - t0);
        const PhaseTimes& after = sim.phase_times();
        const double cells = static_cast<double>(sim.cells().n_owned);
        const double scale = 1e9 / steps / std::max(cells, 1.0);
        auto phase = [&](double a, double b) { return max_over_ranks((a - b) * scale); };
        const double migrate = phase(after.migrate, before.migrate), halo = phase(after.halo, before.halo),
                     neighbours = phase(after.neighbours, before.neighbours),
                     mechanics = phase(after.mechanics, before.mechanics), grn = phase(after.grn, before.grn),
                     lifecycle = phase(after.lifecycle, before.lifecycle);
        const double total = wall * scale;
        // Mechanics + neighbours alone (the figure compared with TeraAgent's agent-updates/s/core):
        // one rank per core, so per core = per rank.
        const double mech_rate = 1e9 / (neighbours + mechanics);
        const double bytes = max_over_ranks((peak_rss_bytes() - rss0) / std::max(cells, 1.0));
        if (rank == 0)
          std::printf("%9lld %4lld %8.1f %8.1f %8.1f %9.1f %9.1f %9.1f %9.1f %9.4f %12.3g %10.0f\n", n, g,
                      migrate, halo, neighbours, mechanics, grn, lifecycle, total, wall / steps, mech_rate,
                      bytes);
        std::fflush(stdout);
      }
  }
  MPI_Finalize();
  return 0;
}
