#include "tessera/app/commands.hpp"

#include "tessera/app/run_directory.hpp"
#include "tessera/app/run_restart.hpp"

#include "tessera/core/error.hpp"
#include "tessera/core/machine.hpp"
#include "tessera/core/random_params.hpp"
#include "tessera/core/stop_request.hpp"
#include "tessera/core/version.hpp"
#include "tessera/grn/graph_ode.hpp"
#include "tessera/grn/model_factory.hpp"
#include "tessera/integrate/sundials.hpp"
#include "tessera/io/deck.hpp"
#include "tessera/io/deck_schema.hpp"
#include "tessera/io/hdf5.hpp"
#include "tessera/io/simulation_checkpoint.hpp"
#include "tessera/io/simulation_output.hpp"
#include "tessera/io/snapshot.hpp"
#include "tessera/learn/grn_readout.hpp"
#include "tessera/learn/petsc.hpp"
#include "tessera/learn/predict_params.hpp"
#include "tessera/learn/trainer.hpp"
#include "tessera/parallel/mpi.hpp"
#include "tessera/sim/simulation.hpp"

#include <Kokkos_Core.hpp>
#include <hdf5.h>

#include <cmath>
#include <fstream>
#include <iomanip>
#include <sstream>

namespace tessera::app {

int run_command(MPI_Comm comm, const DeckOptions& options, Log& log, const RunOptions& run) {
  const Deck deck = load_deck(comm, options);
  SimulationSetup setup;
  mpi::agree(comm, [&] { setup = read_simulation_setup(deck, mpi::size(comm)); });
  // Checked before anything runs; the step loop polls it (with SIGTERM and SIGUSR1) after every step.
  const double walltime = command_walltime(comm, options, deck);
  // From here a SIGTERM or SIGUSR1 is kept for the first poll (after step 1) instead of ending the process in
  // the middle of the setup, as train does: a job signalled while it reads its cells still checkpoints.
  install_stop_handlers();
  const bool restart = !run.restart.empty();
  if (restart) setup.checkpoint = read_run_checkpoint(comm, "run", options, run.restart, deck, setup);
  const std::string dir = restart ? run.restart : default_run_directory(options, setup.output.directory);
  if (!restart) prepare_run_directory(comm, dir, options.overwrite);
  // A restart appends to the log; resolved_deck.yaml becomes the deck now in effect (time.end may be later).
  open_run_log(comm, dir, deck, options.invocation, log);
  log.info("tessera " + version() + " (" + git_hash() + "), Kokkos " + Kokkos::DefaultExecutionSpace::name() +
           ", deck " + options.deck);
  if (restart)
    log.info("tessera run: restarting from " + setup.checkpoint->path + " at step " +
             std::to_string(setup.checkpoint->state.step) +
             " (t = " + format_number(setup.checkpoint->state.time) + " min), written on " +
             std::to_string(setup.checkpoint->ranks) + " rank(s)");

  const RunProvenance provenance = run_provenance("run", options, deck, setup);

  // The first poll ends the step after the checkpoint's (a restart) or step 1.
  StopPoll stop(walltime, (setup.checkpoint ? setup.checkpoint->state.step : 0) + 1);
  const RunControl control = stoppable_run_control(stop, comm);
  Simulation sim(comm, setup);
  const RunSummary s = sim.run(dir, provenance, log, control);
  if (!s.stopped_by.empty()) {
    if (stop.receipt().signal != StopReason::none)
      log.info("tessera run: " + describe(stop.receipt(), "step"));
    log.info("tessera run: stopped at step " + std::to_string(s.steps) + " by " + s.stopped_by +
             "; resume with tessera run " + options.deck + " --restart " + dir);
    return resumable_exit_code;
  }
  const PhaseTimes& p = s.phases;
  std::ostringstream line;
  line << "tessera run: done: " << s.steps - s.first_step << " steps"
       << (s.first_step > 0
               ? " (from step " + std::to_string(s.first_step) + " to " + std::to_string(s.steps) + ")"
               : std::string())
       << " to t = " << format_number(s.simulated_min) << " min, " << s.cells << " cells (" << s.divisions
       << " divisions, " << s.deaths << " deaths), wall " << human_seconds(s.wall_s) << " ["
       << "migrate " << human_seconds(p.migrate) << ", halo " << human_seconds(p.halo) << ", neighbours "
       << human_seconds(p.neighbours) << ", mechanics " << human_seconds(p.mechanics) << ", GRN "
       << human_seconds(p.grn) << ", division/death " << human_seconds(p.lifecycle) << ", output "
       << human_seconds(p.output) << ", checkpoints " << human_seconds(p.checkpoint)
       << (setup.fields.active() ? ", fields " + human_seconds(p.fields) : std::string()) << "], "
       << format_number(s.wall_s > 0 ? static_cast<double>(s.cells) *
                                           static_cast<double>(s.steps - s.first_step) / s.wall_s
                                     : 0.0)
       << " cell-steps/s; outputs in " << dir << "/";
  log.info(line.str());
  if (s.balance.ranks > 1) log.info("tessera run: " + describe(s.balance));
  return 0;
}

int check_command(const DeckOptions& options, bool reference, Log& log) {
  if (reference) {
    log.always(input_reference_markdown(all_key_tables()));
    if (options.deck.empty()) return 0;
  }
  MPI_Comm comm = MPI_COMM_WORLD;
  const Deck deck = load_deck(comm, options);
  // The cross-section checks (gene names in edges, type fractions, max_cells, ...) run too.
  mpi::agree(comm, [&] { check_deck(deck, mpi::size(comm)); });
  if (!reference) {
    log.always("# " + options.deck + ": OK. Resolved deck (every default filled in):");
    log.always(deck.resolved_yaml());
  }
  return 0;
}

void check_deck(const Deck& deck, int ranks) {
  // A deck that fits a dataset (train.dataset) is simulated by nothing: it needs no time.end.
  const DeckView train = deck.section("train");
  const bool fits_dataset = train.has("dataset") && !deck.section("predict").has("model");
  const SimulationSetup setup =
      read_simulation_setup(deck, ranks, fits_dataset ? EndTime::optional : EndTime::required);
  // A deck for `predict`: its model, dataset and perturbations against the deck (as predict reads them).
  if (deck.section("predict").has("model")) read_predict_setup(deck, ranks);
  (void)read_walltime(deck);
  // The model file a run or a training starts from (grn.<family>.model_file): its family and what the deck
  // alone decides about it (format, genes, cell types, the family's settings), which `run` and `train` find
  // only when they build the model, after the deck has been queued and its cells set up.
  std::vector<TrainableModelSpec> models;
  if (setup.uses_learned_model()) models.push_back(setup.learned_model);
  // The family `train` fits when it is not grn.model's: train.model, or graph_ode for train.simulate.
  const std::string fitted = train.given("model")                                   ? train.text("model")
                             : train.given("simulate") && train.boolean("simulate") ? std::string("graph_ode")
                                                                                    : std::string();
  if (!fitted.empty() && fitted != setup.learned_model.family && is_trainable_family(fitted))
    models.push_back(read_trainable_model_spec(deck, fitted, "train.model"));
  for (const TrainableModelSpec& model : models)
    if (!model.model_file.empty()) model.check(model.model_file, setup.network.genes, setup.types.names);
  // A deck for `train` also has its dataset checked against the deck's genes and cell types.
  if (train.has("dataset") || train.has("simulate")) {
    const TrainParams params = read_train_params(deck);
    if (!params.simulate) {
      const TrajectoryDataset dataset = read_dataset(params.dataset);
      check_dataset_matches(dataset, setup.network.genes, setup.types.names, params.dataset);
      check_dataset_in_domain(dataset, setup.domain, params.dataset);
    }
  }
}

std::vector<std::pair<std::string, std::string>> build_info() {
  std::vector<std::pair<std::string, std::string>> out;
  out.emplace_back("tessera", version() + " (git " + git_hash() + ")");

  std::ostringstream kokkos;
  kokkos << KOKKOS_VERSION / 10000 << "." << (KOKKOS_VERSION / 100) % 100 << "." << KOKKOS_VERSION % 100;
  std::string backends;
#ifdef KOKKOS_ENABLE_SERIAL
  backends += " Serial";
#endif
#ifdef KOKKOS_ENABLE_OPENMP
  backends += " OpenMP";
#endif
#ifdef KOKKOS_ENABLE_THREADS
  backends += " Threads";
#endif
#ifdef KOKKOS_ENABLE_CUDA
  backends += " Cuda";
#endif
#ifdef KOKKOS_ENABLE_HIP
  backends += " HIP";
#endif
#ifdef KOKKOS_ENABLE_SYCL
  backends += " SYCL";
#endif
  kokkos << " (backends:" << backends << "; default execution space " << Kokkos::DefaultExecutionSpace::name()
         << ", concurrency " << Kokkos::DefaultExecutionSpace().concurrency() << ")";
  out.emplace_back("Kokkos", kokkos.str());

  const ExecutionDevice device = execution_device();
  std::ostringstream device_text;
  device_text << device.name << ", ";
  if (device.memory_bytes > 0.0)
    device_text << std::fixed << std::setprecision(1) << device.memory_bytes / (1024.0 * 1024.0 * 1024.0)
                << " GiB memory";
  else
    device_text << "memory not reported";
  out.emplace_back("Device", device_text.str());

  char mpi_version[MPI_MAX_LIBRARY_VERSION_STRING] = {0};
  int len = 0;
  MPI_Get_library_version(mpi_version, &len);
  std::string mpi_text(mpi_version, static_cast<size_t>(len));
  if (const auto nl = mpi_text.find_first_of("\r\n,"); nl != std::string::npos) mpi_text.resize(nl);
  int major = 0, minor = 0;
  MPI_Get_version(&major, &minor);
  out.emplace_back("MPI", mpi_text + " (MPI " + std::to_string(major) + "." + std::to_string(minor) + ", " +
                              std::to_string(mpi::size(MPI_COMM_WORLD)) +
                              " ranks, GPU-aware: " + (mpi::accepts_device_memory() ? "yes" : "no") + ")");

  out.emplace_back("PETSc", petsc::version());
  out.emplace_back("SUNDIALS", sundials::version() + " (CVODE, CVODES, MPI N_Vector)");

  unsigned h5_major = 0, h5_minor = 0, h5_release = 0;
  H5get_libversion(&h5_major, &h5_minor, &h5_release);
#ifdef H5_HAVE_PARALLEL
  const char* parallel = "parallel: yes";
#else
  const char* parallel = "parallel: no";
#endif
  out.emplace_back("HDF5", std::to_string(h5_major) + "." + std::to_string(h5_minor) + "." +
                               std::to_string(h5_release) + " (" + parallel + ")");
  return out;
}

int info_command(Log& log) {
  for (const auto& [name, value] : build_info())
    log.always(name + ": " + value);
  return 0;
}

int convert_command(const std::string& from, const std::string& to, const ConvertOptions& options, Log& log) {
  MPI_Comm comm = MPI_COMM_WORLD;
  std::string summary;
  mpi::agree(comm, [&] {
    if (mpi::rank(comm) == 0) summary = convert(from, to, options);
  });
  log.info(summary);
  return 0;
}

int unavailable_command(const std::string& name, const std::string& issue, Log& /*log*/) {
  Error err = input_error("'tessera " + name + "' is not implemented in tessera " + version() +
                          " yet (tracked in issue " + issue + "); nothing was run");
  err.mark_agreed(0);
  throw err;
}

} // namespace tessera::app
