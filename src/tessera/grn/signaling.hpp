// Cell–cell signalling (SPEC §2): ligand->receptor pairs, the per-step graph of who signals to whom within
// r_sig with weight w(d) = exp(-d/ell), and the exchange of ghost cells' ligand genes inside every RHS
// evaluation. Read from the deck's `signaling` section and/or an LR table (SPEC §6.2).
#pragma once

#include "tessera/core/keys.hpp"
#include "tessera/grn/gene_network.hpp"
#include "tessera/integrate/gene_rhs.hpp"

#include <Kokkos_Core.hpp>

#include <array>
#include <string>
#include <vector>

namespace tessera {

class Deck;
class HaloPlan;

struct LigandReceptorPair {
  int ligand = 0;   // gene index
  int receptor = 0; // gene index
  double K = 1.0;   // `hill` strength K^LR
  double h = 0.5;   // `hill` half-saturation
  double n = 2.0;   // `hill` Hill coefficient
};

// A receptor gene that senses a diffusible field (issue 12, field -> gene): like a ligand -> receptor pair
// whose received signal is the field's value at the cell, interpolated from the voxel centres.
struct FieldReceptor {
  int substrate = 0; // index in fields.substrates
  int receptor = 0;  // gene index
  double K = 1.0;    // `hill` strength
  double h = 0.5;    // `hill` half-saturation (a concentration)
  double n = 2.0;    // `hill` Hill coefficient
};

struct SignalingParams {
  std::vector<LigandReceptorPair> pairs;
  double range = 20.0;      // r_sig, µm
  double length = INFINITY; // ell, µm; infinity means w = 1
  bool autocrine = false;   // a cell's own ligand reaches its receptors (w(0) = 1)
  // Receptors of diffusible fields (from the deck's `fields.receptors`); they need no neighbours, so they
  // do not make signalling active().
  std::vector<FieldReceptor> field_receptors;

  bool active() const { return !pairs.empty(); }
  std::vector<int> ligand_genes() const; // sorted unique gene indices of the ligands
  // A deck without pairs takes these (ligand, receptor gene indices, e.g. a dataset's /ligand_receptor)
  // with the default Hill parameters and the deck's range and length; a deck's own pairs stay.
  void default_pairs(const std::vector<std::array<int, 2>>& ligand_receptor);
};

const KeyTable& signaling_keys();
SignalingParams read_signaling(const Deck& deck, const GeneNetwork& network);
// LR table: TSV with header `ligand receptor` then optionally `K h n`. Appends to params.pairs.
void parse_lr_table(const std::string& text, const std::string& filename, const GeneNetwork& network,
                    SignalingParams& params);

// Who signals to whom in the current step (neighbours are frozen within a step). Rows < n_owned are owned
// cells, rows >= n_owned are ghosts. Each owned cell's sources are sorted by cell id, so sums over them do
// not depend on the decomposition.
struct SignalingGraph {
  Kokkos::View<int*> offsets;   // n_owned + 1
  Kokkos::View<int*> source;    // row of the sending cell (the cell itself when autocrine)
  Kokkos::View<double*> weight; // w(d); empty when every weight is 1 (ell = infinity), to save memory
  std::size_t n_owned = 0;

  KOKKOS_INLINE_FUNCTION double weight_of(int e) const { return weight.extent(0) ? weight(e) : 1.0; }
};

// Ligand values of owned and ghost cells, refreshed from the state being evaluated.
class LigandExchange {
public:
  LigandExchange() = default;
  explicit LigandExchange(std::vector<int> ligand_genes);

  // Per step: the halo plan of the current ghosts (nullptr: no ghosts, e.g. one rank, no periodic axis).
  void set_halo(const HaloPlan* halo, std::size_t n_owned, std::size_t n_ghost);

  // Collective. values(r, c) = x(r, ligand_genes[c]) for the owned rows r < x.extent(0) and the owners'
  // values for ghost rows. The returned View is reused by the next call.
  Kokkos::View<const double**, Kokkos::LayoutRight> gather(ConstGeneState x) const;

  // Rows of gather()'s result that hold values: owned, then ghost.
  std::size_t n_rows() const { return n_owned_ + n_ghost_; }
  // Collective. The adjoint of gather(): `ligand_bar` holds cotangents of gather()'s values (at least
  // n_rows() rows); ghost rows are sent back and summed by their owners (reverse halo, which also changes
  // the owned rows of `ligand_bar`), then x_bar(r, ligand_genes[c]) += ligand_bar(r, c) for the owned rows
  // r < x_bar.extent(0).
  void scatter_ligand_cotangents(Kokkos::View<double**, Kokkos::LayoutRight> ligand_bar,
                                 GeneState x_bar) const;

  Kokkos::View<const int*> ligand_genes() const { return genes_; }
  int n_ligands() const { return static_cast<int>(genes_host_.size()); }
  // Column of gene `g` in gather()'s result, or -1 when g is not a ligand.
  int column_of(int g) const;

private:
  std::vector<int> genes_host_;
  Kokkos::View<int*> genes_;
  const HaloPlan* halo_ = nullptr;
  std::size_t n_owned_ = 0, n_ghost_ = 0;
  mutable Kokkos::View<double**, Kokkos::LayoutRight> values_;
};

} // namespace tessera
