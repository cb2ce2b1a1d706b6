#include "tessera/sim/rank_balance.hpp"

#include "tessera/core/units.hpp"
#include "tessera/parallel/mpi.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <vector>

namespace tessera {

namespace {

// "1.28": largest over mean, 1 when no rank had any (every rank equally idle).
std::string max_over_mean(long long max, double mean) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f", mean > 0 ? static_cast<double>(max) / mean : 1.0);
  return text;
}

} // namespace

RankBalance measure_rank_balance(MPI_Comm comm, const RankLoad& local) {
  const int n = mpi::size(comm);
  const std::array<long long, 2> mine = {local.cells, local.cell_steps};
  std::vector<long long> all(2 * static_cast<std::size_t>(n));
  mpi::check(MPI_Allgather(mine.data(), 2, MPI_LONG_LONG, all.data(), 2, MPI_LONG_LONG, comm),
             "MPI_Allgather");
  RankBalance b;
  b.ranks = n;
  b.cells_min = b.cells_max = all[0];
  b.cell_steps_min = b.cell_steps_max = all[1];
  long long cells = 0, cell_steps = 0;
  for (int r = 0; r < n; ++r) {
    const long long c = all[2 * static_cast<std::size_t>(r)], s = all[2 * static_cast<std::size_t>(r) + 1];
    b.cells_min = std::min(b.cells_min, c);
    b.cells_max = std::max(b.cells_max, c);
    b.cell_steps_min = std::min(b.cell_steps_min, s);
    b.cell_steps_max = std::max(b.cell_steps_max, s);
    cells += c;
    cell_steps += s;
  }
  b.cells_mean = static_cast<double>(cells) / n;
  b.cell_steps_mean = static_cast<double>(cell_steps) / n;
  return b;
}

std::string describe(const RankBalance& b) {
  return "load over " + std::to_string(b.ranks) + " ranks: cell-steps min " +
         std::to_string(b.cell_steps_min) + ", max " + std::to_string(b.cell_steps_max) + " (max/mean " +
         max_over_mean(b.cell_steps_max, b.cell_steps_mean) + "); owned cells at the end min " +
         std::to_string(b.cells_min) + ", mean " + format_number(b.cells_mean) + ", max " +
         std::to_string(b.cells_max) + " (max/mean " + max_over_mean(b.cells_max, b.cells_mean) + ")";
}

} // namespace tessera
