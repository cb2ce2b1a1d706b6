#include "tessera/parallel/load_balance.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace tessera {

BoxCuts balanced_box_cuts(MPI_Comm comm, const Domain& domain, const std::array<int, 3>& dims,
                          Kokkos::View<const double* [3], Kokkos::LayoutRight> positions, std::size_t n,
                          double min_width, const std::array<int, 3>* grid, int bins) {
  const auto pos = Kokkos::create_mirror_view_and_copy(
      Kokkos::HostSpace(), Kokkos::subview(positions, std::make_pair(std::size_t(0), n), Kokkos::ALL));
  // Bins per axis, and where each axis' histogram starts in the one buffer that one allreduce sums.
  std::array<long long, 3> nb{1, 1, 1};
  std::array<std::size_t, 4> start{0, 0, 0, 0};
  for (int a = 0; a < 3; ++a) {
    if (a < domain.dim) nb[static_cast<std::size_t>(a)] = grid ? (*grid)[static_cast<std::size_t>(a)] : bins;
    start[static_cast<std::size_t>(a) + 1] =
        start[static_cast<std::size_t>(a)] + static_cast<std::size_t>(nb[a]);
  }
  std::vector<std::int64_t> counts(start[3], 0);
  for (int a = 0; a < domain.dim; ++a) {
    const double lo = domain.lo[a], extent = domain.hi[a] - domain.lo[a];
    const auto top = static_cast<double>(nb[static_cast<std::size_t>(a)] - 1);
    for (std::size_t i = 0; i < n; ++i) {
      const double f = (pos(i, a) - lo) / extent * static_cast<double>(nb[static_cast<std::size_t>(a)]);
      ++counts[start[static_cast<std::size_t>(a)] +
               static_cast<std::size_t>(std::clamp(std::floor(f), 0.0, top))];
    }
  }
  mpi::check(
      MPI_Allreduce(MPI_IN_PLACE, counts.data(), static_cast<int>(counts.size()), MPI_INT64_T, MPI_SUM, comm),
      "MPI_Allreduce");

  BoxCuts cuts;
  for (int a = 0; a < 3; ++a) {
    const auto A = static_cast<std::size_t>(a);
    const long long d = dims[A];
    std::vector<double>& c = cuts[A];
    if (d <= 1) continue;
    const double lo = domain.lo[a], extent = domain.hi[a] - domain.lo[a];
    const long long B = nb[A];
    auto at = [&](long long j) { return lo + extent * static_cast<double>(j) / static_cast<double>(B); };
    // The narrowest box in whole bins: a little over min_width, so that the widths, computed as differences
    // of the cuts, do not round below it.
    const auto width =
        std::max(1LL, static_cast<long long>(std::ceil(min_width * (1 + 1e-9) / (extent / B))));
    std::int64_t total = 0;
    for (long long b = 0; b < B; ++b)
      total += counts[start[A] + static_cast<std::size_t>(b)];
    if (total == 0 || width * d > B) {
      // Equal boxes: their formula, or on a grid the nearest voxel faces.
      for (long long k = 1; k < d; ++k)
        c.push_back(grid ? at(B * k / d) : lo + extent * static_cast<double>(k) / static_cast<double>(d));
      continue;
    }
    // cumulative[j]: the cells in bins below j, so edge j of the histogram has cumulative[j] cells below it.
    std::vector<std::int64_t> cumulative(static_cast<std::size_t>(B) + 1, 0);
    for (long long b = 0; b < B; ++b)
      cumulative[static_cast<std::size_t>(b) + 1] =
          cumulative[static_cast<std::size_t>(b)] + counts[start[A] + static_cast<std::size_t>(b)];
    std::vector<long long> j(static_cast<std::size_t>(d - 1));
    for (long long k = 1; k < d; ++k) {
      // The histogram edge whose count below is nearest k / d of the cells (in integers: d times the count
      // against k times the total, no rounding), the lower one on a tie.
      const auto miss = [&](long long e) {
        return std::llabs(d * cumulative[static_cast<std::size_t>(e)] - k * total);
      };
      long long e = std::lower_bound(cumulative.begin(), cumulative.end(), (k * total + d - 1) / d) -
                    cumulative.begin();
      if (e > 0 && miss(e - 1) <= miss(e)) --e;
      j[static_cast<std::size_t>(k - 1)] = e;
    }
    // Every box at least `width` bins wide: cut k between k width and B - (d - k) width, then apart from its
    // neighbours (forward, then backward, keeps both bounds since d width <= B).
    for (long long k = 1; k < d; ++k) {
      long long& e = j[static_cast<std::size_t>(k - 1)];
      e = std::clamp(e, k * width, B - (d - k) * width);
      if (k > 1) e = std::max(e, j[static_cast<std::size_t>(k - 2)] + width);
    }
    for (long long k = d - 2; k >= 1; --k)
      j[static_cast<std::size_t>(k - 1)] =
          std::min(j[static_cast<std::size_t>(k - 1)], j[static_cast<std::size_t>(k)] - width);
    for (const long long e : j)
      c.push_back(at(e));
  }
  return cuts;
}

} // namespace tessera
