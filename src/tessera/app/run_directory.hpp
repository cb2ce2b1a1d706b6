// What every deck-driven command does first: read the deck (rank 0 reads, every rank parses), choose the run
// directory, and create it without ever replacing an earlier run's outputs unless asked.
#pragma once

#include "tessera/app/commands.hpp"
#include "tessera/core/log.hpp"
#include "tessera/io/deck.hpp"
#include "tessera/io/snapshot.hpp"
#include "tessera/sim/simulation.hpp"

#include <mpi.h>

#include <string>
#include <vector>

namespace tessera::app {

// Collective. Reads the deck on rank 0, parses it on every rank (same text, same verdict).
Deck load_deck(MPI_Comm comm, const DeckOptions& options);

// -o DIR, else the deck's own output.dir (`from_deck`, may be empty), else runs/<deck stem>.
std::string default_run_directory(const DeckOptions& options, const std::string& from_deck);

// The files `tessera run` writes.
extern const std::vector<std::string> run_outputs;

// Collective. Creates the run directory on rank 0. Earlier outputs are never replaced silently: when one of
// `outputs` exists and `overwrite` is false the command stops before touching anything (exit 2).
void prepare_run_directory(MPI_Comm comm, const std::string& dir, bool overwrite,
                           const std::vector<std::string>& outputs = run_outputs);

// Opens `dir`/tessera.log for `log`, logs the command line, host and batch job of `invocation` and, on rank
// 0, writes `dir`/resolved_deck.yaml (not when `write_deck` is false: a restarted run keeps its own).
// Collective.
void open_run_log(MPI_Comm comm, const std::string& dir, const Deck& deck, const Invocation& invocation,
                  Log& log, bool write_deck = true);

// Collective. The wall-clock limit in seconds (+inf for none): --walltime when given, else parallel.walltime.
// A malformed --walltime is an input error naming the option (exit 2) on every rank.
double command_walltime(MPI_Comm comm, const DeckOptions& options, const Deck& deck);

// What a simulation output records about the command that wrote it (the root attributes of SPEC §6.4).
RunProvenance run_provenance(const std::string& command, const DeckOptions& options, const Deck& deck,
                             const SimulationSetup& setup);

} // namespace tessera::app
