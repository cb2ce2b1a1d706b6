// The subcommands of `tessera`. Each is collective on the communicator it is given (MPI_COMM_WORLD, or a
// sweep group's) and returns the exit code; errors are thrown as tessera::Error and turned into exit codes
// by app::main.
#pragma once

#include "tessera/core/invocation.hpp"
#include "tessera/core/log.hpp"
#include "tessera/io/deck.hpp"
#include "tessera/learn/convert.hpp"

#include <mpi.h>

#include <string>
#include <vector>

namespace tessera::app {

struct DeckOptions {
  std::string deck;
  std::vector<std::string> overrides; // -s key=value
  std::string output_dir;             // -o DIR
  bool overwrite = false;
  std::string walltime;  // --walltime: replaces parallel.walltime (run, train, predict)
  Invocation invocation; // rank 0's command line, host and batch job, the same on every rank
};

// What `tessera run` and `tessera predict` do besides running the deck.
struct RunOptions {
  std::string restart; // --restart DIR: continue the run in DIR from DIR/checkpoint.h5
};
int run_command(MPI_Comm comm, const DeckOptions& options, Log& log, const RunOptions& run = {});
// What `tessera train` does besides training (SPEC §3).
struct TrainOptions {
  bool gradient_only = false;  // write gradient.h5 and print the loss, no optimizer step
  bool check_gradient = false; // compare with central differences on 20 parameters, print the worst error
  std::string restart;         // --restart DIR: continue from DIR/checkpoint.h5 in DIR
};
// Fits grn.graph_ode to train.dataset (or to the deck's own hill simulation with train.simulate): model.h5,
// loss.csv, predicted.h5, the learned GRN and checkpoints in the run directory (app/train_command.cpp).
int train_command(MPI_Comm comm, const DeckOptions& options, const TrainOptions& train, Log& log);
// Runs the deck's simulation with the graph_ode parameters of predict.model and the perturbations of the
// `predict` section (SPEC §3.6); the outputs are a simulation's (SPEC §6.4). Stops (exit 75) and continues
// (`run.restart`) as run_command does.
int predict_command(MPI_Comm comm, const DeckOptions& options, Log& log, const RunOptions& run = {});
int check_command(const DeckOptions& options, bool reference, Log& log);
// What `tessera check` verifies beyond the key tables, on this process alone: the cross-section checks of
// every module, a predict deck's model and perturbations, a train deck's dataset against its genes, cell
// types and domain. `ranks`: the rank count the deck is checked for.
void check_deck(const Deck& deck, int ranks);
int info_command(Log& log);
// Converts on rank 0 (SPEC §6.3); the other ranks wait and share its verdict.
int convert_command(const std::string& from, const std::string& to, const ConvertOptions& options, Log& log);
// Commands whose implementation has not landed yet: they validate what they can and say so (exit 2).
int unavailable_command(const std::string& name, const std::string& issue, Log& log);

// `tessera sweep plan|run|collect` (app/sweep_command.cpp, docs/cluster.md "Sweeps").
struct SweepOptions {
  std::string target;     // the sweep file (plan, run) or a planned sweep folder (run, collect)
  std::string output_dir; // -o DIR: where a sweep file is planned (default: runs/<sweep file name>)
  std::vector<std::string> overrides; // -s key=value for every member, after the sweep file's `set`
  int groups = 1;        // --groups G: the ranks split into G groups, each running one member at a time
  long long member = -1; // --member K: run member K alone on all ranks (-1: every member)
  Invocation invocation;
};
// Resolves and checks every member deck (exit 2 naming the sweep file's line and key), then writes
// DIR/sweep.yaml, DIR/members.csv and DIR/members/<k>/deck.yaml. Collective on MPI_COMM_WORLD.
int sweep_plan_command(const SweepOptions& options, Log& log);
// Runs the members not finished yet (plans first when given a sweep file). Collective on MPI_COMM_WORLD.
int sweep_run_command(const SweepOptions& options, Log& log);
// DIR/sweep.csv and DIR/sweep.h5: every member's parameters, status and the outcomes its sweep file's
// `collect` section names. Rank 0 reads and writes; collective on MPI_COMM_WORLD.
int sweep_collect_command(const SweepOptions& options, Log& log);

// Version banner and the library versions `tessera info` prints, one "name: value" per line.
std::vector<std::pair<std::string, std::string>> build_info();

} // namespace tessera::app
