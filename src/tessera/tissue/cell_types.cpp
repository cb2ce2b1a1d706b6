#include "tessera/tissue/cell_types.hpp"

#include "tessera/io/deck.hpp"

#include <cmath>
#include <numeric>

namespace tessera {

const KeyTable& cells_keys() {
  static const KeyTable table = [] {
    KeyTable t("cells", "Cell types and the initial tissue (SPEC §1.1, §6.2).");
    t.add("types", KeyType::text_list)
        .require()
        .describe("Names of the cell types; their order defines type indices 0, 1, ...");
    t.add("radius", KeyType::real_list, Dimension::length)
        .one_per_type()
        .def("5")
        .positive()
        .describe("Cell radius per type.");
    t.add("fractions", KeyType::real_list)
        .one_per_type()
        .non_negative()
        .describe("Fraction of initial cells of each type; must sum to 1. Default: equal fractions.");
    t.add("max_cells", KeyType::integer)
        .def("10000000")
        .positive()
        .describe("Upper bound on the global number of cells.");
    t.add_choice("init.placement", {"random", "lattice"})
        .def("random")
        .describe("`random`: `init.count` cells uniformly in the box; `lattice`: a square (cubic) lattice of "
                  "step `init.spacing`.");
    t.add("init.count", KeyType::integer)
        .def("1000")
        .non_negative()
        .describe("Number of initial cells (random placement).");
    t.add("init.spacing", KeyType::real, Dimension::length)
        .def("10")
        .positive()
        .describe("Lattice step (lattice placement).");
    t.add_choice("init.genes", {"constant", "uniform"})
        .def("constant")
        .describe("Initial expression: `constant` sets every gene to `init.gene_value`; `uniform` draws each "
                  "gene in "
                  "[`init.gene_low`, `init.gene_high`).");
    t.add("init.gene_value", KeyType::real_list)
        .one_per_gene()
        .def("0")
        .non_negative()
        .describe("Initial value per gene (constant).");
    t.add("init.gene_low", KeyType::real_list)
        .one_per_gene()
        .def("0")
        .non_negative()
        .describe("Lower bound per gene (uniform).");
    t.add("init.gene_high", KeyType::real_list)
        .one_per_gene()
        .def("1")
        .non_negative()
        .describe("Upper bound per gene (uniform).");
    return t;
  }();
  return table;
}

CellTypes read_cell_types(const Deck& deck) {
  const DeckView s = deck.section("cells");
  CellTypes types;
  types.names = s.texts("types");
  const int n = types.count();
  for (const auto& name : types.names)
    if (name == "*")
      s.fail("types", "'*' cannot be a cell type name: it means 'every type' in GRN edges and tables");
  types.radius = s.per_type("radius", n);
  if (s.has("fractions")) {
    types.fractions = s.per_type("fractions", n);
    const double total = std::accumulate(types.fractions.begin(), types.fractions.end(), 0.0);
    if (std::fabs(total - 1.0) > 1e-9)
      s.fail("fractions", "type fractions must sum to 1, they sum to " + format_number(total));
  } else {
    types.fractions.assign(static_cast<size_t>(n), 1.0 / n);
  }
  types.max_cells = s.integer("max_cells");
  return types;
}

InitialTissue read_initial_tissue(const Deck& deck, int n_genes) {
  const DeckView s = deck.section("cells").section("init");
  InitialTissue init;
  init.placement = s.text("placement") == "lattice" ? Placement::lattice : Placement::random;
  init.count = s.integer("count");
  init.spacing = s.real("spacing");
  init.genes = s.text("genes") == "uniform" ? InitialGenes::uniform : InitialGenes::constant;
  init.gene_value = s.per_gene("gene_value", n_genes);
  init.gene_low = s.per_gene("gene_low", n_genes);
  init.gene_high = s.per_gene("gene_high", n_genes);
  if (init.genes == InitialGenes::uniform)
    for (int g = 0; g < n_genes; ++g)
      if (init.gene_high[g] < init.gene_low[g])
        s.fail("gene_high", "gene_high must be >= gene_low for every gene (gene " + std::to_string(g) + ")");
  return init;
}

} // namespace tessera
