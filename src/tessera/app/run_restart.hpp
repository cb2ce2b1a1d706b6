// Continuing a simulation (`tessera run` or `tessera predict` with --restart DIR) from the checkpoint.h5 its
// run directory holds: what may differ from the first part, and what is checked before DIR is touched.
#pragma once

#include "tessera/app/commands.hpp"
#include "tessera/core/stop_request.hpp"
#include "tessera/io/deck.hpp"
#include "tessera/io/simulation_checkpoint.hpp"
#include "tessera/sim/simulation.hpp"

#include <mpi.h>

#include <memory>
#include <string>

namespace tessera::app {

// Collective (agreed). For `tessera <command> DECK --restart DIR`, `command` "run" or "predict": -o, if
// given, must name DIR; a dataset recording (output.dataset) cannot continue; DIR/checkpoint.h5 must have
// been written by the same command for a deck that differs from `deck` in time.end, output.* and parallel.*
// at most, and be short of time.end; DIR must hold the outputs it continues. All of it is checked before
// anything in DIR is touched, so a refused restart (exit 2, naming the file or key) leaves the earlier
// outputs as they were. Every rank reads the file itself and keeps its own rows, or every row when the
// decomposition changed.
std::shared_ptr<const SimulationCheckpoint> read_run_checkpoint(MPI_Comm comm, const std::string& command,
                                                                const DeckOptions& options,
                                                                const std::string& dir, const Deck& deck,
                                                                const SimulationSetup& setup);

// What `run` and `predict` hand Simulation::run: checkpoints on, and after every step a collective poll of
// `stop` (SIGTERM, SIGUSR1, the walltime) that ends the run with a checkpoint. `stop` must outlive the run.
RunControl stoppable_run_control(StopPoll& stop, MPI_Comm comm);

} // namespace tessera::app
