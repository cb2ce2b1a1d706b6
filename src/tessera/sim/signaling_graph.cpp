#include "tessera/sim/signaling_graph.hpp"

#include "tessera/core/kokkos_compat.hpp"

namespace tessera {

SignalingGraph build_signaling_graph(const Cells<>& cells, const NeighbourList& nl,
                                     const SignalingParams& params) {
  ScopedRegion region("tessera::sim::signaling_graph");
  const int n = static_cast<int>(cells.n_owned);
  SignalingGraph g;
  g.n_owned = cells.n_owned;
  g.offsets = Kokkos::View<int*>("tessera::signaling::offsets", static_cast<std::size_t>(n) + 1);
  const auto offsets = g.offsets;
  const auto nb_offsets = nl.offsets;
  const auto nb = nl.neighbours;
  const auto pos = cells.position;
  const auto id = cells.id;
  const double range2 = params.range * params.range;
  const double inv_length = std::isfinite(params.length) ? 1.0 / params.length : 0.0;
  const bool unit = !std::isfinite(params.length);
  const bool autocrine = params.autocrine;
  auto distance2 = [=] KOKKOS_FUNCTION(int i, int j) {
    const double dx = pos(i, 0) - pos(j, 0), dy = pos(i, 1) - pos(j, 1), dz = pos(i, 2) - pos(j, 2);
    return dx * dx + dy * dy + dz * dz;
  };
  Kokkos::parallel_scan(
      "tessera::signaling::count", Kokkos::RangePolicy<>(0, n),
      KOKKOS_LAMBDA(const int i, int& running, const bool final) {
        int count = autocrine ? 1 : 0;
        for (int e = nb_offsets(i); e < nb_offsets(i + 1); ++e)
          count += distance2(i, nb(e)) <= range2 ? 1 : 0;
        if (final) offsets(i) = running;
        running += count;
        if (final && i == n - 1) offsets(n) = running;
      });
  int total = 0;
  if (n > 0)
    Kokkos::deep_copy(total, Kokkos::subview(offsets, n));
  else
    Kokkos::deep_copy(Kokkos::subview(offsets, 0), 0);
  g.source = Kokkos::View<int*>("tessera::signaling::source", static_cast<std::size_t>(total));
  g.weight = Kokkos::View<double*>("tessera::signaling::weight", unit ? 0 : static_cast<std::size_t>(total));
  const auto source = g.source;
  const auto weight = g.weight;
  Kokkos::parallel_for(
      "tessera::signaling::fill", Kokkos::RangePolicy<>(0, n), KOKKOS_LAMBDA(const int i) {
        int next = offsets(i);
        bool self_placed = !autocrine;
        for (int e = nb_offsets(i); e < nb_offsets(i + 1); ++e) {
          const int j = nb(e);
          if (!self_placed && id(j) > id(i)) {
            source(next) = i;
            if (!unit) weight(next) = 1.0;
            ++next;
            self_placed = true;
          }
          const double d2 = distance2(i, j);
          if (d2 > range2) continue;
          source(next) = j;
          if (!unit) weight(next) = math::exp(-math::sqrt(d2) * inv_length);
          ++next;
        }
        if (!self_placed) {
          source(next) = i;
          if (!unit) weight(next) = 1.0;
        }
      });
  return g;
}

} // namespace tessera
