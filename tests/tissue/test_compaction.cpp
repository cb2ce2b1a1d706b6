// Row removal (tissue/compaction.cpp): the device version, which pairs holes and fillers with scans, against
// the rule done on the host (the k-th removed row below the new end takes the k-th kept row above it), on
// sizes where a threaded or GPU scan splits the rows.
#include "tessera/tissue/compaction.hpp"

#include <gtest/gtest.h>

#include <random>
#include <vector>

using namespace tessera;

namespace {

// Removes a random subset of `total` rows (each with probability `p`) and checks every field's rows.
void check_removal(std::size_t total, double p, unsigned seed) {
  Cells<> cells(3, 2, total);
  cells.n_owned = total;
  auto id = Kokkos::create_mirror_view(cells.id);
  auto genes = Kokkos::create_mirror_view(cells.genes);
  for (std::size_t i = 0; i < total; ++i) {
    id(i) = 1000 + i;
    genes(i, 0) = 0.5 * static_cast<double>(i);
    genes(i, 1) = -static_cast<double>(i);
  }
  Kokkos::deep_copy(cells.id, id);
  Kokkos::deep_copy(cells.genes, genes);

  std::mt19937 draw(seed);
  std::bernoulli_distribution removed_draw(p);
  std::vector<int> removed;
  std::vector<char> gone(total, 0);
  for (std::size_t i = 0; i < total; ++i)
    if (removed_draw(draw)) {
      removed.push_back(static_cast<int>(i));
      gone[i] = 1;
    }
  const std::size_t kept = total - removed.size();
  // The rule on the host: which original row ends in each of the first `kept` rows.
  std::vector<std::size_t> expected(kept);
  std::size_t filler = kept;
  for (std::size_t i = 0; i < kept; ++i) {
    if (!gone[i]) {
      expected[i] = i;
      continue;
    }
    while (gone[filler])
      ++filler;
    expected[i] = filler++;
  }

  Kokkos::View<int*> flags("flags", total);
  auto flags_h = Kokkos::create_mirror_view(flags);
  for (std::size_t i = 0; i < total; ++i)
    flags_h(i) = gone[i];
  Kokkos::deep_copy(flags, flags_h);
  ASSERT_EQ(remove_rows(cells, total, flags, removed.size()), kept);
  Kokkos::deep_copy(id, cells.id);
  Kokkos::deep_copy(genes, cells.genes);
  std::size_t wrong = 0;
  for (std::size_t i = 0; i < kept; ++i)
    if (id(i) != 1000 + expected[i] || genes(i, 0) != 0.5 * static_cast<double>(expected[i]) ||
        genes(i, 1) != -static_cast<double>(expected[i]))
      ++wrong;
  EXPECT_EQ(wrong, 0u) << "rows that do not hold the expected cell, of " << kept;
}

} // namespace

TEST(Compaction, DeviceRemovalFollowsTheHostRule) {
  check_removal(40000, 0.1, 1);
  check_removal(40000, 0.9, 2);
  check_removal(7, 0.5, 3);
}

TEST(Compaction, NothingOrEverythingRemoved) {
  check_removal(1000, 0.0, 4);
  check_removal(1000, 1.0, 5);
  check_removal(0, 0.5, 6);
}
