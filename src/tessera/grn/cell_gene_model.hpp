// A gene model of a tissue: the RHS of every local cell's gene ODE, told each step which type each cell has
// and which neighbours signal to it. Both `hill` and `graph_ode` are one; the step loop holds either.
#pragma once

#include "tessera/core/error.hpp"
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
  // The diffusible fields at each local cell (row i: cell i, column s: substrate s), for the receptors of
  // SignalingParams::field_receptors; called each step once the fields have advanced. Only models that
  // sense fields override it; the others refuse, so a wrapper that does not forward it fails loudly.
  virtual void set_field_values(Kokkos::View<const double**, Kokkos::LayoutRight> values) {
    (void)values;
    throw runtime_error("this gene model does not sense diffusible fields (fields.receptors)");
  }
};

} // namespace tessera
