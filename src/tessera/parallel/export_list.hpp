// Which rows go to which neighbour rank, decided by a kernel on the rows' own memory (migration destinations,
// halo rows): count, exclusive scan, fill, in an order that depends on nothing but the rows.
#pragma once

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <vector>

namespace tessera {

// The exported rows grouped by neighbour slot (an index into the plan's sorted neighbour list).
struct ExportList {
  std::vector<int> send_counts; // per slot, on the host: the MPI message sizes
  Kokkos::View<int*> rows;      // grouped by slot; within a slot by channel, then by row
  Kokkos::View<int*> channel;   // the channel that exported each entry of `rows`
};

namespace impl {

// The members of one channel (one pass over the rows per channel, no index arithmetic per element: a single
// scan over rows x channels divided each index by the row count, which cost the halo of a 10^6-cell rank
// 90 ns per cell and step).
template <class Member>
struct CountChannel {
  Member member;
  std::size_t c;
  KOKKOS_INLINE_FUNCTION void operator()(const std::size_t i, int& count) const {
    if (member(i, c)) ++count;
  }
};

// Writes the members of channel c, ascending, from position `base` on: each at base + its rank among them.
template <class Member>
struct FillChannel {
  using value_type = int;
  Member member;
  std::size_t c;
  int base;
  Kokkos::View<int*> rows;
  Kokkos::View<int*> channel;

  KOKKOS_INLINE_FUNCTION void operator()(const std::size_t i, int& next, const bool final) const {
    const bool in = member(i, c);
    if (final && in) {
      rows(base + next) = static_cast<int>(i);
      channel(base + next) = static_cast<int>(c);
    }
    if (in) ++next;
  }
};

} // namespace impl

// g++ 12 at -O3, compiling nvcc's host code of this file's callers, warns -Wfree-nonheap-object on the
// destructor of one of make_export_list's std::vectors (which one moves as the code changes): the vectors
// are never offset, so it is a false positive of the middle end; g++'s own build does not warn.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wfree-nonheap-object"

// Not collective. Row i (i < n_rows) is exported through channel c (c < channel_slot.size()) when
// member(i, c), a device-callable `bool operator()(std::size_t row, std::size_t channel) const`; channel c
// sends to slot channel_slot[c] < n_slots, and several channels may share a slot. The order is
// deterministic (no atomics): by slot, within a slot by channel, within a channel by ascending row. Only
// the per-channel counts cross to the host.
template <class Member>
ExportList make_export_list(std::size_t n_rows, const std::vector<int>& channel_slot, std::size_t n_slots,
                            const Member& member) {
  ExportList list;
  list.send_counts.assign(n_slots, 0);
  const std::size_t n_channels = channel_slot.size();
  const std::size_t n_total = n_rows * n_channels;
  if (n_total == 0) {
    list.rows = Kokkos::View<int*>("tessera::export_list::rows", 0);
    list.channel = Kokkos::View<int*>("tessera::export_list::channel", 0);
    return list;
  }
  // Each channel's member count (the only numbers that cross to the host), then its first position in the
  // grouped list: slots in order, channels in order within a slot.
  std::vector<int> count(n_channels, 0);
  for (std::size_t c = 0; c < n_channels; ++c)
    Kokkos::parallel_reduce("tessera::export_list::count", Kokkos::RangePolicy<>(0, n_rows),
                            impl::CountChannel<Member>{member, c}, count[c]);
  for (std::size_t c = 0; c < n_channels; ++c)
    list.send_counts[static_cast<std::size_t>(channel_slot[c])] += count[c];
  std::vector<int> base(n_channels, 0);
  std::vector<int> slot_next(n_slots, 0);
  for (std::size_t s = 1; s < n_slots; ++s)
    slot_next[s] = slot_next[s - 1] + list.send_counts[s - 1];
  for (std::size_t c = 0; c < n_channels; ++c) {
    const auto s = static_cast<std::size_t>(channel_slot[c]);
    base[c] = slot_next[s];
    slot_next[s] += count[c];
  }

  std::size_t n_export = 0;
  for (std::size_t c = 0; c < n_channels; ++c)
    n_export += static_cast<std::size_t>(count[c]);
  list.rows = Kokkos::View<int*>("tessera::export_list::rows", n_export);
  list.channel = Kokkos::View<int*>("tessera::export_list::channel", n_export);
  for (std::size_t c = 0; c < n_channels; ++c)
    if (count[c] > 0)
      Kokkos::parallel_scan("tessera::export_list::fill", Kokkos::RangePolicy<>(0, n_rows),
                            impl::FillChannel<Member>{member, c, base[c], list.rows, list.channel});
  Kokkos::fence();
  return list;
}
#pragma GCC diagnostic pop

} // namespace tessera
