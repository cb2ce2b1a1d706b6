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

} // namespace

std::size_t remove_rows(const Cells<>& cells, std::size_t total, const std::vector<int>& removed) {
  const std::size_t kept = total - removed.size();
  std::vector<char> gone(total, 0);
  for (int r : removed)
    gone[static_cast<std::size_t>(r)] = 1;
  std::vector<int> holes, fillers;
  std::size_t filler = kept;
  for (int hole : removed) {
    if (static_cast<std::size_t>(hole) >= kept) continue;
    while (gone[filler])
      ++filler;
    holes.push_back(hole);
    fillers.push_back(static_cast<int>(filler++));
  }
  if (holes.empty()) return kept;
  Kokkos::View<int* [2]> moves("tessera::compaction::moves", holes.size());
  auto h = Kokkos::create_mirror_view(moves);
  for (std::size_t k = 0; k < holes.size(); ++k) {
    h(k, 0) = holes[k];
    h(k, 1) = fillers[k];
  }
  Kokkos::deep_copy(moves, h);
  cells.for_each_field([&](auto field) {
    Kokkos::parallel_for("tessera::tissue::fill_holes", Kokkos::RangePolicy<>(0, holes.size()),
                         FillHoles<decltype(field)>{field, moves});
  });
  Kokkos::fence();
  return kept;
}

} // namespace tessera
