// `output.dataset: true` (issue "Learning", item 1): a forward run records its output steps as a trajectory
// dataset (SPEC §6.3) — expression, positions, types, LR pairs, and the ground-truth GRN — so `tessera train`
// can fit a model to a tissue whose true network is known. The truth is the network that made the data: a
// `hill` deck's edges, or a learned model's candidate edges whose signed parameter is not zero (a `hill`
// model file's K, a `sigmoid` model's W: TrainableGeneModel::edge_weights_are_network). graph_ode's network
// is read out of it, not given by a parameter: its dataset has no truth.
#pragma once

#include "tessera/io/snapshot.hpp"
#include "tessera/learn/dataset.hpp"

#include <mpi.h>

#include <string>

namespace tessera {

struct SimulationSetup;
class TrainableGeneModel;

class DatasetRecorder {
public:
  // Not collective. Throws input_error when the deck cannot make a dataset (cells divide or die, so the
  // population is not the same at every observation). `learned` is the deck's learned model (null for a
  // `hill` deck's own network).
  DatasetRecorder(MPI_Comm comm, const SimulationSetup& setup, const TrainableGeneModel* learned);

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
