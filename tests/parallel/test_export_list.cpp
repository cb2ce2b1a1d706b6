// Export lists built by kernels (parallel/export_list.hpp) against the same grouping done on the host with a
// stable sort: every row in, none twice, and the exact order (slot, then channel, then row), on lists long
// enough that a threaded or GPU scan splits them.
#include "tessera/parallel/export_list.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <tuple>
#include <vector>

using namespace tessera;

namespace {

// Membership from a table: member(i, c) = table(i, c) != 0.
struct FromTable {
  Kokkos::View<const int**> table;
  KOKKOS_INLINE_FUNCTION bool operator()(const std::size_t i, const std::size_t c) const {
    return table(i, c) != 0;
  }
};

void check_against_host(std::size_t n_rows, const std::vector<int>& channel_slot, std::size_t n_slots,
                        double density, unsigned seed) {
  const std::size_t n_channels = channel_slot.size();
  Kokkos::View<int**> table("table", n_rows, n_channels);
  auto table_h = Kokkos::create_mirror_view(table);
  std::mt19937 draw(seed);
  std::bernoulli_distribution in(density);
  // The reference: (slot, channel, row) for every member, stably sorted.
  std::vector<std::tuple<int, int, int>> expected;
  std::vector<int> expected_counts(n_slots, 0);
  for (std::size_t i = 0; i < n_rows; ++i)
    for (std::size_t c = 0; c < n_channels; ++c) {
      table_h(i, c) = in(draw) ? 1 : 0;
      if (!table_h(i, c)) continue;
      expected.emplace_back(channel_slot[c], static_cast<int>(c), static_cast<int>(i));
      ++expected_counts[static_cast<std::size_t>(channel_slot[c])];
    }
  std::sort(expected.begin(), expected.end());
  Kokkos::deep_copy(table, table_h);

  const ExportList list = make_export_list(n_rows, channel_slot, n_slots, FromTable{table});
  EXPECT_EQ(list.send_counts, expected_counts);
  ASSERT_EQ(list.rows.extent(0), expected.size());
  ASSERT_EQ(list.channel.extent(0), expected.size());
  auto rows = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), list.rows);
  auto channel = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), list.channel);
  std::size_t wrong = 0;
  for (std::size_t k = 0; k < expected.size(); ++k)
    if (rows(k) != std::get<2>(expected[k]) || channel(k) != std::get<1>(expected[k])) ++wrong;
  EXPECT_EQ(wrong, 0u) << "entries out of place among " << expected.size();
}

} // namespace

TEST(ExportList, OneChannelPerSlotKeepsRowOrder) {
  // Migration's case: each row leaves through at most one channel, channel == slot.
  check_against_host(50000, {0, 1, 2, 3, 4, 5, 6, 7}, 8, 0.05, 1);
}

TEST(ExportList, ChannelsSharingASlotStayInChannelOrder) {
  // The halo's case: 26 boxes around a rank, several on the same rank (periodic axes with one or two boxes),
  // channels not in slot order, rows in several channels at once.
  std::vector<int> slot(26);
  for (std::size_t c = 0; c < slot.size(); ++c)
    slot[c] = static_cast<int>((7 * c + 3) % 5);
  check_against_host(20000, slot, 5, 0.2, 2);
  check_against_host(3, slot, 5, 0.5, 3);
}

TEST(ExportList, EmptyInputsGiveEmptyLists) {
  check_against_host(0, {0, 1}, 2, 0.5, 4);
  check_against_host(1000, {}, 3, 0.5, 5);
  check_against_host(1000, {1, 0}, 2, 0.0, 6);
  check_against_host(1000, {1, 0}, 2, 1.0, 7);
}
