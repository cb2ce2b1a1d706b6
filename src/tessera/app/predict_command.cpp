// `tessera predict` (SPEC §3.6): the deck's simulation run with a fitted graph_ode model, from the deck's
// cells or a dataset's observation, with the perturbations of the `predict` section; a simulation's outputs.
#include "tessera/app/commands.hpp"
#include "tessera/app/run_directory.hpp"
#include "tessera/core/version.hpp"
#include "tessera/io/simulation_output.hpp"
#include "tessera/learn/perturbation.hpp"
#include "tessera/learn/predict_params.hpp"
#include "tessera/parallel/mpi.hpp"
#include "tessera/sim/simulation.hpp"

#include <Kokkos_Core.hpp>

#include <filesystem>
#include <fstream>

namespace tessera::app {

namespace fs = std::filesystem;

int predict_command(MPI_Comm comm, const DeckOptions& options, Log& log) {
  const Deck deck = load_deck(comm, options);
  PredictSetup setup;
  mpi::agree(comm, [&] { setup = read_predict_setup(deck, mpi::size(comm)); });
  // Checked before anything runs; Simulation::run's step loop is where a StopPoll will take it.
  (void)command_walltime(comm, options, deck);
  const SimulationSetup& sim_setup = setup.simulation;
  // The tissue and the selections first: an id no cell has is an input error before anything is written.
  Simulation sim(comm, sim_setup);
  const std::vector<long long> selected = apply_perturbations(comm, sim, setup.predict.perturbations);
  const std::string dir = default_run_directory(options, sim_setup.output.directory);
  prepare_run_directory(comm, dir, options.overwrite);
  open_run_log(comm, dir, deck, options.invocation, log);
  log.info("tessera " + version() + " (" + git_hash() + "), Kokkos " + Kokkos::DefaultExecutionSpace::name() +
           ", deck " + options.deck + ", model " + setup.predict.model +
           (setup.predict.dataset.empty() ? std::string()
                                          : ", start: " + setup.predict.dataset + " observation " +
                                                std::to_string(setup.predict.start) +
                                                " (t = " + format_number(sim_setup.start_time) + " min)"));

  const RunProvenance provenance = run_provenance("predict", options, deck, sim_setup);

  std::string perturbations;
  for (std::size_t i = 0; i < selected.size(); ++i) {
    const std::string what = setup.predict.perturbations[i].describe(sim_setup.types.names);
    perturbations += (perturbations.empty() ? "" : "\n") + what;
    log.info("perturbation " + std::to_string(i) + ": " + what + ": " + std::to_string(selected[i]) +
             " cells at the start");
  }
  const RunSummary s = sim.run(dir, provenance, log);
  // The model and the perturbations as root attributes beside the resolved deck (which holds them too).
  mpi::agree(comm, [&] {
    if (mpi::rank(comm) == 0)
      write_prediction_attributes((fs::path(dir) / simulation_h5_name).string(), setup.predict.model,
                                  perturbations.empty() ? "none" : perturbations);
  });
  log.info("tessera predict: done: " + std::to_string(s.steps) +
           " steps to t = " + format_number(s.simulated_min) + " min, " + std::to_string(s.cells) +
           " cells, wall " + human_seconds(s.wall_s) + "; outputs in " + dir + "/");
  return 0;
}

} // namespace tessera::app
