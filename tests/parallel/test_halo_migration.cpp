// Halo and migration (SPEC §4.1–4.2) under random motion for hundreds of steps on 1–4 ranks: no cell is
// lost or duplicated, every owned cell finds exactly the neighbours a brute-force search over all cells
// (minimum image on periodic axes) finds, and scatter-add is the adjoint of gather. Also with steps that
// carry cells across several boxes, and on balanced boxes (parallel.balance: cells).
#include "tessera/core/rng.hpp"
#include "tessera/parallel/halo.hpp"
#include "tessera/parallel/load_balance.hpp"
#include "tessera/tissue/migration.hpp"
#include "tessera/tissue/neighbour_list.hpp"
#include "tessera/tissue/walls.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

using namespace tessera;

namespace {

struct Case {
  int dim;
  bool periodic;
  double sigma = 2.5;    // um per step and axis; 40 moves most cells across several boxes of 4 ranks
  bool balanced = false; // boxes cut at the initial cells' quantiles (which are uniform: nearly equal boxes)
};

Domain make_domain(const Case& c) {
  Domain d;
  d.dim = c.dim;
  d.lo = {0, -20, 5};
  d.hi = {120, 70, c.dim == 3 ? 75.0 : 0.0};
  for (int a = 0; a < 3; ++a)
    d.periodic[a] = c.periodic;
  return d;
}

// Cells with ids 0..n-1 placed by counter-based draws; each rank keeps its own.
Cells<> make_cells(const CartesianDecomposition& dec, int n) {
  const CounterRng rng{11};
  std::vector<std::uint64_t> ids;
  std::vector<double> pos;
  for (int i = 0; i < n; ++i) {
    double u[4];
    rng.uniform4(static_cast<std::uint64_t>(i), 0, RandomPurpose::init_position, 0, u);
    double p[3] = {0, 0, 0};
    for (int a = 0; a < dec.domain().dim; ++a)
      p[a] = dec.domain().lo[a] + u[a] * dec.domain().extent(a);
    if (!dec.owns(p)) continue;
    ids.push_back(static_cast<std::uint64_t>(i));
    pos.insert(pos.end(), p, p + 3);
  }
  Cells<> cells(dec.domain().dim, 2, ids.size());
  cells.n_owned = ids.size();
  auto id_h = Kokkos::create_mirror_view(cells.id);
  auto pos_h = Kokkos::create_mirror_view(cells.position);
  auto genes_h = Kokkos::create_mirror_view(cells.genes);
  for (std::size_t k = 0; k < ids.size(); ++k) {
    id_h(k) = ids[k];
    for (int a = 0; a < 3; ++a)
      pos_h(k, a) = pos[3 * k + a];
    genes_h(k, 0) = static_cast<double>(ids[k]); // fields travel with their cell
    genes_h(k, 1) = 0.5 * static_cast<double>(ids[k]);
  }
  Kokkos::deep_copy(cells.id, id_h);
  Kokkos::deep_copy(cells.position, pos_h);
  Kokkos::deep_copy(cells.genes, genes_h);
  Kokkos::deep_copy(cells.radius, 5.0);
  return cells;
}

void random_move(Cells<>& cells, const Domain& domain, long long step, double sigma) {
  const CounterRng rng{3};
  const Walls walls(domain);
  const auto pos = cells.position;
  const auto id = cells.id;
  Kokkos::parallel_for(
      Kokkos::RangePolicy<>(0, cells.n_owned), KOKKOS_LAMBDA(const std::size_t i) {
        double xi[4];
        rng.normal4(id(i), static_cast<std::uint64_t>(step), RandomPurpose::motility, 0, xi);
        double p[3] = {pos(i, 0), pos(i, 1), pos(i, 2)};
        for (int a = 0; a < walls.dim; ++a)
          p[a] += sigma * xi[a];
        walls.apply(p);
        for (int a = 0; a < 3; ++a)
          pos(i, a) = p[a];
      });
}

struct Everyone {
  std::vector<std::uint64_t> id;
  std::vector<double> pos; // 3 per cell
  std::vector<double> gene0;
};

Everyone allgather(MPI_Comm comm, const Cells<>& cells) {
  const int n = static_cast<int>(cells.n_owned);
  const int ranks = mpi::size(comm);
  std::vector<int> counts(ranks), displs(ranks, 0);
  MPI_Allgather(&n, 1, MPI_INT, counts.data(), 1, MPI_INT, comm);
  std::partial_sum(counts.begin(), counts.end() - 1, displs.begin() + 1);
  const int total = std::accumulate(counts.begin(), counts.end(), 0);
  auto id_h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), cells.id);
  auto pos_h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), cells.position);
  auto genes_h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), cells.genes);
  std::vector<double> my_pos, my_gene;
  for (int i = 0; i < n; ++i) {
    for (int a = 0; a < 3; ++a)
      my_pos.push_back(pos_h(i, a));
    my_gene.push_back(genes_h(i, 0));
  }
  Everyone e;
  e.id.resize(total);
  e.pos.resize(3 * total);
  e.gene0.resize(total);
  MPI_Allgatherv(id_h.data(), n, MPI_UINT64_T, e.id.data(), counts.data(), displs.data(), MPI_UINT64_T, comm);
  MPI_Allgatherv(my_gene.data(), n, MPI_DOUBLE, e.gene0.data(), counts.data(), displs.data(), MPI_DOUBLE,
                 comm);
  for (auto& c : counts)
    c *= 3;
  for (auto& d : displs)
    d *= 3;
  MPI_Allgatherv(my_pos.data(), 3 * n, MPI_DOUBLE, e.pos.data(), counts.data(), displs.data(), MPI_DOUBLE,
                 comm);
  return e;
}

