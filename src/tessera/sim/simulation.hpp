// The forward simulation (`tessera run`, SPEC §2.3): a tissue on a Cartesian decomposition advanced step by
// step — migrate, halo, neighbour lists, mechanics, gene ODEs with neighbours frozen, division and death —
// with output, summary and progress when due.
#pragma once

#include "tessera/core/log.hpp"
#include "tessera/core/rng.hpp"
#include "tessera/field/field_params.hpp"
#include "tessera/grn/cell_gene_model.hpp"
#include "tessera/grn/gene_network.hpp"
#include "tessera/grn/model_factory.hpp"
#include "tessera/grn/signaling.hpp"
#include "tessera/integrate/cvode.hpp"
#include "tessera/integrate/rk4.hpp"
#include "tessera/integrate/time_params.hpp"
#include "tessera/io/output_params.hpp"
#include "tessera/io/simulation_checkpoint.hpp"
#include "tessera/io/snapshot.hpp"
#include "tessera/parallel/decomposition.hpp"
#include "tessera/parallel/halo.hpp"
#include "tessera/sim/rank_balance.hpp"
#include "tessera/tissue/cell_types.hpp"
#include "tessera/tissue/cells.hpp"
#include "tessera/tissue/lifecycle.hpp"
#include "tessera/tissue/mechanics.hpp"
#include "tessera/tissue/neighbour_list.hpp"

#include <functional>
#include <memory>

namespace tessera {

class Deck;
class DiffusionFields;
namespace petsc {
class Session;
}

// Wall seconds per phase of the step (this rank), for the run summary and the benchmarks.
struct PhaseTimes {
  double migrate = 0, halo = 0, neighbours = 0, mechanics = 0, grn = 0, lifecycle = 0, output = 0;
  double checkpoint = 0; // writing checkpoint.h5
  double fields = 0;     // diffusible fields: cell terms and the solve
};

struct RunSummary {
  long long steps = 0;      // the last step's number
  long long first_step = 0; // the step this run started from (a restart's checkpoint step; else 0)
  long long cells = 0;      // global, at the end
  long long divisions = 0, deaths = 0;
  double simulated_min = 0;
  double wall_s = 0;
  PhaseTimes phases;
  long long checkpoints = 0; // checkpoint.h5 written this many times
  std::string stopped_by;    // why RunControl::stop_requested stopped the run early; "" = ran to time.end
  RankBalance balance;       // how the steps this run took were spread over the ranks
};

// What drives Simulation::run besides the deck (`tessera run`; predict and train's simulation use neither).
struct RunControl {
  // Write checkpoint.h5 every output.checkpoint_every steps (0: none), at the last step, and when stopped.
  bool checkpoints = false;
  // Collective, called after every step: a non-empty answer (why, e.g. "SIGTERM") ends the run after that
  // step, with its output step and a checkpoint written. Unset: runs to time.end.
  std::function<std::string()> stop_requested;
  // Told the seconds each checkpoint took (a wall-clock limit keeps room for the next). Optional.
  std::function<void(double)> checkpoint_took;
};

// Everything a forward run needs from the deck, read and cross-checked.
struct SimulationSetup {
  Domain domain;
  std::array<int, 3> rank_grid{0, 0, 0};
  bool balance = false;        // parallel.balance: cells
  long long balance_every = 0; // parallel.balance_every
  CellTypes types;
  GeneNetwork network;
  InitialTissue init;
  TimeParams time;
  OutputParams output;
  MechanicsParams mechanics;
  LifecycleParams lifecycle;
  SignalingParams signaling;
  FieldParams fields; // diffusible substrates; inactive without fields.substrates
  // The trained model that drives the genes instead of the deck's hill parameters (grn.model graph_ode or
  // another learnable family; hill with grn.hill.model_file); family empty: the hill model of grn.edges.
  TrainableModelSpec learned_model;
  bool uses_learned_model() const { return !learned_model.family.empty(); }
  std::uint64_t seed = 1;
  // Where `tessera predict` starts instead (SPEC §3.6): the clock at step 0 (the run still ends at
  // time.end), and, when set, every initial cell (the same rows on every rank, each keeping those in its box)
  // in place of cells.init. Cells given here start at cycle 0 (random when their type divides).
  double start_time = 0.0;
  std::shared_ptr<const CellSnapshot> initial_cells;
  // `tessera run --restart`: the checkpoint the run continues from (its cells, step, time, next id,
  // counters and CVODE's first step), in place of cells.init; outputs are appended (Simulation::run).
  std::shared_ptr<const SimulationCheckpoint> checkpoint;

