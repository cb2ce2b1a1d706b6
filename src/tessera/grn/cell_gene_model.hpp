// A gene model of a tissue: the RHS of every local cell's gene ODE, told each step which type each cell has
// and which neighbours signal to it. Both `hill` and `graph_ode` are one; the step loop holds either.
#pragma once

#include "tessera/grn/signaling.hpp"
#include "tessera/integrate/gene_rhs.hpp"

#include <Kokkos_Core.hpp>

namespace tessera {

class CellGeneModel : public GeneRhs {
public:
  // The per-cell type view of the local cells (length >= number of cells evaluated); call whenever the
  // cells change (migration, division, death reallocate and reorder them).
  virtual void set_cell_types(Kokkos::View<const int*> cell_type) = 0;
  // This step's signalling graph and ligand exchange; nullptr switches intercellular terms off.
  virtual void set_signaling(const SignalingGraph* graph, const LigandExchange* exchange) = 0;
};

} // namespace tessera
