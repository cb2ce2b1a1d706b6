// Per-phase cost of a forward step with the `hill` GRN: the RHS kernel alone, an RK4 step, a CVODE step,
// and an output step, in nanoseconds per cell, for a grid of cell counts and gene counts.
//   mpirun -np R build/bin/tessera_bench_grn [--cells 10000,100000,1000000] [--genes 8,32] [--steps 5]
//                                            [--integrators rk4,bdf,adams]
//   mpirun -np 1 build/bin/tessera_bench_grn --graph-ode [--cells 10000] [--genes 20]
//     the graph_ode RHS with the STAGED reference architecture (1 GAT head, H = M = 64, L = 3), ns per node
#include "bench_common.hpp"
#include "tessera/grn/graph_ode.hpp"
#include "tessera/grn/hill.hpp"
#include "tessera/io/deck.hpp"
#include "tessera/io/deck_schema.hpp"
#include "tessera/io/simulation_output.hpp"
#include "tessera/parallel/mpi.hpp"
#include "tessera/sim/simulation.hpp"

#include <Kokkos_Core.hpp>
#include <mpi.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

using namespace tessera;
using bench::max_over_ranks;
using bench::now;
using bench::parse_list;

namespace {

// G genes, 3 types; each gene k has in-edges from k-1 (repression) and k+3 (activation), plus one
// type-specific self-activation: about 2.3 edges per gene, like the quickstart network.
std::string deck_text(long long cells, int genes, const std::string& integrator) {
  std::ostringstream d;
  const double side = std::sqrt(static_cast<double>(cells) / 0.01); // 0.01 cells per um^2
  d << "domain: {dim: 2, lo: [0, 0], hi: [" << side << ", " << side << "], boundary: periodic}\n"
    << "cells: {types: [a, b, c], max_cells: " << cells * 2 << ", init: {count: " << cells
    << ", genes: uniform, gene_low: 0, gene_high: 1}}\n"
    << "grn:\n  genes: [";
  for (int g = 0; g < genes; ++g)
    d << (g ? ", " : "") << "g" << g;
  d << "]\n  decay: 0.5\n  basal: 0.05\n  edges:\n";
  for (int g = 0; g < genes; ++g) {
    d << "    - {source: g" << (g + genes - 1) % genes << ", target: g" << g
      << ", sign: repression, h: 0.4, n: 3}\n";
    d << "    - {source: g" << (g + 3) % genes << ", target: g" << g << ", sign: activation, h: 0.5, n: 2}\n";
    if (g % 3 == 0)
      d << "    - {type: "
        << "abc"[g % 9 / 3] << ", source: g" << g << ", target: g" << g << ", n: 4}\n";
  }
  d << "time: {dt: 1 min, end: 1000 min, integrator: " << integrator
    << ", dt_grn: 0.1 min, rtol: 1e-6, atol: 1e-9}\n";
  return d.str();
}

// The reference architecture on a ring-like prior graph (each gene regulated by k-1 and k+3).
std::string graph_ode_deck(long long cells, int genes) {
  std::ostringstream d;
  const double side = std::sqrt(static_cast<double>(cells) / 0.01);
  d << "domain: {dim: 2, lo: [0, 0], hi: [" << side << ", " << side << "], boundary: periodic}\n"
    << "cells: {types: [a, b, c], init: {count: " << cells
    << ", genes: uniform, gene_low: 0, gene_high: 1}}\n"
    << "mechanics: {frozen: true}\n"
    << "grn:\n  model: graph_ode\n  genes: [";
  for (int g = 0; g < genes; ++g)
    d << (g ? ", " : "") << "g" << g;
  d << "]\n  graph_ode: {variant: gat, heads: 1, hidden: 64, mlp_width: 64, mlp_layers: 3, share: all}\n  "
       "edges:\n";
  for (int g = 0; g < genes; ++g) {
    d << "    - {source: g" << (g + genes - 1) % genes << ", target: g" << g << "}\n";
    d << "    - {source: g" << (g + 3) % genes << ", target: g" << g << "}\n";
  }
  d << "time: {dt: 1 min, end: 10 min, integrator: rk4}\n";
  return d.str();
}

} // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  {
    Kokkos::ScopeGuard kokkos(argc, argv);
    std::vector<long long> cell_counts{10000, 100000, 1000000}, gene_counts{8, 32};
    int steps = 5;
    std::string integrator_list = "rk4,bdf,adams";
    for (int i = 1; i + 1 < argc; i += 2) {
      const std::string a = argv[i];
      if (a == "--cells") cell_counts = parse_list(argv[i + 1]);
      if (a == "--genes") gene_counts = parse_list(argv[i + 1]);
      if (a == "--steps") steps = std::stoi(argv[i + 1]);
      if (a == "--integrators") integrator_list = argv[i + 1];
    }
    int rank = 0, ranks = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);
    bool graph_ode = false;
    for (int i = 1; i < argc; ++i)
      graph_ode |= std::string(argv[i]) == "--graph-ode";
    if (graph_ode) {
      const long long n = cell_counts.size() == 3 ? 10000 : cell_counts[0];
      const int g = gene_counts.size() == 2 ? 20 : static_cast<int>(gene_counts[0]);
      const Deck deck = Deck::parse(graph_ode_deck(n, g), "bench.yaml", {}, all_key_tables());
      const SimulationSetup setup = read_simulation_setup(deck, ranks);
      Simulation sim(MPI_COMM_WORLD, setup);
      auto model =
          make_graph_ode_model(MPI_COMM_WORLD, deck, setup.network, setup.signaling, setup.types.names);
      model->set_cell_types(sim.cells().type);
      const auto rows = std::make_pair(std::size_t(0), sim.cells().n_owned);
      GeneState x = Kokkos::subview(sim.cells().genes, rows, Kokkos::ALL);
      GeneState f("f", x.extent(0), x.extent(1));
      model->evaluate(0.0, x, f); // warm-up
      const int evals = 10;
      MPI_Barrier(MPI_COMM_WORLD);
      const double t0 = now();
      for (int e = 0; e < evals; ++e)
        model->evaluate(0.0, x, f);
      Kokkos::fence();
      const double nodes = static_cast<double>(x.extent(0) * x.extent(1));
      const double ns = max_over_ranks(now() - t0) / evals / nodes * 1e9;
      const double flops = model->flops_per_node(3.0);
      if (rank == 0)
        std::printf("# graph_ode RHS, reference architecture, %lld cells x %d genes on %d rank(s)\n"
                    "ns/node/eval %.1f   flops/node %.0f   GFLOP/s per rank %.2f\n",
                    n, g, ranks, ns, flops, flops / ns);
      Kokkos::fence();
    }
    if (graph_ode) {
      MPI_Barrier(MPI_COMM_WORLD);
    } else {
      if (rank == 0)
        std::printf("# tessera_bench_grn: %d rank(s), Kokkos %s, %d steps of 1 min per measurement\n"
                    "# ns per cell (global cells / ranks = cells per rank; times are the slowest rank's)\n"
                    "%10s %4s %14s %16s %16s %16s %14s %12s\n",
                    ranks, Kokkos::DefaultExecutionSpace::name(), steps, "cells", "G", "hill_rhs/eval",
                    "rk4/step(10sub)", "cvode_bdf/step", "cvode_adams/step", "output/step", "bytes/cell");
      for (const long long n : cell_counts)
        for (const long long g : gene_counts) {
          double rhs_ns = 0, output_ns = 0, step_ns[3] = {0, 0, 0};
          std::size_t bytes = 0;
          const char* integrators[3] = {"rk4", "cvode", "cvode"};
          for (int which = 0; which < 3; ++which) {
            const char* names[3] = {"rk4", "bdf", "adams"};
            if (integrator_list.find(names[which]) == std::string::npos) {
              step_ns[which] = NAN;
              if (which > 0) continue;
            }
            std::vector<std::string> overrides;
            if (which == 2) overrides.push_back("time.method=adams");
            const Deck deck = Deck::parse(deck_text(n, static_cast<int>(g), integrators[which]), "bench.yaml",
                                          overrides, all_key_tables());
            const SimulationSetup setup = read_simulation_setup(deck, mpi::size(MPI_COMM_WORLD));
            Simulation sim(MPI_COMM_WORLD, setup);
            const double per_rank = static_cast<double>(n) / ranks;
            if (which == 0) {
              bytes = sim.cells().bytes_per_cell();
              // The RHS kernel alone, on the owned cells' genes.
              HillModel hill(setup.network, setup.types.count());
              hill.set_cell_types(sim.cells().type);
              const auto rows = std::make_pair(std::size_t(0), sim.cells().n_owned);
              GeneState x = Kokkos::subview(sim.cells().genes, rows, Kokkos::ALL);
              GeneState f("f", x.extent(0), x.extent(1));
              const int evals = 40;
              MPI_Barrier(MPI_COMM_WORLD);
              const double t0 = now();
              for (int e = 0; e < evals; ++e)
                hill.evaluate(0.0, x, f);
              Kokkos::fence();
              rhs_ns = max_over_ranks(now() - t0) / evals / per_rank * 1e9;
              // One output step (tessera.h5 + tessera.xmf + flush).
              const std::string dir = "bench_output_tmp";
              if (rank == 0) std::filesystem::remove_all(dir);
              MPI_Barrier(MPI_COMM_WORLD);
              RunProvenance prov;
              prov.gene_names = setup.network.genes;
              prov.type_names = setup.types.names;
              {
                SimulationOutput out(MPI_COMM_WORLD, dir, prov, 2);
                const double t1 = now();
                out.write_step(0, 0.0, snapshot(sim.cells()));
                output_ns = max_over_ranks(now() - t1) / per_rank * 1e9;
              }
              MPI_Barrier(MPI_COMM_WORLD);
              if (rank == 0) std::filesystem::remove_all(dir);
            }
            if (std::isnan(step_ns[which])) continue;
            sim.step(); // warm-up (CVODE builds its vectors here)
            MPI_Barrier(MPI_COMM_WORLD);
            const double t0 = now();
            for (int s = 0; s < steps; ++s)
              sim.step();
            step_ns[which] = max_over_ranks(now() - t0) / steps / per_rank * 1e9;
          }
          if (rank == 0)
            std::printf("%10lld %4lld %14.1f %16.1f %16.1f %16.1f %14.1f %12zu\n", n, g, rhs_ns, step_ns[0],
                        step_ns[1], step_ns[2], output_ns, bytes);
          std::fflush(stdout);
        }
    }
  }
  MPI_Finalize();
  return 0;
}
