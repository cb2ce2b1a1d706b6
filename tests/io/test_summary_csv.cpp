// summary.csv's per-type mean and standard deviation at 1, 2 and 4 ranks against a long-double two-pass
// computation over all cells, on expression with a large mean and a small spread, where the one-pass
// "sum of squares minus n mean^2" formula loses every digit of the variance.
#include "tessera/io/summary_csv.hpp"
#include "tessera/parallel/mpi.hpp"

#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace tessera {
namespace {

namespace fs = std::filesystem;

constexpr int n_cells = 1000, n_genes = 2, n_types = 2;

// Gene g of cell i: a large offset plus a deterministic spread of +-0.1 (golden-ratio sequence).
double expression(int i, int g) {
  const double offset = g == 0 ? 1.0e8 : 3.0;
  const double u = std::fmod(0.6180339887498949 * (i + 1) * (g + 2), 1.0);
  return offset + 0.2 * (u - 0.5);
}

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream in(line);
  for (std::string field; std::getline(in, field, ',');)
    out.push_back(field);
  return out;
}

TEST(SummaryCsv, MeanAndSdMatchTwoPassLongDouble) {
  const int rank = mpi::rank(MPI_COMM_WORLD), size = mpi::size(MPI_COMM_WORLD);
  const fs::path dir =
      fs::path(TESSERA_BINARY_DIR) / "tests" / "io" / "tmp" / ("summary-" + std::to_string(size));
  if (rank == 0) {
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  MPI_Barrier(MPI_COMM_WORLD);

  // Uneven slices: rank r owns the cells i with i % (size + 1) mapped onto it, rank 0 twice as many.
  CellSnapshot local;
  local.n_genes = n_genes;
  for (int i = 0; i < n_cells; ++i) {
    if (std::max(0, i % (size + 1) - 1) != rank) continue;
    local.id.push_back(static_cast<std::uint64_t>(i));
    local.type.push_back(i % n_types);
    for (int g = 0; g < n_genes; ++g)
      local.genes.push_back(expression(i, g));
  }
  {
    SummaryCsv csv(MPI_COMM_WORLD, (dir / "summary.csv").string(), {"a", "b"}, {"g0", "g1"});
    csv.append(0, 0.0, local);
  }
  if (rank != 0) return;

  std::ifstream in(dir / "summary.csv");
  std::string header, row;
  std::getline(in, header);
  std::getline(in, row);
  const auto fields = split(row);
  ASSERT_EQ(fields.size(), 3u + n_types + 2u * n_types * n_genes);
  for (int t = 0; t < n_types; ++t) {
    EXPECT_EQ(std::stoll(fields[3 + t]), n_cells / n_types);
    for (int g = 0; g < n_genes; ++g) {
      long double sum = 0, squares = 0;
      int n = 0;
      for (int i = t; i < n_cells; i += n_types, ++n)
        sum += expression(i, g);
      const long double mean = sum / n;
      for (int i = t; i < n_cells; i += n_types)
        squares += (expression(i, g) - mean) * (expression(i, g) - mean);
      const double sd = static_cast<double>(std::sqrt(squares / (n - 1)));
      const std::size_t column = 3 + n_types + 2 * (t * n_genes + g);
      // The file prints 10 significant digits; the mean is exact to those. The sd (about 0.058) is limited by
      // the data itself: a double near 1e8 carries 1.5e-8 absolute, 2.6e-7 of the sd, so 1e-6 relative.
      EXPECT_NEAR(std::stod(fields[column]), static_cast<double>(mean),
                  1e-9 * std::fabs(static_cast<double>(mean)))
          << "type " << t << " gene " << g;
      EXPECT_NEAR(std::stod(fields[column + 1]), sd, 1e-6 * sd) << "type " << t << " gene " << g;
    }
  }
}

} // namespace
} // namespace tessera
