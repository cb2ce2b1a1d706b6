// Division and death (tissue/lifecycle.cpp) on many cells spread over every rank, rows not in id order,
// against the rule done independently on the host: the candidates' ids gathered from all ranks and sorted,
// the first `max_cells - alive` admitted, daughter k of the sorted list taking id next_id + k, daughters
// appended after the owned rows in their parents' row order, then each dead row below the new end refilled
// from the first kept row above it. Checked row by row on every rank: ids, the daughters' copied genes, the
// restarted clocks and the event counts.
#include "tessera/parallel/mpi.hpp"
#include "tessera/tissue/lifecycle.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <vector>

using namespace tessera;

namespace {

constexpr std::size_t n_global = 3000;
constexpr std::uint64_t first_new_id = 50000;
constexpr double division_time = 10.0, death_threshold = 0.5;

// Global cell g: a scrambled id (7919 is invertible modulo the prime 10007, so ids are unique), and its fate
// from two other residues: 1 in 7 dies (death gene below the threshold), 1 in 3 of the rest is past its
// cycle length.
std::uint64_t id_of(std::size_t g) {
  return (g * 7919) % 10007 + 5;
}
bool dies(std::size_t g) {
  return g % 7 == 3;
}
bool candidate(std::size_t g) {
  return !dies(g) && g % 3 == 1;
}

struct Row {
  std::uint64_t id;
  double tag; // gene 1: the id of the cell the row descends from
  double cycle;
};

void check_lifecycle(long long cap_room) {
  const MPI_Comm comm = MPI_COMM_WORLD;
  const int rank = mpi::rank(comm), ranks = mpi::size(comm);
  // This rank's cells: every ranks-th global cell, in reverse so that rows run against the ids' order too.
  std::vector<std::size_t> mine;
  for (std::size_t g = n_global; g-- > 0;)
    if (static_cast<int>(g % static_cast<std::size_t>(ranks)) == rank) mine.push_back(g);
  const std::size_t n = mine.size();

  Domain domain;
  domain.dim = 2;
  domain.hi = {1000.0, 1000.0, 0.0};
  Cells<> cells(2, 2, n);
  cells.n_owned = n;
  {
    auto id = Kokkos::create_mirror_view(cells.id);
    auto type = Kokkos::create_mirror_view(cells.type);
    auto pos = Kokkos::create_mirror_view(cells.position);
    auto radius = Kokkos::create_mirror_view(cells.radius);
    auto genes = Kokkos::create_mirror_view(cells.genes);
    auto cycle = Kokkos::create_mirror_view(cells.cycle);
    auto below = Kokkos::create_mirror_view(cells.below_time);
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t g = mine[i];
      id(i) = id_of(g);
      type(i) = 0;
      pos(i, 0) = 100.0 + static_cast<double>(g % 50) * 15.0;
      pos(i, 1) = 100.0 + static_cast<double>(g / 50) * 12.0;
      pos(i, 2) = 0.0;
      radius(i) = 5.0;
      genes(i, 0) = dies(g) ? 0.1 : 0.9;
      genes(i, 1) = static_cast<double>(id_of(g));
      cycle(i) = candidate(g) ? division_time + 1.0 : 1.0;
      below(i) = 0.0;
    }
    Kokkos::deep_copy(cells.id, id);
    Kokkos::deep_copy(cells.type, type);
    Kokkos::deep_copy(cells.position, pos);
    Kokkos::deep_copy(cells.radius, radius);
    Kokkos::deep_copy(cells.genes, genes);
    Kokkos::deep_copy(cells.cycle, cycle);
    Kokkos::deep_copy(cells.below_time, below);
  }

  // The expected result, from the global cell numbers alone.
  std::vector<std::uint64_t> all_candidates;
  long long alive = 0;
  for (std::size_t g = 0; g < n_global; ++g) {
    if (candidate(g)) all_candidates.push_back(id_of(g));
    alive += dies(g) ? 0 : 1;
  }
  std::sort(all_candidates.begin(), all_candidates.end());
  const long long max_cells = alive + cap_room;
  const std::size_t admitted =
      std::min<std::size_t>(all_candidates.size(), static_cast<std::size_t>(cap_room));
  std::vector<Row> rows;
  std::vector<char> gone;
  for (std::size_t g : mine) {
    rows.push_back({id_of(g), static_cast<double>(id_of(g)), candidate(g) ? division_time + 1.0 : 1.0});
    gone.push_back(dies(g) ? 1 : 0);
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (!candidate(mine[i])) continue;
    const auto k = static_cast<std::size_t>(
        std::lower_bound(all_candidates.begin(), all_candidates.end(), id_of(mine[i])) -
        all_candidates.begin());
    if (k >= admitted) continue;
    rows[i].cycle = 0.0;
    rows.push_back({first_new_id + k, static_cast<double>(id_of(mine[i])), 0.0});
    gone.push_back(0);
  }
  const std::size_t kept = rows.size() - static_cast<std::size_t>(std::count(gone.begin(), gone.end(), 1));
  std::size_t filler = kept;
  for (std::size_t i = 0; i < kept; ++i) {
    if (!gone[i]) continue;
    while (gone[filler])
      ++filler;
    rows[i] = rows[filler++];
  }
  rows.resize(kept);

  LifecycleParams params;
  params.division_time = {division_time};
  params.death_rate = {0.0};
  params.death_gene = 0;
  params.death_threshold = death_threshold;
  Lifecycle lifecycle(params, domain, 1234, max_cells, first_new_id);
  const LifecycleEvents events = lifecycle.apply(comm, cells, 1.0, 7);

  EXPECT_EQ(events.divisions, static_cast<long long>(admitted));
  EXPECT_EQ(events.deaths, static_cast<long long>(n_global) - alive);
  EXPECT_EQ(events.capped, admitted < all_candidates.size());
  EXPECT_EQ(lifecycle.next_id(), first_new_id + admitted);
  ASSERT_EQ(cells.n_owned, rows.size()) << "rank " << rank;
  auto id = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), cells.id);
  auto genes = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), cells.genes);
  auto cycle = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), cells.cycle);
  std::size_t wrong = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const bool same = id(i) == rows[i].id && genes(i, 1) == rows[i].tag && cycle(i) == rows[i].cycle;
    if (!same && wrong++ < 5)
      ADD_FAILURE() << "rank " << rank << " row " << i << ": id " << id(i) << " (expected " << rows[i].id
                    << "), parent tag " << genes(i, 1) << " (" << rows[i].tag << "), cycle " << cycle(i)
                    << " (" << rows[i].cycle << ")";
  }
  EXPECT_EQ(wrong, 0u) << "rank " << rank;
}

} // namespace

// Every candidate divides (room for all of them).
TEST(Lifecycle, DaughterIdsFollowTheGlobalIdOrderOfTheirParents) {
  check_lifecycle(1000000);
}

// max_cells admits the candidates with the smallest ids only, wherever they live.
TEST(Lifecycle, MaxCellsAdmitsTheSmallestIdsOnEveryRank) {
  check_lifecycle(337);
}

// No room: nothing divides, the dead are still removed.
TEST(Lifecycle, NoRoomOnlyRemovesTheDead) {
  check_lifecycle(0);
}
