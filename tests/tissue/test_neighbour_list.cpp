// The neighbour search (SPEC §2, §4) against brute force: pairs at exactly the range are neighbours (d <=
// r_sig), and a few cells spread over a box of 10^12 or 10^300 um get correct rows from a grid bounded by
// the cell count, not the box.
#include "tessera/tissue/neighbour_list.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <set>
#include <utility>
#include <vector>

using namespace tessera;

namespace {

Cells<> cells_at(int dim, const std::vector<std::array<double, 3>>& at) {
  Cells<> cells(dim, 1, at.size());
  cells.n_owned = at.size();
  auto id = Kokkos::create_mirror_view(cells.id);
  auto pos = Kokkos::create_mirror_view(cells.position);
  for (std::size_t i = 0; i < at.size(); ++i) {
    id(i) = i;
    for (int a = 0; a < 3; ++a)
      pos(i, a) = at[i][a];
  }
  Kokkos::deep_copy(cells.id, id);
  Kokkos::deep_copy(cells.position, pos);
  return cells;
}

using Pairs = std::set<std::pair<int, int>>;

Pairs listed(const NeighbourList& nl) {
  auto offsets = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), nl.offsets);
  auto nb = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), nl.neighbours);
  Pairs out;
  for (std::size_t i = 0; i < nl.n_owned; ++i)
    for (int e = offsets(i); e < offsets(i + 1); ++e)
      EXPECT_TRUE(out.emplace(static_cast<int>(i), nb(e)).second) << "pair listed twice";
  return out;
}

// Every ordered pair within `range`, distances computed as the search computes them (differences squared).
Pairs brute_force(const std::vector<std::array<double, 3>>& at, double range) {
  Pairs out;
  for (std::size_t i = 0; i < at.size(); ++i)
    for (std::size_t j = 0; j < at.size(); ++j) {
      if (i == j) continue;
      const double rx = at[i][0] - at[j][0], ry = at[i][1] - at[j][1], rz = at[i][2] - at[j][2];
      if (rx * rx + ry * ry + rz * rz <= range * range) out.emplace(static_cast<int>(i), static_cast<int>(j));
    }
  return out;
}

} // namespace

TEST(NeighbourList, PairsAtExactlyTheRangeAreNeighbours) {
  // A 6 x 5 lattice of step 16 um searched with range 16 um: every distance is exact in floating point, and
  // each cell's neighbours are its 2 to 4 lattice neighbours at exactly 16 um (diagonals are 22.6 um away).
  std::vector<std::array<double, 3>> at;
  for (int y = 0; y < 5; ++y)
    for (int x = 0; x < 6; ++x)
      at.push_back({16.0 * x, 16.0 * y, 0.0});
  NeighbourSearch search;
  const Pairs got = listed(search.build(cells_at(2, at), 16.0));
  const Pairs want = brute_force(at, 16.0);
  EXPECT_EQ(want.size(), 2u * (5 * 5 + 6 * 4)); // each lattice edge, both ways
  EXPECT_EQ(got, want);
  // 3-D, with the lattice shifted so that the bins do not start on a cell.
  at.clear();
  for (int z = 0; z < 3; ++z)
    for (int y = 0; y < 3; ++y)
      for (int x = 0; x < 4; ++x)
        at.push_back({-8.0 + 16.0 * x, 40.0 + 16.0 * y, 16.0 * z});
  EXPECT_EQ(listed(search.build(cells_at(3, at), 16.0)), brute_force(at, 16.0));
}

TEST(NeighbourList, FewCellsInAnAstronomicalBoxGetCorrectRows) {
  // Clusters of cells 10^12 and 10^300 um apart, plus isolated cells: binning by box size would ask for
  // ~10^33 bins (and overflow every integer at 10^300); the grid must stay bounded by the cells.
  for (const double span : {1e12, 1e300}) {
    std::mt19937 rng(7);
    std::uniform_real_distribution<double> near(-12.0, 12.0);
    std::vector<std::array<double, 3>> at;
    for (const double corner : {-span, 0.0, span})
      for (int k = 0; k < 15; ++k)
        at.push_back({corner + near(rng), corner * 0.5 + near(rng), -corner + near(rng)});
    at.push_back({span, -span, 0.0});
    at.push_back({-span, span, span});
    NeighbourSearch search;
    const NeighbourList nl = search.build(cells_at(3, at), 10.0);
    const Pairs want = brute_force(at, 10.0);
    EXPECT_GT(want.size(), 20u) << "span " << span;
    EXPECT_EQ(listed(nl), want) << "span " << span;
  }
}

TEST(NeighbourList, RandomCellsMatchBruteForceAtAnyRange) {
  // Positions on a 0.5 um grid: many pairs lie at exactly the ranges tried.
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> grid(0, 160);
  std::vector<std::array<double, 3>> at;
  for (int k = 0; k < 400; ++k)
    at.push_back({0.5 * grid(rng), 0.5 * grid(rng), 0.5 * grid(rng)});
  NeighbourSearch search;
  for (const double range : {3.0, 5.0, 7.5, 12.0, 100.0})
    EXPECT_EQ(listed(search.build(cells_at(3, at), range)), brute_force(at, range)) << "range " << range;
}
