// Readers of simulation outputs (SPEC §6.4): the steps a tessera.h5 holds, one step's cells read whole or
// split across ranks (restart, predict), and the provenance of the run that wrote it.
#pragma once

#include "tessera/io/snapshot.hpp"

#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace tessera {

// Everything the root of a simulation output records.
struct SimulationInfo {
  RunProvenance provenance;
  int dim = 2;
  int ranks = 1;            // ranks of the run that wrote it
  std::string version;      // tessera version that wrote it
  std::string git_hash;     // and its git hash
  std::string created;      // UTC, ISO 8601
  bool complete = false;    // the run ended normally (files from before this mark read as incomplete)
  long long last_step = -1; // the step written last; -1: none (or a file from before this mark)
  double last_time = 0;     // its time (min)
};

// Every `path` below is a tessera.h5 file or a run directory holding one. A file that is missing, not HDF5,
// or not marked `format = "tessera-simulation"`, and a step the file does not hold, are input_errors naming
// the file (and the step).

// Output step numbers in the file, ascending.
std::vector<long long> list_steps(const std::string& path);
// Simulated time of a step (min).
double step_time(const std::string& path, long long step);
// All cells of a step, on the calling process alone.
CellSnapshot read_step(const std::string& path, long long step);
// Collective. Rank r of comm gets the r-th of comm's size contiguous blocks of rows, as even as possible (the
// first N % size ranks get one more); which cells a rank owns is the caller's business afterwards.
CellSnapshot read_step_slice(MPI_Comm comm, const std::string& path, long long step);
RunProvenance read_provenance(const std::string& path);
SimulationInfo read_simulation_info(const std::string& path);

} // namespace tessera
