#include "tessera/tissue/migration.hpp"

#include "tessera/core/kokkos_compat.hpp"
#include "tessera/parallel/exchange_plan.hpp"
#include "tessera/tissue/compaction.hpp"

#include <algorithm>

namespace tessera {

std::size_t migrate(const CartesianDecomposition& dec, const std::vector<int>& neighbours, Cells<>& cells) {
  ScopedRegion region("tessera::parallel::migrate");
  cells.n_ghost = 0;
  const std::size_t n = cells.n_owned;
  auto pos = Kokkos::create_mirror_view_and_copy(
      Kokkos::HostSpace(), Kokkos::subview(cells.position, std::make_pair(std::size_t(0), n), Kokkos::ALL));
  std::vector<int> leaving, destination;
  const int dim = dec.domain().dim;
  for (std::size_t i = 0; i < n; ++i) {
    const double p[3] = {pos(i, 0), pos(i, 1), pos(i, 2)};
    if (dec.owns(p)) continue;
    int coords[3] = {0, 0, 0};
    for (int a = 0; a < dim; ++a)
      coords[a] = dec.box_index(a, p[a]);
    int rank = 0;
    mpi::check(MPI_Cart_rank(dec.comm(), coords, &rank), "MPI_Cart_rank");
    leaving.push_back(static_cast<int>(i));
    destination.push_back(rank);
  }
  const ExchangePlan plan(dec.comm(), neighbours, leaving, destination);

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

  // Refill the leavers' rows from the end (`leaving` is ascending).
  const std::size_t kept = remove_rows(cells, n, leaving);

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
  return leaving.size();
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
