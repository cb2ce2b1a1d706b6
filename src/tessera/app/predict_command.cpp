// `tessera predict` (SPEC §3.6): the deck's simulation run with a fitted graph_ode model, from the deck's
// cells or a dataset's observation, with the perturbations of the `predict` section; a simulation's outputs.
// It stops and continues as `tessera run` does (--walltime, SIGTERM, SIGUSR1; --restart DIR).
#include "tessera/app/commands.hpp"
#include "tessera/app/run_directory.hpp"
#include "tessera/app/run_restart.hpp"
#include "tessera/core/error.hpp"
#include "tessera/core/stop_request.hpp"
#include "tessera/core/version.hpp"
#include "tessera/io/simulation_output.hpp"
#include "tessera/learn/perturbation.hpp"
#include "tessera/learn/predict_params.hpp"
#include "tessera/parallel/mpi.hpp"
#include "tessera/sim/simulation.hpp"

#include <Kokkos_Core.hpp>

#include <filesystem>
#include <fstream>
#include <memory>

namespace tessera::app {

namespace fs = std::filesystem;

int predict_command(MPI_Comm comm, const DeckOptions& options, Log& log, const RunOptions& run) {
  const Deck deck = load_deck(comm, options);
  PredictSetup setup;
  mpi::agree(comm, [&] { setup = read_predict_setup(deck, mpi::size(comm)); });
  // Checked before anything runs; the step loop polls it (with SIGTERM and SIGUSR1) after every step.
  const double walltime = command_walltime(comm, options, deck);
  // From here a SIGTERM or SIGUSR1 is kept for the first poll instead of ending the process in the setup.
  install_stop_handlers();
  SimulationSetup& sim_setup = setup.simulation;
  const bool restart = !run.restart.empty();
  if (restart)
    sim_setup.checkpoint = read_run_checkpoint(comm, "predict", options, run.restart, deck, sim_setup);

  // The tissue and the selections first: an id no cell has is an input error before anything is written.
  std::unique_ptr<Simulation> sim;
  std::vector<long long> selected;
  if (!restart) {
    sim = std::make_unique<Simulation>(comm, sim_setup);
    selected = apply_perturbations(comm, *sim, setup.predict.perturbations);
  } else {
    // The selections are made on the tissue the prediction started from, as its first part made them; the
    // continued tissue is the checkpoint's, whose genes hold the start values already.
    SimulationSetup start_setup = sim_setup;
    start_setup.checkpoint = nullptr;
    Simulation start(comm, start_setup);
    sim = std::make_unique<Simulation>(comm, sim_setup);
    selected = resume_perturbations(comm, *sim, start, setup.predict.perturbations);
  }
  const std::string dir = restart ? run.restart : default_run_directory(options, sim_setup.output.directory);
  if (!restart) prepare_run_directory(comm, dir, options.overwrite);
  open_run_log(comm, dir, deck, options.invocation, log);
  log.info("tessera " + version() + " (" + git_hash() + "), Kokkos " + Kokkos::DefaultExecutionSpace::name() +
           ", deck " + options.deck + ", model " + setup.predict.model +
           (setup.predict.dataset.empty() ? std::string()
                                          : ", start: " + setup.predict.dataset + " observation " +
                                                std::to_string(setup.predict.start) +
                                                " (t = " + format_number(sim_setup.start_time) + " min)"));
  if (restart)
    log.info("tessera predict: restarting from " + sim_setup.checkpoint->path + " at step " +
             std::to_string(sim_setup.checkpoint->state.step) +
             " (t = " + format_number(sim_setup.checkpoint->state.time) + " min), written on " +
             std::to_string(sim_setup.checkpoint->ranks) + " rank(s)");

  const RunProvenance provenance = run_provenance("predict", options, deck, sim_setup);

  std::string perturbations;
  for (std::size_t i = 0; i < selected.size(); ++i) {
    const std::string what = setup.predict.perturbations[i].describe(sim_setup.types.names);
    perturbations += (perturbations.empty() ? "" : "\n") + what;
    log.info("perturbation " + std::to_string(i) + ": " + what + ": " + std::to_string(selected[i]) +
             " cells at the start");
  }
  // The first poll ends the step after the one the simulation starts from (a restart's checkpoint step).
  StopPoll stop(walltime, sim->step_index() + 1);
  const RunControl control = stoppable_run_control(stop, comm);
  const RunSummary s = sim->run(dir, provenance, log, control);
  if (!s.stopped_by.empty()) {
    // The attributes below mark a finished prediction; the restart that finishes it writes them.
    if (stop.receipt().signal != StopReason::none)
      log.info("tessera predict: " + describe(stop.receipt(), "step"));
    log.info("tessera predict: stopped at step " + std::to_string(s.steps) + " by " + s.stopped_by +
             "; resume with tessera predict " + options.deck + " --restart " + dir);
    return resumable_exit_code;
  }
  // The model and the perturbations as root attributes beside the resolved deck (which holds them too).
  mpi::agree(comm, [&] {
    if (mpi::rank(comm) == 0)
      write_prediction_attributes((fs::path(dir) / simulation_h5_name).string(), setup.predict.model,
                                  perturbations.empty() ? "none" : perturbations);
  });
  log.info("tessera predict: done: " + std::to_string(s.steps - s.first_step) + " steps" +
           (s.first_step > 0
                ? " (from step " + std::to_string(s.first_step) + " to " + std::to_string(s.steps) + ")"
                : std::string()) +
           " to t = " + format_number(s.simulated_min) + " min, " + std::to_string(s.cells) +
           " cells, wall " + human_seconds(s.wall_s) + "; outputs in " + dir + "/");
  if (s.balance.ranks > 1) log.info("tessera predict: " + describe(s.balance));
  return 0;
}

} // namespace tessera::app
