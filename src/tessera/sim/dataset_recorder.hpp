// `output.dataset: true` (issue "Learning", item 1): a forward run records its output steps as a trajectory
// dataset (SPEC §6.3) — expression, positions, types, LR pairs, and the ground-truth GRN of a `hill` deck —
// so `tessera train` can fit a graph ODE to a tissue whose true network is known.
#pragma once

#include "tessera/io/snapshot.hpp"
#include "tessera/learn/dataset.hpp"

#include <mpi.h>

#include <string>

namespace tessera {

struct SimulationSetup;

class DatasetRecorder {
public:
  // Not collective. Throws input_error when the deck cannot make a dataset (cells divide or die, so the
  // population is not the same at every observation).
  DatasetRecorder(MPI_Comm comm, const SimulationSetup& setup);

  // Collective. Gathers every rank's cells to rank 0 and appends one observation, cells ordered by id.
  void record(double time, const CellSnapshot& local);

  // Collective. Rank 0 writes the dataset to `path` with the root attributes of `invocation` (an error there
  // is agreed on every rank).
  void write(const std::string& path, const Invocation& invocation) const;

private:
  MPI_Comm comm_;
  TrajectoryDataset data_;
};

} // namespace tessera
