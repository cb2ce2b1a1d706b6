// summary.csv (SPEC §6.4): one row per output step with the time, the cell count of each type, and the mean
// and standard deviation of every gene within each type — the numbers a user plots first.
#pragma once

#include "tessera/io/snapshot.hpp"

#include <mpi.h>

#include <fstream>
#include <string>
#include <vector>

namespace tessera {

class SummaryCsv {
public:
  // Collective. Rank 0 creates `path` and writes the header.
  SummaryCsv(MPI_Comm comm, const std::string& path, const std::vector<std::string>& type_names,
             const std::vector<std::string>& gene_names);

  // Collective. Reduces the local cells' statistics to rank 0, which appends one row.
  void append(long long step, double time, const CellSnapshot& local);

private:
  MPI_Comm comm_;
  std::string path_;
  int n_types_, n_genes_;
  std::ofstream out_;
};

} // namespace tessera
