#include "tessera/app/run_restart.hpp"

#include "tessera/core/error.hpp"
#include "tessera/core/units.hpp"
#include "tessera/io/deck_difference.hpp"
#include "tessera/io/simulation_output.hpp"
#include "tessera/parallel/decomposition.hpp"
#include "tessera/parallel/mpi.hpp"

#include <filesystem>
#include <vector>

namespace tessera::app {

namespace fs = std::filesystem;

namespace {

// The keys a restarted run may change: how long it runs, what it writes, how it is decomposed. Anything
// else would make the continued run a different simulation from the one its first part belongs to.
const std::vector<std::string> restart_free_keys = {"time.end", "output", "parallel"};

} // namespace

std::shared_ptr<const SimulationCheckpoint> read_run_checkpoint(MPI_Comm comm, const std::string& command,
                                                                const DeckOptions& options,
                                                                const std::string& dir, const Deck& deck,
                                                                const SimulationSetup& setup) {
  auto checkpoint = std::make_shared<SimulationCheckpoint>();
  mpi::agree(comm, [&] {
    if (!options.output_dir.empty() && fs::path(options.output_dir) != fs::path(dir))
      throw input_error("--restart " + dir + " continues in that directory; drop -o " + options.output_dir);
    // dataset.h5 is written once, at the end, from every observation held in memory.
    if (setup.output.dataset)
      deck.section("output").fail("dataset", "--restart cannot continue a dataset recording (dataset.h5 "
                                             "is written at the end from the whole run): run it again");
    if (!fs::is_directory(dir)) throw input_error("--restart " + dir + ": no such run directory");
    const std::string path = (fs::path(dir) / checkpoint_h5_name).string();
    CheckpointShape shape{setup.domain.dim, setup.network.genes, setup.types.names, {}, setup.fields.voxels};
    for (const Substrate& s : setup.fields.substrates)
      shape.fields.push_back(s.name);
    const int ranks = mpi::size(comm);
    const std::array<int, 3> grid = rank_grid_dims(setup.domain, setup.rank_grid, ranks);
    *checkpoint = read_simulation_checkpoint(path, shape, ranks, grid, mpi::rank(comm), setup.balance);
    // A prediction's checkpoint holds perturbed genes and a run's none: continued by the other command,
    // either would become a simulation neither command describes.
    if (!checkpoint->subcommand.empty() && checkpoint->subcommand != command)
      throw input_error(path + " was written by `tessera " + checkpoint->subcommand + "`: continue it with " +
                        "tessera " + checkpoint->subcommand + " DECK --restart " + dir);
    const std::string key =
        first_difference(checkpoint->resolved_deck, deck.resolved_yaml(), restart_free_keys, path);
    if (!key.empty())
      throw input_error("key '" + key + "' differs from the deck " + path +
                        " was written with: a restart may change only time.end, output.* and parallel.* "
                        "(a different simulation needs a new run)");
    if (checkpoint->state.step >= setup.time.steps())
      throw input_error(path + " is at step " + std::to_string(checkpoint->state.step) +
                        " (t = " + format_number(checkpoint->state.time) + " min), time.end = " +
                        format_number(setup.time.end) + " min is " + std::to_string(setup.time.steps()) +
                        " steps: nothing left to do (raise time.end with -s)");
    for (const char* name : {simulation_h5_name, "summary.csv"})
      if (!fs::is_regular_file(fs::path(dir) / name))
        throw input_error("--restart " + dir + ": no " + name + " there to continue");
  });
  return checkpoint;
}

RunControl stoppable_run_control(StopPoll& stop, MPI_Comm comm) {
  RunControl control;
  control.checkpoints = true;
  control.stop_requested = [&stop, comm] {
    const StopReason why = stop.poll(comm);
    return why == StopReason::none ? std::string() : describe(why);
  };
  control.checkpoint_took = [&stop](double seconds) { stop.checkpoint_took(seconds); };
  return control;
}

} // namespace tessera::app
