// Cell types and the initial tissue (SPEC §1.1, §6.2): names, per-type radius, type fractions, how many
// cells start where, and their initial gene expression. Read from the deck's `cells` section.
#pragma once

#include "tessera/core/keys.hpp"
#include "tessera/tissue/domain.hpp"

#include <array>
#include <string>
#include <vector>

namespace tessera {

class Deck;

enum class Placement { random, lattice, hexagonal, file };
enum class InitialRegion { box, sphere };
enum class InitialGenes { constant, uniform, file };

struct CellTypes {
  std::vector<std::string> names;
  std::vector<double> radius;    // µm, per type
  std::vector<double> fractions; // per type, sums to 1
  long long max_cells = 0;
  int count() const { return static_cast<int>(names.size()); }
};

struct InitialTissue {
  Placement placement = Placement::random;
  long long count = 0;   // random placement: cells in the region (init.count, or init.density x its volume)
  double spacing = 10.0; // lattice and hexagonal placement: µm between neighbours
  // Random and lattice placement fill the whole box or a ball inside it.
  InitialRegion region = InitialRegion::box;
  std::array<double, 3> center{0, 0, 0}; // µm, the ball's centre (sphere)
  double radius = 0.0;                   // µm, the ball's radius (sphere)
  // File placement: the cells of a CSV or HDF5 file (SPEC §6.2), validated when the deck is read.
  std::string file;                    // resolved against the deck's folder
  bool file_is_hdf5 = false;           // else CSV
  long long file_step = -1;            // HDF5: the output step read (the last one unless init.step says)
  long long file_cells = 0;            // rows in the file
  std::vector<std::string> gene_names; // grn.genes, to match the file's gene columns by name
  InitialGenes genes = InitialGenes::constant;
  std::vector<double> gene_value; // per gene (constant)
  std::vector<double> gene_low;   // per gene (uniform)
  std::vector<double> gene_high;  // per gene (uniform)
};

const KeyTable& cells_keys();
CellTypes read_cell_types(const Deck& deck);
// Reads `cells.init` and checks it against the domain (a sphere must lie inside it), the types and the gene
// panel. File placement reads and validates the whole file here, so `tessera check` rejects a bad file; the
// file's errors name its path, line and column (CSV) or step and row (HDF5). Not collective: every rank
// reads the same inputs and reaches the same verdict. Throws input_error.
InitialTissue read_initial_tissue(const Deck& deck, const Domain& domain, const CellTypes& types,
                                  const std::vector<std::string>& gene_names);

} // namespace tessera
