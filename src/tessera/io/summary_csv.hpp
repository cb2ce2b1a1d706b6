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
  // Collective. Rank 0 creates `path` and writes the header. With `field_names` (the diffusible fields'
  // substrates) each row ends with min_<f>, mean_<f>, max_<f> and total_<f> (the amount) of each.
  SummaryCsv(MPI_Comm comm, const std::string& path, const std::vector<std::string>& type_names,
             const std::vector<std::string>& gene_names, const std::vector<std::string>& field_names = {});

  // Collective. Continues the existing `path` of a restarted run: its header must be the one this writer
  // writes (else an input_error naming the file), the rows `resume` does not keep go (as do a last row cut
  // off by a crash), and rows are appended after the rest. The file is rewritten aside and renamed.
  SummaryCsv(MPI_Comm comm, const std::string& path, const std::vector<std::string>& type_names,
             const std::vector<std::string>& gene_names, const ResumePoint& resume,
             const std::vector<std::string>& field_names = {});

  // Collective. Reduces the local cells' statistics to rank 0, which appends one row. `field_columns` holds
  // min, mean, max and total of each field (the same on every rank), one group of 4 per field name.
  void append(long long step, double time, const CellSnapshot& local,
              const std::vector<double>& field_columns = {});

private:
  std::string header(const std::vector<std::string>& type_names,
                     const std::vector<std::string>& gene_names) const;

  MPI_Comm comm_;
  std::string path_;
  int n_types_, n_genes_;
  std::vector<std::string> field_names_;
  std::ofstream out_;
};

} // namespace tessera
