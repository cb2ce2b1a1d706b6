#include "tessera/io/summary_csv.hpp"

#include "tessera/core/error.hpp"
#include "tessera/parallel/mpi.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iomanip>

namespace tessera {

SummaryCsv::SummaryCsv(MPI_Comm comm, const std::string& path, const std::vector<std::string>& type_names,
                       const std::vector<std::string>& gene_names,
                       const std::vector<std::string>& field_names)
    : comm_(comm), path_(path), n_types_(static_cast<int>(type_names.size())),
      n_genes_(static_cast<int>(gene_names.size())), field_names_(field_names) {
  mpi::agree(comm_, [&] {
    if (mpi::rank(comm_) != 0) return;
    out_.open(path);
    if (!out_) throw runtime_error(path + ": cannot create file");
    out_ << header(type_names, gene_names) << "\n";
  });
}

SummaryCsv::SummaryCsv(MPI_Comm comm, const std::string& path, const std::vector<std::string>& type_names,
                       const std::vector<std::string>& gene_names, const ResumePoint& resume,
                       const std::vector<std::string>& field_names)
    : comm_(comm), path_(path), n_types_(static_cast<int>(type_names.size())),
      n_genes_(static_cast<int>(gene_names.size())), field_names_(field_names) {
  mpi::agree(comm_, [&] {
    if (mpi::rank(comm_) != 0) return;
    std::ifstream in(path, std::ios::binary);
    if (!in) throw input_error(path + ": cannot read the summary of the run being restarted");
    const std::string expected = header(type_names, gene_names);
    std::string line;
    if (!std::getline(in, line) || line != expected)
      throw input_error(path + ": line 1 is not the header of this deck's summary (" + expected + ")");
    const auto columns = std::count(expected.begin(), expected.end(), ',') + 1;
    std::string kept = expected + "\n";
    // A row counts only when whole: ended by a newline and with every column (a crash can cut the last).
    while (std::getline(in, line)) {
      if (in.eof() || std::count(line.begin(), line.end(), ',') + 1 != columns) break;
      char* end = nullptr;
      const long long step = std::strtoll(line.c_str(), &end, 10);
      if (end == line.c_str() || *end != ',' || !resume.keeps(step)) break;
      kept += line + "\n";
    }
    const std::string partial = path + ".tmp";
    {
      std::ofstream out(partial, std::ios::binary | std::ios::trunc);
      out << kept;
      out.close();
      if (!out) throw runtime_error(partial + ": write failed: " + std::strerror(errno));
    }
    std::error_code ec;
    std::filesystem::rename(partial, path, ec);
    if (ec) throw runtime_error(path + ": cannot replace with " + partial + ": " + ec.message());
    out_.open(path, std::ios::app);
    if (!out_) throw runtime_error(path + ": cannot open for appending");
  });
}

std::string SummaryCsv::header(const std::vector<std::string>& type_names,
                               const std::vector<std::string>& gene_names) const {
  std::string text = "step,time_min,cells";
  for (const auto& t : type_names)
    text += ",cells_" + t;
  for (const auto& t : type_names)
    for (const auto& g : gene_names)
      text += ",mean_" + t + "_" + g + ",sd_" + t + "_" + g;
  for (const auto& f : field_names_)
    text += ",min_" + f + ",mean_" + f + ",max_" + f + ",total_" + f;
  return text;
}

void SummaryCsv::append(long long step, double time, const CellSnapshot& local,
                        const std::vector<double>& field_columns) {
  if (field_columns.size() != 4 * field_names_.size())
    throw runtime_error(path_ + ": " + std::to_string(field_columns.size()) + " field columns for " +
                        std::to_string(field_names_.size()) + " fields");
  // Two passes: per type the count and sum of each gene (allreduced, so every rank has the means), then the
  // sum of squared deviations from those means. The one-pass sum of squares, sum x^2 - n mean^2, loses every
  // digit of the variance once the mean is large against the spread (at 1e8 +- 0.1 it is pure rounding), and
  // its rounding then differed from one rank count to another.
  const int stride = 1 + n_genes_;
  std::vector<double> sums(static_cast<size_t>(n_types_ * stride), 0.0);
  for (std::size_t i = 0; i < local.size(); ++i) {
    double* a = &sums[static_cast<size_t>(local.type[i] * stride)];
    a[0] += 1.0;
    for (int g = 0; g < n_genes_; ++g)
      a[1 + g] += local.genes[i * n_genes_ + g];
  }
  mpi::check(
      MPI_Allreduce(MPI_IN_PLACE, sums.data(), static_cast<int>(sums.size()), MPI_DOUBLE, MPI_SUM, comm_),
      "MPI_Allreduce");
  auto mean_of = [&](int t, int g) {
    const double* a = &sums[static_cast<size_t>(t * stride)];
    return a[0] > 0 ? a[1 + g] / a[0] : 0.0;
  };
  std::vector<double> squares(static_cast<size_t>(n_types_ * n_genes_), 0.0), total(squares.size(), 0.0);
  for (std::size_t i = 0; i < local.size(); ++i)
    for (int g = 0; g < n_genes_; ++g) {
      const double d = local.genes[i * n_genes_ + g] - mean_of(local.type[i], g);
      squares[static_cast<size_t>(local.type[i] * n_genes_ + g)] += d * d;
    }
  mpi::check(MPI_Reduce(squares.data(), total.data(), static_cast<int>(squares.size()), MPI_DOUBLE, MPI_SUM,
                        0, comm_),
             "MPI_Reduce");
  mpi::agree(comm_, [&] {
    if (mpi::rank(comm_) != 0) return;
    double cells = 0;
    for (int t = 0; t < n_types_; ++t)
      cells += sums[static_cast<size_t>(t * stride)];
    out_ << step << "," << std::setprecision(10) << time << "," << static_cast<long long>(cells);
    for (int t = 0; t < n_types_; ++t)
      out_ << "," << static_cast<long long>(sums[static_cast<size_t>(t * stride)]);
    for (int t = 0; t < n_types_; ++t) {
      const double n = sums[static_cast<size_t>(t * stride)];
      for (int g = 0; g < n_genes_; ++g) {
        const double var = n > 1 ? total[static_cast<size_t>(t * n_genes_ + g)] / (n - 1) : 0.0;
        out_ << "," << mean_of(t, g) << "," << std::sqrt(var);
      }
    }
    for (const double value : field_columns)
      out_ << "," << value;
    out_ << "\n";
    out_.flush();
    if (!out_) throw runtime_error(path_ + ": write failed: " + std::strerror(errno));
  });
}

} // namespace tessera
