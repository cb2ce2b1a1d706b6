// Spatial ordering (tissue/spatial_order.cpp): a permutation of the owned cells that follows the bins, also
// when the cells span 10^300 um (no integer overflow in the bin keys) or sit on one point.
#include "tessera/tissue/spatial_order.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <map>
#include <vector>

using namespace tessera;

namespace {

// Sorts cells placed at `x` (on the x axis) and returns their positions in the new order, checking that each
// id kept its own position.
std::vector<double> sorted_x(const std::vector<double>& x, double bin_size) {
  Cells<> cells(3, 1, x.size());
  cells.n_owned = x.size();
  auto id = Kokkos::create_mirror_view(cells.id);
  auto pos = Kokkos::create_mirror_view(cells.position);
  for (std::size_t i = 0; i < x.size(); ++i) {
    id(i) = 100 + i;
    pos(i, 0) = x[i];
    pos(i, 1) = pos(i, 2) = 0.0;
  }
  Kokkos::deep_copy(cells.id, id);
  Kokkos::deep_copy(cells.position, pos);
  sort_cells_spatially(cells, bin_size);
  Kokkos::deep_copy(id, cells.id);
  Kokkos::deep_copy(pos, cells.position);
  std::vector<double> out;
  std::map<std::uint64_t, int> seen;
  for (std::size_t i = 0; i < x.size(); ++i) {
    EXPECT_EQ(pos(i, 0), x[id(i) - 100]) << "cell " << id(i) << " lost its position";
    ++seen[id(i)];
    out.push_back(pos(i, 0));
  }
  EXPECT_EQ(seen.size(), x.size()) << "not a permutation";
  return out;
}

} // namespace

TEST(SpatialOrder, FollowsTheBins) {
  EXPECT_EQ(sorted_x({35, 5, 25, 15, 0.5}, 10.0), (std::vector<double>{5, 0.5, 15, 25, 35}));
}

TEST(SpatialOrder, AstronomicalSpanStaysAPermutationInBinOrder) {
  // 2e300 um over 10 um bins: the per-axis bin count is clamped, cells far apart still sort by position, and
  // cells closer than a (now huge) bin keep their order.
  EXPECT_EQ(sorted_x({1e300, -1e300, 7, 3, -5e299}, 10.0),
            (std::vector<double>{-1e300, -5e299, 7, 3, 1e300}));
  EXPECT_EQ(sorted_x({2, 2, 2}, 10.0), (std::vector<double>{2, 2, 2}));
}

TEST(SpatialOrder, ManyCellsPerBinKeepTheirOrder) {
  // 20000 cells in 10 x 10 x 10 bins of 10 um (one cell pins each corner of the box, so the bins are exactly
  // [10 k, 10 k + 10)): the order must be by bin, z slowest and x fastest, and within a bin by the original
  // row, whatever splits the sort into threads or GPU blocks.
  const std::size_t n = 20000;
  Cells<> cells(3, 1, n);
  cells.n_owned = n;
  auto id = Kokkos::create_mirror_view(cells.id);
  auto pos = Kokkos::create_mirror_view(cells.position);
  std::uint64_t state = 12345;
  for (std::size_t i = 0; i < n; ++i) {
    id(i) = i;
    for (int a = 0; a < 3; ++a) {
      state = state * 6364136223846793005ULL + 1442695040888963407ULL;
      pos(i, a) = i == 0 ? 0.0 : (i == 1 ? 99.5 : static_cast<double>(state >> 33) / 4294967296.0 * 99.0);
    }
  }
  Kokkos::deep_copy(cells.id, id);
  Kokkos::deep_copy(cells.position, pos);
  sort_cells_spatially(cells, 10.0);
  Kokkos::deep_copy(id, cells.id);
  Kokkos::deep_copy(pos, cells.position);
  auto bin = [&](std::size_t i) {
    long long c[3];
    for (int a = 0; a < 3; ++a)
      c[a] = static_cast<long long>(pos(i, a) / 10.0);
    return (c[2] * 10 + c[1]) * 10 + c[0];
  };
  std::vector<int> seen(n, 0);
  std::size_t out_of_order = 0;
  for (std::size_t i = 0; i < n; ++i) {
    ++seen[id(i)];
    if (i > 0 && (bin(i) < bin(i - 1) || (bin(i) == bin(i - 1) && id(i) < id(i - 1)))) ++out_of_order;
  }
  EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), static_cast<long>(n)) << "not a permutation";
  EXPECT_EQ(out_of_order, 0u);
}
