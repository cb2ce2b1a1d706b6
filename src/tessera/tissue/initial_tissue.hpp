// Builds the initial tissue on every rank (SPEC §1.1, §6.2): each candidate cell's position, type and genes
// come from counter-based draws keyed by its id, so the tissue is the same for any number of ranks.
#pragma once

#include "tessera/core/rng.hpp"
#include "tessera/parallel/decomposition.hpp"
#include "tessera/tissue/cell_types.hpp"
#include "tessera/tissue/cells.hpp"

namespace tessera {

// Not collective. Each rank enumerates all candidate ids and keeps those whose centre lies in its box:
// O(global count) per rank, done once.
Cells<> create_initial_tissue(const CartesianDecomposition& decomposition, const CellTypes& types,
                              const InitialTissue& init, const CounterRng& rng, int n_genes);

// Global number of cells the initial tissue will have (for the max_cells check before any allocation);
// the estimate is the same number in floating point, safe from overflow for any spacing.
long long initial_cell_count(const Domain& domain, const InitialTissue& init);
double initial_cell_count_estimate(const Domain& domain, const InitialTissue& init);

} // namespace tessera
