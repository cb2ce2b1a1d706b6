// Balanced rank boxes (parallel.balance: cells): RankBoxes with cuts owns every point once, as the equal
// boxes do; balanced_box_cuts splits the cells evenly per axis, gives the same cuts whichever ranks hold the
// cells, keeps every box at least the asked width, falls back to equal boxes where it cannot balance, and on
// the fields' voxel grid cuts on the faces nearest the quantiles.
#include "tessera/parallel/load_balance.hpp"
#include "tessera/parallel/mpi.hpp"

#include "../support/box_domain.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

using namespace tessera;
using test::box_domain;

namespace {

// n points, all ranks draw the same ones; this rank keeps those with index % size == rank (or all).
Kokkos::View<double* [3], Kokkos::LayoutRight> points(const Domain& d, int n, bool mine_only,
                                                      double (*shape)(double)) {
  std::mt19937_64 gen(7);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const int rank = mpi::rank(MPI_COMM_WORLD), size = mpi::size(MPI_COMM_WORLD);
  std::vector<std::array<double, 3>> kept;
  for (int i = 0; i < n; ++i) {
    std::array<double, 3> p{};
    for (int a = 0; a < 3; ++a)
      p[static_cast<std::size_t>(a)] = d.lo[a] + (d.hi[a] - d.lo[a]) * shape(u(gen));
    if (!mine_only || i % size == rank) kept.push_back(p);
  }
  Kokkos::View<double* [3], Kokkos::LayoutRight> v("points", kept.size());
  auto h = Kokkos::create_mirror_view(v);
  for (std::size_t i = 0; i < kept.size(); ++i)
    for (int a = 0; a < 3; ++a)
      h(i, a) = kept[i][static_cast<std::size_t>(a)];
  Kokkos::deep_copy(v, h);
  return v;
}

double squared(double f) {
  return f * f;
} // crowds the points towards lo
double narrow(double f) {
  return 0.5 + 0.01 * f;
} // every point in 1 % of the axis

} // namespace

TEST(BalancedBoxes, EveryPointHasExactlyOneOwnerAlsoOnTheCuts) {
  for (int dim : {2, 3}) {
    const Domain d = box_domain(dim);
    CartesianDecomposition equal(MPI_COMM_WORLD, d, {0, 0, 0});
    // Cuts off the equal edges, on points of the test grid below.
    BoxCuts cuts;
    for (int a = 0; a < 3; ++a)
      for (int i = 1; i < equal.dims()[a]; ++i)
        cuts[a].push_back(d.lo[a] +
                          (d.hi[a] - d.lo[a]) * std::pow(static_cast<double>(i) / equal.dims()[a], 2));
    CartesianDecomposition dec(MPI_COMM_WORLD, d, {0, 0, 0}, &cuts);
    EXPECT_TRUE(dec.balanced());
    EXPECT_FALSE(equal.balanced());
    const RankBoxes& b = dec.boxes();
    for (int a = 0; a < dim; ++a) {
      EXPECT_EQ(b.edge(a, 0), d.lo[a]);
      EXPECT_EQ(b.edge(a, b.dims[a]), d.hi[a]);
      for (int i = 1; i < b.dims[a]; ++i) {
        EXPECT_EQ(b.edge(a, i), cuts[a][i - 1]);
        EXPECT_EQ(b.box_index(a, cuts[a][i - 1]), i) << "a point on a cut belongs to the box above it";
        EXPECT_EQ(b.box_index(a, std::nextafter(cuts[a][i - 1], -1e300)), i - 1);
      }
      EXPECT_EQ(b.box_index(a, d.lo[a] - 5), 0);
      EXPECT_EQ(b.box_index(a, d.hi[a] + 5), b.dims[a] - 1);
    }
    int wrong = 0;
    for (int i = 0; i <= 64; ++i)
      for (int j = 0; j <= 64; ++j)
        for (int k = 0; k <= (dim == 3 ? 16 : 0); ++k) {
          const double p[3] = {-10 + 100.0 * squared(i / 64.0), 30.0 * squared(j / 64.0),
                               5 + 20.0 * squared(k / 16.0)};
          int mine = dec.owns(p) ? 1 : 0, owners = 0;
          MPI_Allreduce(&mine, &owners, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
          wrong += owners != 1;
        }
    EXPECT_EQ(wrong, 0) << "dim " << dim;
  }
}

TEST(BalancedBoxes, CutsMatchTheEqualBoxesWhereTheCellsAreUniform) {
  // Cuts at the equal edges give the equal boxes' owner for every point.
  const Domain d = box_domain(3);
  const std::array<int, 3> dims{4, 3, 2};
  MPI_Comm self = MPI_COMM_SELF;
  CartesianDecomposition equal(self, d, {1, 1, 1});
  RankBoxes uniform = equal.boxes(), cut = equal.boxes();
  for (int a = 0; a < 3; ++a)
    uniform.dims[a] = cut.dims[a] = dims[static_cast<std::size_t>(a)];
  cut.uniform = false;
  for (int a = 0; a < 3; ++a)
    for (int i = 0; i <= dims[static_cast<std::size_t>(a)]; ++i)
      cut.cut[a][i] = uniform.edge(a, i);
  std::mt19937_64 gen(3);
  std::uniform_real_distribution<double> u(-0.1, 1.1);
  for (int n = 0; n < 10000; ++n)
    for (int a = 0; a < 3; ++a) {
      const double x = d.lo[a] + (d.hi[a] - d.lo[a]) * u(gen);
      ASSERT_EQ(cut.box_index(a, x), uniform.box_index(a, x)) << "axis " << a << " x " << x;
    }
}

TEST(BalancedBoxes, CutsSplitTheCellsEvenlyTheSameOnAnyNumberOfRanks) {
  const Domain d = box_domain(3);
  const std::array<int, 3> dims{5, 3, 2};
  const int n = 6000;
  const auto all = points(d, n, false, squared);
  const auto mine = points(d, n, true, squared);
  // Every rank with all points and no one to sum with, against the points shared over the ranks.
  const BoxCuts alone = balanced_box_cuts(MPI_COMM_SELF, d, dims, all, all.extent(0), 0.0);
  const BoxCuts shared = balanced_box_cuts(MPI_COMM_WORLD, d, dims, mine, mine.extent(0), 0.0);
  const auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), all);
  for (int a = 0; a < 3; ++a) {
    ASSERT_EQ(alone[a].size(), static_cast<std::size_t>(dims[a] - 1));
    EXPECT_EQ(alone[a], shared[a]) << "axis " << a;
    // Each box holds n / dims[a] points, give or take what one histogram bin (extent / 4096) holds at a cut:
    // x = f^2 puts a fraction 1 / (2 sqrt(q)) / 4096 of the points in a bin where a fraction q lies below,
    // at most 0.06 % at the first cut (q = 1/5), so 1 % of n is the rounding of bins with room to spare.
    for (int i = 0; i < dims[a]; ++i) {
      const double lo = i == 0 ? d.lo[a] : alone[a][i - 1], hi = i + 1 == dims[a] ? d.hi[a] : alone[a][i];
      int count = 0;
      for (std::size_t p = 0; p < h.extent(0); ++p)
        count += h(p, a) >= lo && h(p, a) < hi;
      EXPECT_NEAR(count, n / dims[a], 0.01 * n) << "axis " << a << " box " << i;
    }
  }
}

