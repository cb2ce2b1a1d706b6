// The subcommands of `tessera`. Each is collective on MPI_COMM_WORLD and returns the exit code; errors are
// thrown as tessera::Error and turned into exit codes by app::main.
#pragma once

#include "tessera/core/invocation.hpp"
#include "tessera/core/log.hpp"
#include "tessera/learn/convert.hpp"

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

// What `tessera run` does besides running the deck.
struct RunOptions {
  std::string restart; // --restart DIR: continue the run in DIR from DIR/checkpoint.h5
};
int run_command(const DeckOptions& options, Log& log, const RunOptions& run = {});
// What `tessera train` does besides training (SPEC §3).
struct TrainOptions {
  bool gradient_only = false;  // write gradient.h5 and print the loss, no optimizer step
  bool check_gradient = false; // compare with central differences on 20 parameters, print the worst error
  std::string restart;         // --restart DIR: continue from DIR/checkpoint.h5 in DIR
};
// Fits grn.graph_ode to train.dataset (or to the deck's own hill simulation with train.simulate): model.h5,
// loss.csv, predicted.h5, the learned GRN and checkpoints in the run directory (app/train_command.cpp).
int train_command(const DeckOptions& options, const TrainOptions& train, Log& log);
// Runs the deck's simulation with the graph_ode parameters of predict.model and the perturbations of the
// `predict` section (SPEC §3.6); the outputs are a simulation's (SPEC §6.4).
int predict_command(const DeckOptions& options, Log& log);
int check_command(const DeckOptions& options, bool reference, Log& log);
int info_command(Log& log);
// Converts on rank 0 (SPEC §6.3); the other ranks wait and share its verdict.
int convert_command(const std::string& from, const std::string& to, const ConvertOptions& options, Log& log);
// Commands whose implementation has not landed yet: they validate what they can and say so (exit 2).
int unavailable_command(const std::string& name, const std::string& issue, Log& log);

// Version banner and the library versions `tessera info` prints, one "name: value" per line.
std::vector<std::pair<std::string, std::string>> build_info();

} // namespace tessera::app
