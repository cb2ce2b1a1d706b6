#include "tessera/grn/cells_by_type.hpp"

#include "tessera/core/device_copy.hpp"
#include "tessera/core/error.hpp"

#include <vector>

namespace tessera {

void CellsByType::update(Kokkos::View<const int*> cell_type, int n_cells, int n_types,
                         const std::string& model) {
  if (!stale_ && cells_ == n_cells) return;
  const auto types = Kokkos::create_mirror_view_and_copy(
      Kokkos::HostSpace(), Kokkos::subview(cell_type, std::make_pair(0, n_cells)));
  std::vector<int> begin(static_cast<std::size_t>(n_types) + 1, 0);
  for (int i = 0; i < n_cells; ++i) {
    if (types(i) < 0 || types(i) >= n_types)
      throw runtime_error(model + ": cell " + std::to_string(i) + " has type " + std::to_string(types(i)) +
                          " outside [0, " + std::to_string(n_types) + ")");
    ++begin[static_cast<std::size_t>(types(i)) + 1];
  }
  for (int c = 0; c < n_types; ++c)
    begin[static_cast<std::size_t>(c) + 1] += begin[static_cast<std::size_t>(c)];
  std::vector<int> order(static_cast<std::size_t>(n_cells)), next(begin.begin(), begin.end() - 1);
  for (int i = 0; i < n_cells; ++i)
    order[static_cast<std::size_t>(next[static_cast<std::size_t>(types(i))]++)] = i;
  order_ = to_device("tessera::grn::cells_by_type::order", order);
  begin_ = to_device("tessera::grn::cells_by_type::begin", begin);
  cells_ = n_cells;
  stale_ = false;
}

} // namespace tessera
