// Host-side records that simulation outputs are made of: one rank's cells at one output step, and the
// provenance every output file carries so a result can be traced to the deck and build that made it.
#pragma once

#include "tessera/core/invocation.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace tessera {

// Host copy of one rank's owned cells at one output step (SPEC §1.1).
struct CellSnapshot {
  int dim = 2; // 2 or 3
  int n_genes = 0;
  std::vector<std::uint64_t> id;
  std::vector<std::int32_t> type;
  std::vector<double> position; // size()*dim, row-major
  std::vector<double> radius;
  std::vector<double> genes; // size()*n_genes, row-major
  std::vector<double> cycle; // time since last division (min)
  std::size_t size() const { return id.size(); }
};

// What every output file records about the run that made it.
struct RunProvenance {
  std::string deck_file;      // the deck's path as given
  std::string resolved_deck;  // the full deck with defaults, YAML text
  std::string kokkos_backend; // e.g. "Serial"
  std::string command;        // the subcommand: "run", "predict", "train (simulate)"
  Invocation invocation;      // the full command line, host and batch job (rank 0's)
  std::vector<std::string> gene_names;
  std::vector<std::string> type_names;
};

// Where a restarted run (`tessera run --restart`) takes up its outputs: it continues after the checkpoint's
// step, so output steps and summary rows after it (written by the run that crashed or stopped) go, and so
// does the checkpoint's own step when it is off the output.every cadence (a stopped run writes its last step
// whatever the cadence; the uninterrupted run would not have it).
struct ResumePoint {
  long long step = 0;  // the checkpoint's step
  long long every = 1; // output.every of the restarted run
  bool keeps(long long output_step) const {
    return output_step < step || (output_step == step && (step == 0 || step % every == 0));
  }
};

} // namespace tessera
