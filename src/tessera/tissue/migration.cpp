#include "tessera/tissue/migration.hpp"

#include "tessera/core/kokkos_compat.hpp"
#include "tessera/parallel/exchange_plan.hpp"
#include "tessera/parallel/export_list.hpp"
#include "tessera/tissue/compaction.hpp"

#include <algorithm>
#include <numeric>

namespace tessera {

namespace {

// The neighbour slot each owned cell leaves for (-1: it stays; -2: its new box is not adjacent, counted in
// n_far), from the offset of its new box: destination_slot[(ox + 1) + 3 (oy + 1) + 9 (oz + 1)].
struct Destination {
  RankBoxes boxes;
  bool periodic[3];
  int destination_slot[27];
  Kokkos::View<const double* [3], Kokkos::LayoutRight> pos;
  Kokkos::View<int*> slot;
  Kokkos::View<int*> leaves;

  KOKKOS_INLINE_FUNCTION void operator()(const std::size_t i, int& n_far) const {
    int offset[3] = {0, 0, 0};
    bool stays = true;
    bool adjacent = true;
    for (int a = 0; a < boxes.dim; ++a) {
      int d = boxes.box_index(a, pos(i, a)) - boxes.coords[a];
      if (d != 0) stays = false;
      // Across a periodic boundary the new box is next to this one the other way round.
      if (periodic[a] && d > 1) d -= boxes.dims[a];
      if (periodic[a] && d < -1) d += boxes.dims[a];
      if (d < -1 || d > 1) adjacent = false;
      offset[a] = d;
    }
    int s = -1;
    if (!stays)
      s = adjacent ? destination_slot[(offset[0] + 1) + 3 * (offset[1] + 1) + 9 * (offset[2] + 1)] : -2;
    if (!stays && s < 0) {
      s = -2;
      ++n_far;
    }
    slot(i) = s;
    leaves(i) = stays ? 0 : 1;
  }
};

struct LeavesFor {
  Kokkos::View<const int*> slot;
  KOKKOS_INLINE_FUNCTION bool operator()(const std::size_t i, const std::size_t c) const {
    return slot(i) == static_cast<int>(c);
  }
};

} // namespace

std::size_t migrate(const CartesianDecomposition& dec, const std::vector<int>& neighbours, Cells<>& cells) {
  ScopedRegion region("tessera::parallel::migrate");
  cells.n_ghost = 0;
  const std::size_t n = cells.n_owned;
  Destination destination{dec.boxes(), {}, {}, cells.position, {}, {}};
  for (int a = 0; a < 3; ++a)
    destination.periodic[a] = dec.domain().periodic[a];
  for (int k = 0; k < 27; ++k)
    destination.destination_slot[k] = -1;
  for (const NeighbourBox& box : neighbour_boxes(dec)) {
    const auto it = std::lower_bound(neighbours.begin(), neighbours.end(), box.rank);
    if (it == neighbours.end() || *it != box.rank) continue; // not exchanged with: a leaver there is an error
    destination.destination_slot[(box.offset[0] + 1) + 3 * (box.offset[1] + 1) + 9 * (box.offset[2] + 1)] =
        static_cast<int>(it - neighbours.begin());
  }
  destination.slot = Kokkos::View<int*>("tessera::migrate::slot", n);
  destination.leaves = Kokkos::View<int*>("tessera::migrate::leaves", n);
  int n_far = 0;
  Kokkos::parallel_reduce("tessera::migrate::destination", Kokkos::RangePolicy<>(0, n), destination, n_far);
  // A cell that crossed more than one box in a step (a crowded start pushing cells apart, boxes cut thin by
  // parallel.balance) has no neighbour rank to go to: in such a step every rank exchanges with every rank,
  // each leaver sent straight to the owner of its new box. Agreed by all, so every rank takes the same path.
  mpi::check(MPI_Allreduce(MPI_IN_PLACE, &n_far, 1, MPI_INT, MPI_MAX, dec.comm()), "MPI_Allreduce");
  std::vector<int> all_ranks;
  if (n_far > 0) {
    all_ranks.resize(static_cast<std::size_t>(dec.size()));
    std::iota(all_ranks.begin(), all_ranks.end(), 0);
    const auto pos = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), cells.position);
    const auto leaves = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), destination.leaves);
    const auto slot = Kokkos::create_mirror_view(destination.slot);
    for (std::size_t i = 0; i < n; ++i) {
      slot(i) = -1;
      if (!leaves(i)) continue;
      int coords[3] = {0, 0, 0};
      for (int a = 0; a < dec.domain().dim; ++a)
        coords[a] = dec.box_index(a, pos(i, a));
      mpi::check(MPI_Cart_rank(dec.comm(), coords, &slot(i)), "MPI_Cart_rank");
    }
    Kokkos::deep_copy(destination.slot, slot);
  }
  const std::vector<int>& targets = n_far > 0 ? all_ranks : neighbours;

  std::vector<int> channel_slot(targets.size());
  for (std::size_t s = 0; s < targets.size(); ++s)
    channel_slot[s] = static_cast<int>(s);
  const ExportList leaving = make_export_list(n, channel_slot, targets.size(), LeavesFor{destination.slot});
  const ExchangePlan plan(dec.comm(), targets, leaving.send_counts, leaving.rows);

  // Receive every field of the arrivals before the leavers' rows are overwritten.
  std::vector<Kokkos::View<double**, Kokkos::LayoutRight>> arrived_double;
  Kokkos::View<std::uint64_t**, Kokkos::LayoutRight> arrived_id("tessera::migrate::id", plan.n_recv(), 1);
  Kokkos::View<int**, Kokkos::LayoutRight> arrived_type("tessera::migrate::type", plan.n_recv(), 1);
  cells.for_each_field([&](auto field) {
    using T = typename decltype(field)::non_const_value_type;
    if constexpr (std::is_same_v<T, double>) {
      arrived_double.emplace_back("tessera::migrate::field", plan.n_recv(), field.extent(1));
      plan.forward<double>(field, arrived_double.back(), 0);
    } else if constexpr (std::is_same_v<T, std::uint64_t>) {
      plan.forward<std::uint64_t>(field, arrived_id, 0);
    } else {
      plan.forward<int>(field, arrived_type, 0);
    }
  });

  // Refill the leavers' rows from the end.
  const std::size_t kept = remove_rows(cells, n, destination.leaves, plan.n_send());

  // Append the arrivals.
  cells.n_owned = kept;
  cells.reserve(kept + plan.n_recv());
  const auto range = std::make_pair(kept, kept + plan.n_recv());
  std::size_t next_double = 0;
  cells.for_each_field([&](auto field) {
    using T = typename decltype(field)::non_const_value_type;
    auto dst = Kokkos::subview(field, range, Kokkos::ALL);
    if constexpr (std::is_same_v<T, double>)
      Kokkos::deep_copy(dst, arrived_double[next_double++]);
    else if constexpr (std::is_same_v<T, std::uint64_t>)
      Kokkos::deep_copy(dst, arrived_id);
    else
      Kokkos::deep_copy(dst, arrived_type);
  });
  cells.n_owned = kept + plan.n_recv();
  return plan.n_send();
}

HaloPlan refresh_ghosts(const CartesianDecomposition& dec, double width, Cells<>& cells) {
  ScopedRegion region("tessera::parallel::halo");
  cells.n_ghost = 0;
  HaloPlan halo(dec, width, cells.position, cells.n_owned);
  cells.reserve(cells.n_owned + halo.n_ghost());
  halo.gather<std::uint64_t>(Cells<>::as_matrix(cells.id));
  halo.gather<int>(Cells<>::as_matrix(cells.type));
  halo.gather<double>(Cells<>::as_matrix(cells.radius));
  halo.gather_positions(cells.position);
  cells.n_ghost = halo.n_ghost();
  return halo;
}

} // namespace tessera
