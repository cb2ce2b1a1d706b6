// Builds the initial tissue on every rank (SPEC §1.1, §6.2): positions, types and genes come from draws keyed
// by cell id, or from a file, so the tissue is the same for any number of ranks.
#pragma once

#include "tessera/core/rng.hpp"
#include "tessera/parallel/decomposition.hpp"
#include "tessera/tissue/cell_types.hpp"
#include "tessera/tissue/cells.hpp"

namespace tessera {

// Not collective. Each rank enumerates all candidate ids (or reads every row of the file) and keeps those
// whose centre lies in its box: O(global count) per rank, done once.
//  - random: cell id k is drawn uniformly in the region; in a sphere by rejection sampling, draw j of cell k
//    using counter index j, so its position depends on (seed, k) alone;
//  - lattice: the sites lo + (i + 1/2) * spacing; in a sphere only the sites inside the ball, numbered
//    consecutively in lattice order (x fastest);
//  - hexagonal (2-D box): rows spacing * sqrt(3)/2 apart, odd rows shifted by half a step, x fastest;
//  - file: the file's ids, types, positions and genes; genes the file lacks follow init.genes.
Cells<> create_initial_tissue(const CartesianDecomposition& decomposition, const CellTypes& types,
                              const InitialTissue& init, const CounterRng& rng, int n_genes);

// Global number of cells the initial tissue will have (for the max_cells check before any allocation);
// the estimate is the same number in floating point, safe from overflow for any spacing (for a lattice in a
// sphere whose exact count would take too long it is the ball's volume over spacing^dim).
long long initial_cell_count(const Domain& domain, const InitialTissue& init);
double initial_cell_count_estimate(const Domain& domain, const InitialTissue& init);

// Volume (area in 2-D) of the region random and lattice placement fill: the box, or the ball.
double initial_region_volume(const Domain& domain, const InitialTissue& init);
// Whether a point lies in the ball of a sphere region (|p - center| <= radius); the one test every count and
// placement uses, so they agree to the last bit.
bool inside_initial_sphere(const InitialTissue& init, int dim, const double* position);

} // namespace tessera
