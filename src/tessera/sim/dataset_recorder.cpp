#include "tessera/sim/dataset_recorder.hpp"

#include "tessera/core/error.hpp"
#include "tessera/grn/trainable_model.hpp"
#include "tessera/io/hdf5.hpp"
#include "tessera/io/invocation_attributes.hpp"
#include "tessera/parallel/mpi.hpp"
#include "tessera/sim/simulation.hpp"

#include <algorithm>
#include <numeric>

namespace tessera {

namespace {

// Rank 0 receives the concatenation of every rank's `local` (counts given per rank, `width` values each).
template <class T>
std::vector<T> gather_rows(MPI_Comm comm, const std::vector<T>& local, int rows, int width,
                           MPI_Datatype type) {
  const int ranks = mpi::size(comm);
  std::vector<int> counts(static_cast<std::size_t>(ranks)), displs(static_cast<std::size_t>(ranks), 0);
  const int mine = rows * width;
  mpi::check(MPI_Gather(&mine, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, comm), "MPI_Gather");
  std::partial_sum(counts.begin(), counts.end() - 1, displs.begin() + 1);
  std::vector<T> all(
      mpi::rank(comm) == 0 ? static_cast<std::size_t>(std::accumulate(counts.begin(), counts.end(), 0)) : 0);
  mpi::check(MPI_Gatherv(local.data(), mine, type, all.data(), counts.data(), displs.data(), type, 0, comm),
             "MPI_Gatherv");
  return all;
}

} // namespace

DatasetRecorder::DatasetRecorder(MPI_Comm comm, const SimulationSetup& setup,
                                 const TrainableGeneModel* learned)
    : comm_(comm) {
  if (setup.lifecycle.divides() || setup.lifecycle.dies())
    throw input_error("output.dataset needs the same cells at every observation: remove cells.division and "
                      "cells.death from the deck (or set output.dataset: false)");
  data_.genes = setup.network.genes;
  data_.cell_types = setup.types.names;
  data_.dim = setup.domain.dim;
  data_.positions_per_time = !setup.mechanics.frozen;
  for (const auto& p : setup.signaling.pairs)
    data_.ligand_receptor.push_back({p.ligand, p.receptor});
  if (setup.network.model == "hill" && !setup.uses_learned_model()) {
    // The Hill network is the ground truth: each (source, target, sign) per type; edges given for every type
    // ("*") are listed under each type so per-type metrics see them.
    for (int t = 0; t < setup.types.count(); ++t) {
      auto& edges = data_.truth_grn[setup.types.names[static_cast<std::size_t>(t)]];
      for (const RegulatoryEdge& e : setup.network.edges)
        if (e.type < 0 || e.type == t) edges.push_back({e.source, e.target, e.sign});
    }
  } else if (learned != nullptr && learned->edge_weights_are_network()) {
    // A learned model's network: every intracellular candidate edge with a non-zero parameter, its sign the
    // parameter's (an edge L1 has set to zero is no edge of the model that made the data).
    for (const SignedEdgeWeight& w : learned->signed_edge_weights())
      if (w.pair < 0 && w.weight != 0.0)
        data_.truth_grn[setup.types.names[static_cast<std::size_t>(w.type)]].push_back(
            {w.source, w.target, w.weight > 0.0 ? 1 : -1});
  }
  for (auto& [type, edges] : data_.truth_grn) {
    std::sort(edges.begin(), edges.end());
    edges.erase(std::unique(edges.begin(), edges.end()), edges.end());
  }
}

void DatasetRecorder::record(double time, const CellSnapshot& local) {
  const int n = static_cast<int>(local.size());
  const auto ids = gather_rows(comm_, local.id, n, 1, MPI_UINT64_T);
  const auto types = gather_rows(comm_, local.type, n, 1, MPI_INT32_T);
  const auto pos = gather_rows(comm_, local.position, n, local.dim, MPI_DOUBLE);
  const auto genes = gather_rows(comm_, local.genes, n, local.n_genes, MPI_DOUBLE);
  if (mpi::rank(comm_) != 0) return;
  std::vector<std::size_t> order(ids.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return ids[a] < ids[b]; });
  const std::size_t G = static_cast<std::size_t>(local.n_genes), d = static_cast<std::size_t>(local.dim);
  if (data_.time.empty()) {
    for (const std::size_t k : order) {
      data_.cell_id.push_back(ids[k]);
      data_.cell_type.push_back(types[k]);
    }
  }
  data_.time.push_back(time);
  for (const std::size_t k : order)
    data_.expression.insert(data_.expression.end(), &genes[k * G], &genes[k * G] + G);
  if (data_.positions_per_time || data_.time.size() == 1)
    for (const std::size_t k : order)
      data_.positions.insert(data_.positions.end(), &pos[k * d], &pos[k * d] + d);
}

void DatasetRecorder::write(const std::string& path, const Invocation& invocation) const {
  mpi::agree(comm_, [&] {
    if (mpi::rank(comm_) != 0) return;
    write_dataset(path, data_);
    // The command that made the data, as tessera.h5 records it (a converted dataset has none).
    h5::File file = h5::File::open_append(path);
    write_invocation(file.get(), invocation);
    file.close();
  });
}

} // namespace tessera
