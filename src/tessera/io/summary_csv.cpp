#include "tessera/io/summary_csv.hpp"

#include "tessera/core/error.hpp"
#include "tessera/parallel/mpi.hpp"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <iomanip>

namespace tessera {

SummaryCsv::SummaryCsv(MPI_Comm comm, const std::string& path, const std::vector<std::string>& type_names,
                       const std::vector<std::string>& gene_names)
    : comm_(comm), path_(path), n_types_(static_cast<int>(type_names.size())),
      n_genes_(static_cast<int>(gene_names.size())) {
  mpi::agree(comm_, [&] {
    if (mpi::rank(comm_) != 0) return;
    out_.open(path);
    if (!out_) throw runtime_error(path + ": cannot create file");
    out_ << "step,time_min,cells";
    for (const auto& t : type_names)
      out_ << ",cells_" << t;
    for (const auto& t : type_names)
      for (const auto& g : gene_names)
        out_ << ",mean_" << t << "_" << g << ",sd_" << t << "_" << g;
    out_ << "\n";
  });
}

void SummaryCsv::append(long long step, double time, const CellSnapshot& local) {
  // Per type: count, then sum and sum of squares of each gene.
  const int stride = 1 + 2 * n_genes_;
  std::vector<double> acc(static_cast<size_t>(n_types_ * stride), 0.0), total(acc.size(), 0.0);
  for (std::size_t i = 0; i < local.size(); ++i) {
    double* a = &acc[static_cast<size_t>(local.type[i] * stride)];
    a[0] += 1.0;
    for (int g = 0; g < n_genes_; ++g) {
      const double x = local.genes[i * n_genes_ + g];
      a[1 + 2 * g] += x;
      a[2 + 2 * g] += x * x;
    }
  }
  mpi::check(
      MPI_Reduce(acc.data(), total.data(), static_cast<int>(acc.size()), MPI_DOUBLE, MPI_SUM, 0, comm_),
      "MPI_Reduce");
  mpi::agree(comm_, [&] {
    if (mpi::rank(comm_) != 0) return;
    double cells = 0;
    for (int t = 0; t < n_types_; ++t)
      cells += total[static_cast<size_t>(t * stride)];
    out_ << step << "," << std::setprecision(10) << time << "," << static_cast<long long>(cells);
    for (int t = 0; t < n_types_; ++t)
      out_ << "," << static_cast<long long>(total[static_cast<size_t>(t * stride)]);
    for (int t = 0; t < n_types_; ++t) {
      const double* a = &total[static_cast<size_t>(t * stride)];
      for (int g = 0; g < n_genes_; ++g) {
        const double mean = a[0] > 0 ? a[1 + 2 * g] / a[0] : 0.0;
        const double var = a[0] > 1 ? std::max(0.0, (a[2 + 2 * g] - a[0] * mean * mean) / (a[0] - 1)) : 0.0;
        out_ << "," << mean << "," << std::sqrt(var);
      }
    }
    out_ << "\n";
    out_.flush();
    if (!out_) throw runtime_error(path_ + ": write failed: " + std::strerror(errno));
  });
}

} // namespace tessera