  // Width of the ghost layer: max(mechanics cutoff, r_sig) over what is active; 0 when cells never
  // interact (then no halo and no neighbour list are built).
  double interaction_range() const;
};

// Not collective: every rank reads the same deck and reaches the same verdict. Throws input_error.
// `n_ranks` is the size of the communicator the run will use (parallel.dims must fit it). EndTime::optional
// only for checking a deck that fits a dataset (`tessera check`), which nothing simulates.
SimulationSetup read_simulation_setup(const Deck& deck, int n_ranks, EndTime end_time = EndTime::required);

// A fitted model runs on the gene graph it was trained on: when the deck has train.prior and `model` does not
// take every ordered pair (dense), `network`'s edges become that table's, as `tessera train` built them; else
// nothing changes. `run` (grn.<family>.model_file) and `predict` (predict.model) call it, so the deck that
// trained a model runs it. Not collective.
void use_training_graph(const Deck& deck, const TrainableModelSpec& model, const CellTypes& types,
                        GeneNetwork& network);

class Simulation {
public:
  // Collective. Decomposes the domain and builds the initial tissue.
  Simulation(MPI_Comm comm, const SimulationSetup& setup);
  ~Simulation();

  // Collective. Runs to time.end, writing into `directory` (which exists). Solver failures throw
  // runtime_error naming the step, time and worst cell id; output written before stays intact.
  // With setup.checkpoint it continues the outputs there after the checkpoint's step (ResumePoint).
  RunSummary run(const std::string& directory, const RunProvenance& provenance, Log& log,
                 const RunControl& control = {});

  // Collective. Writes `directory`/checkpoint.h5 for the state after the current step.
  void write_checkpoint(const std::string& directory, const RunProvenance& provenance) const;

  // Collective. Advances one step of length time.dt (no output).
  void step();

  // Replaces the gene model by wrap(model) (`tessera predict`'s perturbations): the step loop then integrates
  // the wrapper, with rk4 and CVODE alike. Call before the first step.
  using GeneModelWrapper = std::function<std::unique_ptr<CellGeneModel>(std::unique_ptr<CellGeneModel>)>;
  void wrap_gene_model(const GeneModelWrapper& wrap);
  // Simulation steps from setup.start_time to time.end.
  long long total_steps() const;

  const PhaseTimes& phase_times() const { return phases_; }
  const Cells<>& cells() const { return cells_; }
  Cells<>& cells() { return cells_; }
  long long global_cells() const;
  const CartesianDecomposition& decomposition() const { return *decomposition_; }
  // The substrates' names (empty without fields).
  std::vector<std::string> field_names() const;
  // The diffusible fields, or nullptr without fields.substrates.
  const DiffusionFields* fields() const { return fields_.get(); }
  const GeneNetwork& network() const { return setup_.network; }
  const CellTypes& types() const { return setup_.types; }
  const TimeParams& time_params() const { return setup_.time; }
  double time() const { return t_; }
  long long step_index() const { return step_; }

private:
  // Collective. Throws (one input_error on every rank) if this rank's box is narrower than the interaction
  // range.
  void check_box_widths() const;
  // Collective. Throws if any gene of any cell is NaN/inf, naming the cell.
  void check_finite() const;
  // Collective. Advances the genes over [t, t + dt] with this step's signalling graph.
  void advance_genes(double t0, double t1);
  // Collective. Advances the diffusible fields over the step with the cells where they are now (every cell
  // in its rank's box: right after migration, before mechanics moves them).
  void advance_fields();
  // Replaces the fields by a checkpoint's (per substrate the whole grid, x fastest).
  void restore_fields(const std::vector<std::vector<double>>& grids);
  // Substrates with fields.substrates[].initial_file start from that file's grid.
  void read_initial_fields(MPI_Comm comm);

  MPI_Comm comm_;
  SimulationSetup setup_; // everything read from the deck
  std::unique_ptr<CartesianDecomposition> decomposition_;
  CounterRng rng_;
  Cells<> cells_;
  double range_ = 0.0;
  std::vector<int> neighbour_ranks_;
  std::unique_ptr<Mechanics> mechanics_;
  std::unique_ptr<Lifecycle> lifecycle_;
  NeighbourSearch search_;
  HaloPlan halo_;
  LigandExchange ligands_;
  SignalingGraph graph_;
  std::unique_ptr<CellGeneModel> model_;
  const TrainableGeneModel* learned_ = nullptr; // model_ when the deck runs a learned model
  std::unique_ptr<Rk4Integrator> rk4_;
  std::unique_ptr<CvodeIntegrator> cvode_;
  std::unique_ptr<petsc::Session> petsc_; // before fields_, so PETSc outlives them
  std::unique_ptr<DiffusionFields> fields_;
  Kokkos::View<double**, Kokkos::LayoutRight> field_values_; // sensed at the owned cells (fields.receptors)
  PhaseTimes phases_;
  LifecycleEvents last_events_;
  long long divisions_ = 0, deaths_ = 0;
  bool cap_reported_ = false;
  double t_ = 0.0;
  long long step_ = 0;
};

} // namespace tessera
