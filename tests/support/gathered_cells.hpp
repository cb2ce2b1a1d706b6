// Every rank's owned cells gathered onto every rank, indexed by id: what decomposition-invariance tests
// compare with a one-rank run.
#pragma once

#include "tessera/io/snapshot.hpp"
#include "tessera/parallel/mpi.hpp"

#include <mpi.h>

#include <cstdint>
#include <map>
#include <numeric>
#include <vector>

namespace tessera::test {

struct Gathered {
  std::map<std::uint64_t, std::size_t> row; // id -> row
  CellSnapshot cells;
  double gene(std::uint64_t id, int g) const {
    return cells.genes[row.at(id) * static_cast<std::size_t>(cells.n_genes) + static_cast<std::size_t>(g)];
  }
};

// Collective: every rank's owned cells on every rank.
inline Gathered gather(MPI_Comm comm, const CellSnapshot& local) {
  const int size = mpi::size(comm);
  const int n = static_cast<int>(local.size());
  std::vector<int> counts(static_cast<std::size_t>(size));
  MPI_Allgather(&n, 1, MPI_INT, counts.data(), 1, MPI_INT, comm);
  auto gatherv = [&](const auto& v, int per, auto& out, MPI_Datatype type) {
    std::vector<int> c(static_cast<std::size_t>(size)), d(static_cast<std::size_t>(size), 0);
    for (int r = 0; r < size; ++r)
      c[static_cast<std::size_t>(r)] = counts[static_cast<std::size_t>(r)] * per;
    std::partial_sum(c.begin(), c.end() - 1, d.begin() + 1);
    out.resize(static_cast<std::size_t>(std::accumulate(c.begin(), c.end(), 0)));
    MPI_Allgatherv(v.data(), n * per, type, out.data(), c.data(), d.data(), type, comm);
  };
  Gathered g;
  g.cells.dim = local.dim;
  g.cells.n_genes = local.n_genes;
  gatherv(local.id, 1, g.cells.id, MPI_UINT64_T);
  gatherv(local.type, 1, g.cells.type, MPI_INT32_T);
  gatherv(local.position, local.dim, g.cells.position, MPI_DOUBLE);
  gatherv(local.genes, local.n_genes, g.cells.genes, MPI_DOUBLE);
  gatherv(local.cycle, 1, g.cells.cycle, MPI_DOUBLE);
  for (std::size_t i = 0; i < g.cells.id.size(); ++i)
    g.row[g.cells.id[i]] = i;
  return g;
}

} // namespace tessera::test
