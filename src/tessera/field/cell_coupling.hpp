// How cells act on the diffusible fields (issue 12): secretion (constant, or scaled by a gene: gene -> field)
// and uptake, deposited voxel-owner style: each cell acts on the one voxel that holds its centre. That voxel
// belongs to the cell's own rank (the field's blocks are the rank boxes), so no communication is needed and
// the amount a cell secretes reaches the field exactly; cloud-in-cell would spread it over 2^d voxels, some
// on other ranks (a reverse halo per step), for a smoothness the diffusion supplies within a step anyway.
#pragma once

#include "tessera/field/diffusion_fields.hpp"
#include "tessera/io/snapshot.hpp"

#include <vector>

namespace tessera {

// Per owned voxel and substrate (substrate fastest), what DiffusionFields::advance takes.
struct CellFieldTerms {
  std::vector<double> source; // concentration per minute: secreted amount / voxel volume
  std::vector<double> uptake; // 1/min: the cells' summed uptake x V_cell / voxel volume
};

// Not collective. `cells` are this rank's owned cells.
CellFieldTerms cell_field_terms(const DiffusionFields& fields, const CellSnapshot& cells);

} // namespace tessera
