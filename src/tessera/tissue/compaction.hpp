// Removing rows from the cell arrays (cells that left the rank, cells that died) without shifting
// everything: each removed row below the new end is refilled with a kept row from above it.
#pragma once

#include "tessera/tissue/cells.hpp"

#include <vector>

namespace tessera {

// Not collective. Rows [0, total) hold cells; `removed` lists rows to drop, sorted ascending, unique.
// Returns the number of rows kept, which then hold exactly the kept cells (order not preserved).
std::size_t remove_rows(const Cells<>& cells, std::size_t total, const std::vector<int>& removed);

// Not collective. The same on the device: row i < total is dropped when removed(i) != 0, and `n_removed`
// rows are. The k-th removed row below the new end is refilled from the k-th kept row above it, so the
// result equals the list version's.
std::size_t remove_rows(const Cells<>& cells, std::size_t total, Kokkos::View<const int*> removed,
                        std::size_t n_removed);

} // namespace tessera