TEST(BalancedBoxes, BoxesStayAsWideAsAskedAndEmptyOrTooShortAxesStayEqual) {
  const Domain d = box_domain(3);
  const std::array<int, 3> dims{4, 3, 2};
  const auto crowd = points(d, 3000, true, narrow);
  const double width = 6.0;
  const BoxCuts cuts = balanced_box_cuts(MPI_COMM_WORLD, d, dims, crowd, crowd.extent(0), width);
  CartesianDecomposition dec(MPI_COMM_SELF, d, {1, 1, 1});
  for (int a = 0; a < 3; ++a) {
    const double extent = d.hi[a] - d.lo[a];
    std::vector<double> edges{d.lo[a]};
    edges.insert(edges.end(), cuts[a].begin(), cuts[a].end());
    edges.push_back(d.hi[a]);
    for (std::size_t i = 0; i + 1 < edges.size(); ++i)
      EXPECT_GE(edges[i + 1] - edges[i], width) << "axis " << a << " box " << i;
    if (a == 2) {
      // 2 boxes of at least 6 over 20: the crowd at the middle sits on the cut's allowed range.
      EXPECT_NEAR(cuts[a][0], d.lo[a] + 0.5 * extent, 0.01 * extent);
    }
  }
  // Too short for the width: equal boxes. No cells: equal boxes.
  const BoxCuts wide = balanced_box_cuts(MPI_COMM_WORLD, d, dims, crowd, crowd.extent(0), 11.0);
  EXPECT_EQ(wide[2], (std::vector<double>{15.0})) << "2 boxes of 11 do not fit in 20";
  Kokkos::View<double* [3], Kokkos::LayoutRight> none("none", 0);
  const BoxCuts empty = balanced_box_cuts(MPI_COMM_WORLD, d, dims, none, 0, 1.0);
  for (int a = 0; a < 3; ++a)
    for (int i = 1; i < dims[a]; ++i)
      EXPECT_DOUBLE_EQ(empty[a][i - 1], d.lo[a] + (d.hi[a] - d.lo[a]) * i / dims[a]);
}

TEST(BalancedBoxes, OnAVoxelGridTheCutsLieOnTheVoxelFacesNearestTheQuantiles) {
  // The diffusible fields' grid as the histogram (5 um voxels on the 100 x 30 x 20 box): every cut is the
  // voxel face below which the count is nearest k / d of the points (counted here by brute force), the same
  // on any number of ranks. The boxes must be 4 um wide, one voxel (the rule rounds a width up to whole
  // voxels with a margin against rounding, so 5 um would ask for two); those faces are at least a voxel
  // apart here, so the width rule moves none.
  const Domain d = box_domain(3);
  const std::array<int, 3> dims{4, 3, 2}, grid{20, 6, 4};
  const int n = 6000;
  const auto all = points(d, n, false, squared);
  const auto mine = points(d, n, true, squared);
  const BoxCuts alone = balanced_box_cuts(MPI_COMM_SELF, d, dims, all, all.extent(0), 4.0, &grid);
  const BoxCuts shared = balanced_box_cuts(MPI_COMM_WORLD, d, dims, mine, mine.extent(0), 4.0, &grid);
  const auto h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), all);
  for (int a = 0; a < 3; ++a) {
    ASSERT_EQ(alone[a].size(), static_cast<std::size_t>(dims[a] - 1));
    EXPECT_EQ(alone[a], shared[a]) << "axis " << a;
    for (int k = 1; k < dims[a]; ++k) {
      long long best = -1, best_miss = 0;
      for (int face = 0; face <= grid[a]; ++face) {
        const double x = d.lo[a] + 5.0 * face;
        long long below = 0;
        for (std::size_t p = 0; p < h.extent(0); ++p)
          below += h(p, a) < x;
        const long long miss = std::llabs(dims[a] * below - static_cast<long long>(k) * n);
        if (best < 0 || miss < best_miss) best = face, best_miss = miss;
      }
      EXPECT_DOUBLE_EQ(alone[a][k - 1], d.lo[a] + 5.0 * best) << "axis " << a << " cut " << k;
    }
  }
}
