// Perturbations of a prediction (SPEC §3.6): knock-out and over-expression clamp a gene in the selected
// cells (a wrapper around the gene model zeroes its rate of change, so rk4 and CVODE both keep it fixed);
// scaling multiplies it once at the start. Cells are selected by type, id and region, never by local index.
#pragma once

#include "tessera/grn/cell_gene_model.hpp"
#include "tessera/learn/predict_params.hpp"
#include "tessera/sim/simulation.hpp"
#include "tessera/tissue/cells.hpp"

#include <Kokkos_Core.hpp>
#include <mpi.h>

#include <cstdint>
#include <memory>
#include <vector>

namespace tessera {

// The perturbations in device memory. Perturbation p selects a cell when its type is allowed and, for a
// selection fixed at the start (ids, region), its id is among ids[id_offsets(p), id_offsets(p + 1)) (sorted).
struct PerturbationTable {
  int count = 0;
  Kokkos::View<const int*> gene;
  Kokkos::View<const int*> clamps; // 1: knockout / overexpress; 0: scale
  Kokkos::View<const double*> value;
  Kokkos::View<const std::uint8_t**, Kokkos::LayoutRight> type_allowed; // perturbations x cell types
  Kokkos::View<const int*> by_ids;                                      // 1: the id set decides
  Kokkos::View<const int*> id_offsets;                                  // perturbations + 1
  Kokkos::View<const std::uint64_t*> ids;

  KOKKOS_INLINE_FUNCTION bool selects(int p, std::uint64_t id, int type) const {
    if (!type_allowed(p, type)) return false;
    if (!by_ids(p)) return true;
    int lo = id_offsets(p), hi = id_offsets(p + 1);
    while (lo < hi) {
      const int mid = (lo + hi) / 2;
      if (ids(mid) < id)
        lo = mid + 1;
      else
        hi = mid;
    }
    return lo < id_offsets(p + 1) && ids(lo) == id;
  }
};

// Collective. Resolves every selection fixed at the start on the owned cells of `cells` and gathers the ids
// from all ranks, so the table is the same on every rank whatever the decomposition. A listed id that no cell
// has is an input_error naming the perturbation's key.
PerturbationTable make_perturbation_table(MPI_Comm comm, const std::vector<Perturbation>& perturbations,
                                          const Cells<>& cells, int n_types);

// Sets each clamped gene to its value and multiplies each scaled gene by its factor, perturbation by
// perturbation in order, in the owned cells each selects. Returns per perturbation the number of owned cells
// it selected (this rank).
std::vector<long long> apply_initial_perturbations(const PerturbationTable& table, Cells<>& cells);

// A gene model whose clamped genes do not change: dx/dt of the inner model with the entries of clamped
// (cell, gene) pairs set to 0. The clamp mask follows the cells through migration, division and death: it is
// rebuilt from `cells` (ids, types) at every set_cell_types(), which the step loop calls before integrating.
class PerturbedModel : public CellGeneModel {
public:
  // `cells` must outlive the model (the Simulation's cells).
  PerturbedModel(std::unique_ptr<CellGeneModel> model, PerturbationTable table, const Cells<>& cells,
                 int n_genes);

  void set_cell_types(Kokkos::View<const int*> cell_type) override;
  void set_signaling(const SignalingGraph* graph, const LigandExchange* exchange) override;
  // Collective when the inner model is.
  void evaluate(double t, ConstGeneState x, GeneState dxdt) const override;

  // Owned cells x genes: 1 where the gene is clamped (as of the last set_cell_types()).
  Kokkos::View<const std::uint8_t**, Kokkos::LayoutRight> clamped() const { return clamped_; }

private:
  std::unique_ptr<CellGeneModel> model_;
  PerturbationTable table_;
  const Cells<>* cells_;
  int n_genes_ = 0;
  Kokkos::View<std::uint8_t**, Kokkos::LayoutRight> clamped_;
};

// Collective. Applies the perturbations to a simulation that has not stepped yet: resolves the selections
// on its initial cells, applies the start values, and wraps its gene model when any perturbation clamps.
// Returns per perturbation the global number of cells selected at the start.
std::vector<long long> apply_perturbations(MPI_Comm comm, Simulation& simulation,
                                           const std::vector<Perturbation>& perturbations);

// Collective. The same for a prediction continued from its checkpoint (`predict --restart`): the selections
// are resolved on `start`, the tissue the prediction started from (built from the deck as the first part
// built it; its genes receive the start values and it is then discarded), so a selection by region or id
// picks the same cells; `restarted`'s gene model is wrapped, and its genes, which hold the start values
// already, are left alone. Returns per perturbation the global number of cells selected at the start.
std::vector<long long> resume_perturbations(MPI_Comm comm, Simulation& restarted, Simulation& start,
                                            const std::vector<Perturbation>& perturbations);

} // namespace tessera
