// The local cells grouped by cell type, for the per-edge families' parameter VJPs, which visit each type's
// cells in cell order (one thread per (type, target) row: a fixed summation order, no atomics).
#pragma once

#include <Kokkos_Core.hpp>

#include <string>

namespace tessera {

class CellsByType {
public:
  // The types changed (set_cell_types): the next update() regroups.
  void invalidate() { stale_ = true; }
  // Groups cells [0, n_cells) of `cell_type` by a stable sort on the device unless nothing changed since the
  // last call (types change at most once per step, the VJP runs many times per step). A type outside
  // [0, n_types) is a runtime_error naming `model` and the cell.
  void update(Kokkos::View<const int*> cell_type, int n_cells, int n_types, const std::string& model);

  // Cells of type c are order(begin(c)) .. order(begin(c + 1) - 1), ascending.
  const Kokkos::View<int*>& order() const { return order_; }
  const Kokkos::View<int*>& begin() const { return begin_; }

private:
  bool stale_ = true;
  int cells_ = -1;
  Kokkos::View<int*> order_, begin_;
};

} // namespace tessera
