#include "tessera/parallel/load_balance.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace tessera {

namespace {

// Equal boxes' cuts: what RankBoxes::edge computes without cuts.
std::vector<double> equal_cuts(const Domain& domain, int a, int d) {
  std::vector<double> cuts;
  for (int i = 1; i < d; ++i)
    cuts.push_back(domain.lo[a] + (domain.hi[a] - domain.lo[a]) * static_cast<double>(i) / d);
  return cuts;
}

} // namespace

BoxCuts balanced_box_cuts(MPI_Comm comm, const Domain& domain, const std::array<int, 3>& dims,
                          Kokkos::View<const double* [3], Kokkos::LayoutRight> positions, std::size_t n,
                          double min_width, int bins) {
  const auto pos = Kokkos::create_mirror_view_and_copy(
      Kokkos::HostSpace(), Kokkos::subview(positions, std::make_pair(std::size_t(0), n), Kokkos::ALL));
  const auto B = static_cast<std::size_t>(bins);
  std::vector<std::int64_t> counts(3 * B, 0);
  for (int a = 0; a < domain.dim; ++a) {
    const double lo = domain.lo[a], extent = domain.hi[a] - domain.lo[a];
    for (std::size_t i = 0; i < n; ++i) {
      const double f = (pos(i, a) - lo) / extent * static_cast<double>(bins);
      const auto b = static_cast<std::size_t>(std::clamp(std::floor(f), 0.0, static_cast<double>(bins - 1)));
      ++counts[static_cast<std::size_t>(a) * B + b];
    }
  }
  mpi::check(
      MPI_Allreduce(MPI_IN_PLACE, counts.data(), static_cast<int>(counts.size()), MPI_INT64_T, MPI_SUM, comm),
      "MPI_Allreduce");

  BoxCuts cuts;
  for (int a = 0; a < 3; ++a) {
    const int d = dims[static_cast<std::size_t>(a)];
    std::vector<double>& c = cuts[static_cast<std::size_t>(a)];
    if (d <= 1) continue;
    const double lo = domain.lo[a], hi = domain.hi[a], extent = hi - lo;
    // Bins are extent / bins wide; a little over min_width keeps the boxes' widths, computed as differences
    // of the cuts, from rounding below it.
    const double width = std::max(min_width * (1 + 1e-9), extent / bins);
    std::int64_t total = 0;
    for (std::size_t b = 0; b < B; ++b)
      total += counts[static_cast<std::size_t>(a) * B + b];
    if (a >= domain.dim || total == 0 || width * d > extent) {
      c = equal_cuts(domain, a, d);
      continue;
    }
    // cumulative[j]: the cells in bins below j, so edge j of the histogram has cumulative[j] cells below it.
    std::vector<std::int64_t> cumulative(B + 1, 0);
    for (std::size_t b = 0; b < B; ++b)
      cumulative[b + 1] = cumulative[b] + counts[static_cast<std::size_t>(a) * B + b];
    for (int k = 1; k < d; ++k) {
      // The histogram edge whose count below is nearest k / d of the cells (in integers: 2 d below vs 2 k
      // total, no rounding), the lower one on a tie.
      const auto target = [&](std::size_t j) { return std::llabs(d * cumulative[j] - k * total); };
      std::size_t j = static_cast<std::size_t>(
          std::lower_bound(cumulative.begin(), cumulative.end(), (k * total + d - 1) / d) -
          cumulative.begin());
      if (j > 0 && target(j - 1) <= target(j)) --j;
      c.push_back(lo + extent * static_cast<double>(j) / bins);
    }
    // Every box at least `width` wide: cut k between lo + k width and hi - (d - k) width, then apart from
    // its neighbours (forward, then backward, keeps both bounds since d width <= extent).
    for (int k = 0; k < d - 1; ++k)
      c[k] = std::clamp(c[k], lo + (k + 1) * width, hi - (d - 1 - k) * width);
    for (int k = 1; k < d - 1; ++k)
      c[k] = std::max(c[k], c[k - 1] + width);
    for (int k = d - 3; k >= 0; --k)
      c[k] = std::min(c[k], c[k + 1] - width);
  }
  return cuts;
}

} // namespace tessera
