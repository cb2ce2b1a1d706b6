#include "tessera/grn/cells_by_type.hpp"

#include "tessera/core/error.hpp"
#include "tessera/core/sort_by_key.hpp"

namespace tessera {

void CellsByType::update(Kokkos::View<const int*> cell_type, int n_cells, int n_types,
                         const std::string& model) {
  if (!stale_ && cells_ == n_cells) return;
  const auto n = static_cast<std::size_t>(n_cells);
  // A type outside the range would fall outside begin(): refused, naming the first such cell (its index
  // and type are the only numbers that cross to the host).
  const std::size_t bad = first_key_outside(cell_type, n, n_types - 1);
  if (bad < n) {
    int type = 0;
    Kokkos::deep_copy(type, Kokkos::subview(cell_type, bad));
    throw runtime_error(model + ": cell " + std::to_string(bad) + " has type " + std::to_string(type) +
                        " outside [0, " + std::to_string(n_types) + ")");
  }
  // A stable sort by type on the device: each type's cells stay in ascending order.
  const SortedByKey sorted = stable_sort_by_key(cell_type, n, n_types - 1);
  order_ = sorted.order;
  begin_ = key_offsets(sorted, n_types);
  cells_ = n_cells;
  stale_ = false;
}

} // namespace tessera
