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

// One exclusive scan over k = channel * n_rows + row, channel-major: the order of the result before
// grouping. The first pass (fill == false) records where each channel starts; the second writes each
// member to base(channel) + its rank within the channel.
template <class Member>
struct ScanChannels {
  using value_type = std::size_t;
  Member member;
  std::size_t n_rows;
  std::size_t n_total;
  Kokkos::View<int*> channel_start; // n_channels + 1
  Kokkos::View<const int*> base;    // n_channels (second pass)
  Kokkos::View<int*> rows;
  Kokkos::View<int*> channel;
  bool fill;

  KOKKOS_INLINE_FUNCTION void operator()(const std::size_t k, value_type& next, const bool final) const {
    const std::size_t c = k / n_rows;
    const std::size_t i = k - c * n_rows;
    const bool in = member(i, c);
    if (final) {
      if (!fill && i == 0) channel_start(c) = static_cast<int>(next);
      if (!fill && k + 1 == n_total) channel_start(c + 1) = static_cast<int>(next + (in ? 1 : 0));
      if (fill && in) {
        const std::size_t at = static_cast<std::size_t>(base(c)) + next - channel_start(c);
        rows(at) = static_cast<int>(i);
        channel(at) = static_cast<int>(c);
      }
    }
    if (in) ++next;
  }
};

} // namespace impl

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
  Kokkos::View<int*> channel_start("tessera::export_list::channel_start", n_channels + 1);
  impl::ScanChannels<Member> scan{member, n_rows, n_total, channel_start, {}, {}, {}, false};
  Kokkos::parallel_scan("tessera::export_list::count", Kokkos::RangePolicy<>(0, n_total), scan);
  auto start = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), channel_start);

  // Each channel's first position in the grouped list: slots in order, channels in order within a slot.
  std::vector<int> base(n_channels, 0);
  for (std::size_t c = 0; c < n_channels; ++c)
    list.send_counts[static_cast<std::size_t>(channel_slot[c])] += start(c + 1) - start(c);
  std::vector<int> slot_next(n_slots, 0);
  for (std::size_t s = 1; s < n_slots; ++s)
    slot_next[s] = slot_next[s - 1] + list.send_counts[s - 1];
  for (std::size_t c = 0; c < n_channels; ++c) {
    const auto s = static_cast<std::size_t>(channel_slot[c]);
    base[c] = slot_next[s];
    slot_next[s] += start(c + 1) - start(c);
  }
  Kokkos::View<int*> base_d("tessera::export_list::base", n_channels);
  auto base_h = Kokkos::create_mirror_view(base_d);
  for (std::size_t c = 0; c < n_channels; ++c)
    base_h(c) = base[c];
  Kokkos::deep_copy(base_d, base_h);

  const auto n_export = static_cast<std::size_t>(start(n_channels));
  list.rows = Kokkos::View<int*>("tessera::export_list::rows", n_export);
  list.channel = Kokkos::View<int*>("tessera::export_list::channel", n_export);
  scan.base = base_d;
  scan.rows = list.rows;
  scan.channel = list.channel;
  scan.fill = true;
  Kokkos::parallel_scan("tessera::export_list::fill", Kokkos::RangePolicy<>(0, n_total), scan);
  Kokkos::fence();
  return list;
}

} // namespace tessera
