// Spatial ordering (tissue/spatial_order.cpp): a permutation of the owned cells that follows the bins, also
// when the cells span 10^300 um (no integer overflow in the bin keys) or sit on one point.
#include "tessera/tissue/spatial_order.hpp"

#include <gtest/gtest.h>

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
