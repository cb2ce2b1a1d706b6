#include "tessera/tissue/compaction.hpp"

namespace tessera {

namespace {

// field(hole, :) = field(filler, :) for each (hole, filler) row of `moves`. A functor: the kernel is launched
// from the generic lambda for_each_field calls, where nvcc allows no device lambda.
template <class Field>
struct FillHoles {
  Field field;
  Kokkos::View<int* [2]> moves;

  KOKKOS_INLINE_FUNCTION void operator()(const std::size_t k) const {
    for (std::size_t c = 0; c < field.extent(1); ++c)
      field(moves(k, 0), c) = field(moves(k, 1), c);
  }
};

// Pairs holes and fillers in order: the k-th removed row of [0, kept) gets moves(k, 0), the k-th kept row
// of [kept, total) moves(k, 1).
struct PairHolesAndFillers {
  using value_type = std::size_t;
  Kokkos::View<const int*> removed;
  Kokkos::View<int* [2]> moves;
  std::size_t first;
  int column;

  KOKKOS_INLINE_FUNCTION void operator()(const std::size_t k, value_type& next, const bool final) const {
    const std::size_t row = first + k;
    const bool take = column == 0 ? removed(row) != 0 : removed(row) == 0;
    if (!take) return;
    if (final) moves(next, column) = static_cast<int>(row);
    ++next;
  }
};

} // namespace

std::size_t remove_rows(const Cells<>& cells, std::size_t total, const std::vector<int>& removed) {
  Kokkos::View<int*> flags("tessera::compaction::removed", total);
  auto h = Kokkos::create_mirror_view(flags);
  for (std::size_t i = 0; i < total; ++i)
    h(i) = 0;
  for (int r : removed)
    h(static_cast<std::size_t>(r)) = 1;
  Kokkos::deep_copy(flags, h);
  return remove_rows(cells, total, flags, removed.size());
}

std::size_t remove_rows(const Cells<>& cells, std::size_t total, Kokkos::View<const int*> removed,
                        std::size_t n_removed) {
  const std::size_t kept = total - n_removed;
  // Holes: removed rows below the new end; as many kept rows lie above it.
  std::size_t n_holes = 0;
  Kokkos::parallel_reduce(
      "tessera::compaction::count_holes", Kokkos::RangePolicy<>(0, kept),
      KOKKOS_LAMBDA(const std::size_t i, std::size_t& count) { count += removed(i) != 0 ? 1 : 0; }, n_holes);
  if (n_holes == 0) return kept;
  Kokkos::View<int* [2]> moves("tessera::compaction::moves", n_holes);
  Kokkos::parallel_scan("tessera::compaction::holes", Kokkos::RangePolicy<>(0, kept),
                        PairHolesAndFillers{removed, moves, 0, 0});
  Kokkos::parallel_scan("tessera::compaction::fillers", Kokkos::RangePolicy<>(0, total - kept),
                        PairHolesAndFillers{removed, moves, kept, 1});
  cells.for_each_field([&](auto field) {
    Kokkos::parallel_for("tessera::tissue::fill_holes", Kokkos::RangePolicy<>(0, n_holes),
                         FillHoles<decltype(field)>{field, moves});
  });
  Kokkos::fence();
  return kept;
}

} // namespace tessera
