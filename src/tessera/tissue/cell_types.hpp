// Cell types and the initial tissue (SPEC §1.1, §6.2): names, per-type radius, type fractions, how many
// cells start where, and their initial gene expression. Read from the deck's `cells` section.
#pragma once

#include "tessera/core/keys.hpp"

#include <string>
#include <vector>

namespace tessera {

class Deck;

enum class Placement { random, lattice };
enum class InitialGenes { constant, uniform };

struct CellTypes {
  std::vector<std::string> names;
  std::vector<double> radius;    // µm, per type
  std::vector<double> fractions; // per type, sums to 1
  long long max_cells = 0;
  int count() const { return static_cast<int>(names.size()); }
};

struct InitialTissue {
  Placement placement = Placement::random;
  long long count = 0;   // random placement: cells in the whole domain
  double spacing = 10.0; // lattice placement: µm between neighbours
  InitialGenes genes = InitialGenes::constant;
  std::vector<double> gene_value; // per gene (constant)
  std::vector<double> gene_low;   // per gene (uniform)
  std::vector<double> gene_high;  // per gene (uniform)
};

const KeyTable& cells_keys();
CellTypes read_cell_types(const Deck& deck);
InitialTissue read_initial_tissue(const Deck& deck, int n_genes);

} // namespace tessera