void run_case(const Case& c) {
  const Domain domain = make_domain(c);
  const int n_cells = c.dim == 3 ? 900 : 600;
  const double range = 12.0;
  CartesianDecomposition equal(MPI_COMM_WORLD, domain, {0, 0, 0});
  Cells<> cells = make_cells(equal, n_cells);
  BoxCuts cuts;
  if (c.balanced)
    cuts = balanced_box_cuts(MPI_COMM_WORLD, domain, equal.dims(), cells.position, cells.n_owned, range);
  CartesianDecomposition dec(MPI_COMM_WORLD, domain, {0, 0, 0}, c.balanced ? &cuts : nullptr);
  if (c.balanced) cells = make_cells(dec, n_cells);
  const std::vector<int> nbs = neighbour_ranks(dec);
  NeighbourSearch search;
  for (long long step = 1; step <= 200; ++step) {
    random_move(cells, domain, step, c.sigma);
    migrate(dec, nbs, cells);
    const HaloPlan halo = refresh_ghosts(dec, range, cells);
    const NeighbourList nl = search.build(cells, range);
    if (step % 25 != 0) continue;

    // Conservation: the multiset of ids is exactly 0..n-1, and each cell's field still matches its id.
    const Everyone all = allgather(MPI_COMM_WORLD, cells);
    ASSERT_EQ(static_cast<int>(all.id.size()), n_cells) << "step " << step;
    std::vector<std::uint64_t> sorted = all.id;
    std::sort(sorted.begin(), sorted.end());
    for (int i = 0; i < n_cells; ++i)
      ASSERT_EQ(sorted[i], static_cast<std::uint64_t>(i)) << "step " << step;
    for (std::size_t k = 0; k < all.id.size(); ++k)
      ASSERT_EQ(all.gene0[k], static_cast<double>(all.id[k]));
    // Every owned cell is inside this rank's box.
    auto pos_h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), cells.position);
    for (std::size_t i = 0; i < cells.n_owned; ++i) {
      const double p[3] = {pos_h(i, 0), pos_h(i, 1), pos_h(i, 2)};
      ASSERT_TRUE(dec.owns(p));
    }
    // Neighbour counts against brute force with the minimum image.
    auto off_h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), nl.offsets);
    auto id_h = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), cells.id);
    int wrong = 0;
    for (std::size_t i = 0; i < cells.n_owned; ++i) {
      int brute = 0;
      for (std::size_t k = 0; k < all.id.size(); ++k) {
        if (all.id[k] == id_h(i)) continue;
        double d2 = 0;
        for (int a = 0; a < c.dim; ++a) {
          double d = pos_h(i, a) - all.pos[3 * k + a];
          if (c.periodic) d -= domain.extent(a) * std::round(d / domain.extent(a));
          d2 += d * d;
        }
        brute += d2 < range * range;
      }
      wrong += brute != off_h(i + 1) - off_h(i);
    }
    EXPECT_EQ(wrong, 0) << "step " << step << ": owned cells whose neighbour count differs from brute force";

    // Adjoint identity: <gather(x), y> over all rows == <x, scatter_add(y)> over owned rows.
    const std::size_t rows = cells.n_owned + cells.n_ghost;
    Kokkos::View<double**, Kokkos::LayoutRight> x("x", rows, 1), y("y", rows, 1), y2("y2", rows, 1);
    auto xh = Kokkos::create_mirror_view(x);
    auto yh = Kokkos::create_mirror_view(y);
    for (std::size_t r = 0; r < rows; ++r) {
      xh(r, 0) = r < cells.n_owned ? std::sin(1.0 + static_cast<double>(id_h(r))) : 0.0;
      yh(r, 0) = std::cos(0.3 * static_cast<double>(r) + step);
    }
    Kokkos::deep_copy(x, xh);
    Kokkos::deep_copy(y, yh);
    Kokkos::deep_copy(y2, y);
    halo.gather<double>(x);
    halo.scatter_add<double>(y2);
    auto gx = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
    auto sy = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), y2);
    double lhs = 0, rhs = 0;
    for (std::size_t r = 0; r < rows; ++r)
      lhs += gx(r, 0) * (r < cells.n_owned ? 0.0 : yh(r, 0));
    for (std::size_t r = 0; r < cells.n_owned; ++r)
      rhs += xh(r, 0) * (sy(r, 0) - yh(r, 0));
    MPI_Allreduce(MPI_IN_PLACE, &lhs, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, &rhs, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    EXPECT_NEAR(lhs, rhs, 1e-10 * (1 + std::fabs(lhs))) << "step " << step;
  }
}

} // namespace

TEST(HaloMigration, Reflecting2D) {
  run_case({2, false});
}
TEST(HaloMigration, Periodic2D) {
  run_case({2, true});
}
TEST(HaloMigration, Reflecting3D) {
  run_case({3, false});
}
TEST(HaloMigration, Periodic3D) {
  run_case({3, true});
}
TEST(HaloMigration, CellsCrossingSeveralBoxesInOneStep) {
  run_case({2, true, 40.0});
  run_case({3, false, 40.0});
}
TEST(HaloMigration, BalancedBoxes) {
  run_case({2, true, 2.5, true});
  run_case({3, false, 40.0, true});
}
