// Moving cells between ranks (SPEC §4.2): every owned cell whose centre has left the rank's box goes to the
// rank that owns its new position, and ghost copies of neighbours' cells are refreshed for the step.
#pragma once

#include "tessera/parallel/decomposition.hpp"
#include "tessera/parallel/halo.hpp"
#include "tessera/tissue/cells.hpp"

namespace tessera {

// Collective. Positions must already lie inside the domain (walls applied). Ghost rows are dropped. The
// owned cells stay owned in their order except that leavers' rows are refilled from the end; arrivals are
// appended in the order of their source rank. Returns the number of cells that left this rank. A cell may
// cross any number of boxes in a step (then that step's exchange involves every rank).
std::size_t migrate(const CartesianDecomposition& decomposition, const std::vector<int>& neighbours,
                    Cells<>& cells);

// Collective. Builds the halo of width `width` from the owned cells and fills the ghost rows of id, type,
// position (periodic images shifted) and radius. Gene rows of ghosts are left alone: models exchange the
// genes they need (ligands) inside each RHS evaluation.
HaloPlan refresh_ghosts(const CartesianDecomposition& decomposition, double width, Cells<>& cells);

} // namespace tessera
