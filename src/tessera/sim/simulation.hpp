// The forward simulation (`tessera run`, SPEC §2.3): a tissue on a Cartesian decomposition whose cells'
// gene ODEs advance step by step, with output, summary and progress when due.
#pragma once

#include "tessera/core/log.hpp"
#include "tessera/core/rng.hpp"
#include "tessera/grn/gene_network.hpp"
#include "tessera/grn/hill.hpp"
#include "tessera/integrate/cvode.hpp"
#include "tessera/integrate/rk4.hpp"
#include "tessera/integrate/time_params.hpp"
#include "tessera/io/output_params.hpp"
#include "tessera/io/snapshot.hpp"
#include "tessera/parallel/decomposition.hpp"
#include "tessera/tissue/cell_types.hpp"
#include "tessera/tissue/cells.hpp"

#include <memory>

namespace tessera {

class Deck;

struct RunSummary {
  long long steps = 0;
  long long cells = 0; // global, at the end
  double simulated_min = 0;
  double wall_s = 0;
  double grn_s = 0;
  double output_s = 0;
};

// Everything a forward run needs from the deck, read and cross-checked.
struct SimulationSetup {
  Domain domain;
  std::array<int, 3> rank_grid{0, 0, 0};
  CellTypes types;
  GeneNetwork network;
  InitialTissue init;
  TimeParams time;
  OutputParams output;
  std::uint64_t seed = 1;
};

// Not collective: every rank reads the same deck and reaches the same verdict. Throws input_error.
// `n_ranks` is the size of the communicator the run will use (parallel.dims must fit it).
SimulationSetup read_simulation_setup(const Deck& deck, int n_ranks);

class Simulation {
public:
  // Collective. Decomposes the domain and builds the initial tissue.
  Simulation(MPI_Comm comm, const SimulationSetup& setup);

  // Collective. Runs to time.end, writing into `directory` (which exists). Solver failures throw
  // runtime_error naming the step, time and worst cell id; output written before stays intact.
  RunSummary run(const std::string& directory, const RunProvenance& provenance, Log& log);

  // Collective. Advances one step of length time.dt (no output).
  void step();

  const Cells<>& cells() const { return cells_; }
  Cells<>& cells() { return cells_; }
  long long global_cells() const;
  const CartesianDecomposition& decomposition() const { return *decomposition_; }
  const GeneNetwork& network() const { return network_; }
  const CellTypes& types() const { return types_; }
  const TimeParams& time_params() const { return time_; }
  double time() const { return t_; }
  long long step_index() const { return step_; }

private:
  // Collective. Throws if any gene of any cell is NaN/inf, naming the cell.
  void check_finite() const;

  MPI_Comm comm_;
  Domain domain_;
  std::unique_ptr<CartesianDecomposition> decomposition_;
  CellTypes types_;
  GeneNetwork network_;
  TimeParams time_;
  OutputParams output_;
  CounterRng rng_;
  Cells<> cells_;
  std::unique_ptr<HillModel> hill_;
  std::unique_ptr<Rk4Integrator> rk4_;
  std::unique_ptr<CvodeIntegrator> cvode_;
  double t_ = 0.0;
  long long step_ = 0;
};

} // namespace tessera
