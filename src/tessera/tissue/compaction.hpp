// Removing rows from the cell arrays (cells that left the rank, cells that died) without shifting
// everything: each removed row below the new end is refilled with a kept row from above it.
#pragma once

#include "tessera/tissue/cells.hpp"

#include <vector>

namespace tessera {

// Not collective. Rows [0, total) hold cells; `removed` lists rows to drop, sorted ascending, unique.
// Returns the number of rows kept, which then hold exactly the kept cells (order not preserved).
std::size_t remove_rows(const Cells<>& cells, std::size_t total, const std::vector<int>& removed);

} // namespace tessera
