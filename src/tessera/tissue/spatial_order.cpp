#include "tessera/tissue/spatial_order.hpp"

#include "tessera/core/kokkos_compat.hpp"
#include "tessera/core/sort_by_key.hpp"

#include <algorithm>
#include <cmath>

namespace tessera {

namespace {

// copy(i, :) = field(perm(i), :). A functor: the kernel is launched from the generic lambda for_each_field
// calls, where nvcc allows no device lambda.
template <class Copy, class Field>
struct GatherRows {
  Copy copy;
  Field field;
  Kokkos::View<int*> perm;

  KOKKOS_INLINE_FUNCTION void operator()(const std::size_t i) const {
    for (std::size_t c = 0; c < copy.extent(1); ++c)
      copy(i, c) = field(perm(i), c);
  }
};

// The bin key (z * ny + y) * nx + x of each owned cell.
struct BinKey {
  Kokkos::View<const double* [3], Kokkos::LayoutRight> pos;
  Kokkos::View<long long*> key;
  double lo[3];
  double size[3];
  long long bins[3];

  KOKKOS_INLINE_FUNCTION void operator()(const std::size_t i) const {
    long long c[3];
    for (int a = 0; a < 3; ++a) {
      const double x = (pos(i, a) - lo[a]) / size[a];
      c[a] = x < static_cast<double>(bins[a] - 1) ? static_cast<long long>(x) : bins[a] - 1;
    }
    key(i) = (c[2] * bins[1] + c[1]) * bins[0] + c[0];
  }
};

} // namespace

void sort_cells_spatially(Cells<>& cells, double bin_size) {
  ScopedRegion region("tessera::tissue::spatial_order");
  cells.n_ghost = 0;
  const std::size_t n = cells.n_owned;
  if (n < 2 || !(bin_size > 0)) return;
  const auto pos = cells.position; // the first n rows
  // The bounding box: min and max are exact, so any reduction order gives the same box.
  double lo[3] = {0, 0, 0}, hi[3] = {0, 0, 0};
  for (int a = 0; a < 3; ++a) {
    Kokkos::parallel_reduce(
        "tessera::spatial_order::lo", Kokkos::RangePolicy<>(0, n),
        KOKKOS_LAMBDA(const std::size_t i, double& m) { m = pos(i, a) < m ? pos(i, a) : m; },
        Kokkos::Min<double>(lo[a]));
    Kokkos::parallel_reduce(
        "tessera::spatial_order::hi", Kokkos::RangePolicy<>(0, n),
        KOKKOS_LAMBDA(const std::size_t i, double& m) { m = pos(i, a) > m ? pos(i, a) : m; },
        Kokkos::Max<double>(hi[a]));
  }
  // Bins per axis in floating point, clamped before any conversion (a box of 10^300 um over bins of 10 um
  // overflows every integer type) and to 2^20 per axis, so the key (z * ny + y) * nx + x stays below 2^60.
  // Coarser bins only sort less finely; the order stays a function of the positions.
  constexpr double max_bins = 1 << 20;
  BinKey bin_key{pos, Kokkos::View<long long*>("tessera::spatial_order::key", n), {}, {}, {}};
  for (int a = 0; a < 3; ++a) {
    const double fit = std::floor((hi[a] - lo[a]) / bin_size) + 1;
    const double b = fit >= 1 ? std::min(fit, max_bins) : 1.0;
    bin_key.lo[a] = lo[a];
    bin_key.bins[a] = static_cast<long long>(b);
    bin_key.size[a] = fit > max_bins ? (hi[a] - lo[a]) / b : bin_size;
  }
  Kokkos::parallel_for("tessera::spatial_order::key", Kokkos::RangePolicy<>(0, n), bin_key);

  // Stable on equal bins, so the order is a function of the positions alone (core/sort_by_key.hpp).
  const long long largest = bin_key.bins[0] * bin_key.bins[1] * bin_key.bins[2] - 1;
  const Kokkos::View<int*> perm = stable_sort_by_key(bin_key.key, n, largest).order;
  cells.for_each_field([&](auto field) {
    using T = typename decltype(field)::non_const_value_type;
    const std::size_t width = field.extent(1);
    Kokkos::View<T**, Kokkos::LayoutRight> copy(
        Kokkos::view_alloc(std::string("tessera::spatial_order::copy"), Kokkos::WithoutInitializing), n,
        width);
    Kokkos::parallel_for("tessera::spatial_order::gather", Kokkos::RangePolicy<>(0, n),
                         GatherRows<decltype(copy), decltype(field)>{copy, field, perm});
    Kokkos::deep_copy(Kokkos::subview(field, std::make_pair(std::size_t(0), n), Kokkos::ALL), copy);
  });
  Kokkos::fence();
}

} // namespace tessera
