#include "tessera/tissue/cell_types.hpp"

#include "tessera/core/error.hpp"
#include "tessera/io/deck.hpp"
#include "tessera/tissue/cell_file.hpp"
#include "tessera/tissue/initial_tissue.hpp"

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
    t.add_choice("init.placement", {"random", "lattice", "hexagonal", "file"})
        .def("random")
        .describe(
            "`random`: cells uniformly in the region (`init.count` of them, or `init.density` per unit "
            "volume); `lattice`: the sites of a square (cubic) lattice of step `init.spacing` that lie in "
            "the region; `hexagonal` (2-D, region: box): a hexagonal (triangular) lattice of step "
            "`init.spacing`, every cell with 6 neighbours at that distance, the next ones at sqrt(3) x it; "
            "`file`: the cells of `init.file`.");
    t.add("init.count", KeyType::integer)
        .def("1000")
        .unless("density")
        .non_negative()
        .describe("Number of initial cells (random placement). Give this or `init.density`, not both.");
    t.add("init.density", KeyType::real)
        .positive()
        .describe("Cells per um^2 (2-D) or um^3 (3-D) of the region (random placement): the count is "
                  "density x the region's volume, rounded. Give this or `init.count`, not both.");
    t.add("init.spacing", KeyType::real, Dimension::length)
        .def("10")
        .positive()
        .describe(
            "Lattice step (lattice and hexagonal placement). `lattice` sites sit at `domain.lo + (i + "
            "1/2) * spacing`. `hexagonal` puts rows of floor(extent_x / spacing) sites a distance "
            "spacing x sqrt(3)/2 apart, the first at y = lo + spacing x sqrt(3)/4, at x = lo + (i + "
            "1/4) * spacing, odd rows shifted by spacing/2; in a periodic box an x extent of n x spacing "
            "and a y extent of an even number of rows make a seamless lattice (extents within 1e-6 of "
            "a whole number of sites or rows count as that number).");
    t.add_choice("init.region", {"box", "sphere"})
        .def("box")
        .describe("Where random and lattice placement put cells: the whole box, or the ball of radius "
                  "`init.radius` around `init.center` (a disc in 2-D), which must lie inside the domain.");
    t.add("init.center", KeyType::real_list, Dimension::length)
        .of_length(-1)
        .describe(
            "Centre of the sphere, one value per axis (region: sphere). Default: the centre of the box.");
    t.add("init.radius", KeyType::real, Dimension::length)
        .positive()
        .describe("Radius of the sphere (region: sphere, where it is required).");
    t.add("init.file", KeyType::path)
        .describe("Initial cells (placement: file, SPEC §6.2): a CSV with header `id,type,x,y[,z],<gene "
                  "names...>` (`type` a name from `cells.types` or an index; gene columns optional, a subset "
                  "of `grn.genes`; cells take their type's radius) or a tessera.h5 (its `/genes` and "
                  "`/cell_types` equal to `grn.genes` and `cells.types`; cells keep the file's radius and "
                  "cycle). Every rank reads it and keeps the cells in its box.");
    t.add("init.step", KeyType::integer)
        .non_negative()
        .describe("Output step of an HDF5 `init.file` to start from. Default: the last step in the file.");
    t.add_choice("init.genes", {"constant", "uniform", "file"})
        .def("constant")
        .describe("Initial expression: `constant` sets every gene to `init.gene_value`; `uniform` draws each "
                  "gene in [`init.gene_low`, `init.gene_high`); `file` takes every gene from `init.file`, "
                  "which must then give them all. With placement: file, genes the file gives always come "
                  "from it and this rule sets the others.");
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

namespace {

const char* const axis_names[3] = {"x", "y", "z"};

std::string point_text(const std::array<double, 3>& p, int dim) {
  std::string out = "[";
  for (int a = 0; a < dim; ++a)
    out += (a ? ", " : "") + format_number(p[a]);
  return out + "] um";
}

// The ball of a sphere region: its centre (default: the box centre) and radius, checked to lie inside the
// domain, since cells outside it would have no owner.
void read_sphere(const DeckView& s, const Domain& domain, InitialTissue& init) {
  if (!s.has("radius")) s.fail("radius", "region: sphere needs cells.init.radius");
  init.radius = s.real("radius");
  if (s.has("center")) {
    const std::vector<double> center = s.reals("center");
    for (int a = 0; a < domain.dim; ++a)
      init.center[a] = center[a];
  }
  for (int a = 0; a < domain.dim; ++a) {
    const double c = init.center[a], lo = domain.lo[a], hi = domain.hi[a];
    if (c < lo || c > hi)
      s.fail("center", "the sphere's centre " + point_text(init.center, domain.dim) +
                           " lies outside the domain on axis " + axis_names[a] + " ([" + format_number(lo) +
                           ", " + format_number(hi) + "] um)");
    if (c - init.radius < lo || c + init.radius > hi)
      s.fail("radius", "the sphere of radius " + format_number(init.radius) + " um around " +
                           point_text(init.center, domain.dim) + " reaches outside the domain on axis " +
                           axis_names[a] + ": [" + format_number(c - init.radius) + ", " +
                           format_number(c + init.radius) + "] um is not inside [" + format_number(lo) +
                           ", " + format_number(hi) + "] um; it must lie inside the domain");
  }
}

// Reads and checks the whole file once, keeping nothing, so a bad file fails `tessera check` and the run
// knows its cell count before any rank allocates.
void read_file_placement(const DeckView& s, const Domain& domain, const CellTypes& types,
                         InitialTissue& init) {
  if (!s.has("file")) s.fail("file", "placement: file needs cells.init.file (a CSV or HDF5 file of cells)");
  init.file = s.path("file");
  init.file_is_hdf5 = is_hdf5_file(init.file);
  if (s.has("step") && !init.file_is_hdf5)
    s.fail("step",
           "cells.init.step selects an output step of an HDF5 file; '" + init.file + "' is read as CSV");
  init.file_step = s.has("step") ? s.integer("step") : -1;
  CellFileSchema schema;
  schema.domain = domain;
  schema.type_names = types.names;
  schema.type_radius = types.radius;
  schema.gene_names = init.gene_names;
  schema.all_genes_required = init.genes == InitialGenes::file;
  try {
    const CellFileCells cells =
        read_cell_file(init.file, init.file_step, schema, [](const double*) { return false; });
    init.file_cells = cells.rows;
    init.file_step = cells.step;
  } catch (const Error& e) {
    throw Error(e.code(), std::string(e.what()) + "; initial cells from " + s.where("file"));
  }
  if (init.file_cells > types.max_cells)
    s.fail("file", "the file has " + std::to_string(init.file_cells) +
                       " cells, more than cells.max_cells = " + std::to_string(types.max_cells));
}

} // namespace

InitialTissue read_initial_tissue(const Deck& deck, const Domain& domain, const CellTypes& types,
                                  const std::vector<std::string>& gene_names) {
  const DeckView s = deck.section("cells").section("init");
  const int n_genes = static_cast<int>(gene_names.size());
  InitialTissue init;
  const std::string placement = s.text("placement");
  init.placement = placement == "lattice"     ? Placement::lattice
                   : placement == "hexagonal" ? Placement::hexagonal
                   : placement == "file"      ? Placement::file
                                              : Placement::random;
  if (init.placement == Placement::hexagonal && domain.dim != 2)
    s.fail("placement", "placement: hexagonal is a 2-D lattice; domain.dim is " + std::to_string(domain.dim) +
                            " (use placement: lattice)");
  init.count = s.integer("count");
  init.spacing = s.real("spacing");
  init.gene_names = gene_names;
  const std::string genes = s.text("genes");
  init.genes = genes == "uniform" ? InitialGenes::uniform
               : genes == "file"  ? InitialGenes::file
                                  : InitialGenes::constant;
  init.gene_value = s.per_gene("gene_value", n_genes);
  init.gene_low = s.per_gene("gene_low", n_genes);
  init.gene_high = s.per_gene("gene_high", n_genes);
  if (init.genes == InitialGenes::uniform)
    for (int g = 0; g < n_genes; ++g)
      if (init.gene_high[g] < init.gene_low[g])
        s.fail("gene_high", "gene_high must be >= gene_low for every gene (gene " + std::to_string(g) + ")");

  // Keys of another placement are mistakes, not no-ops (keys with defaults excepted: a resolved deck shows
  // them all).
  auto only_with = [&](const char* key, bool applies, const std::string& why) {
    if (s.has(key) && !applies) s.fail(key, why);
  };
  only_with("density", init.placement == Placement::random,
            "cells.init.density applies to placement: random only (placement is '" + placement + "')");
  if (s.has("count") && s.has("density"))
    s.fail("density",
           "give either cells.init.count or cells.init.density, not both (cells.init.count is at " +
               s.where("count") + ")");
  only_with("file", init.placement == Placement::file,
            "cells.init.file is read only with placement: file (placement is '" + placement + "')");
  only_with("step", init.placement == Placement::file,
            "cells.init.step applies to placement: file with an HDF5 file (placement is '" + placement +
                "')");
  if (init.genes == InitialGenes::file && init.placement != Placement::file)
    s.fail("genes",
           "genes: file reads cells.init.file; it needs placement: file (placement is '" + placement + "')");

  init.region = s.text("region") == "sphere" ? InitialRegion::sphere : InitialRegion::box;
  if (init.region == InitialRegion::sphere && init.placement == Placement::file)
    s.fail("region",
           "region: sphere applies to random and lattice placement; a file gives its own positions");
  if (init.region == InitialRegion::sphere && init.placement == Placement::hexagonal)
    s.fail("region", "region: sphere applies to random and lattice placement; hexagonal placement fills the "
                     "box");
  const bool sphere = init.region == InitialRegion::sphere;
  only_with("center", sphere, "cells.init.center is the centre of a sphere; it needs region: sphere");
  only_with("radius", sphere, "cells.init.radius is the radius of a sphere; it needs region: sphere");
  for (int a = 0; a < domain.dim; ++a)
    init.center[a] = 0.5 * (domain.lo[a] + domain.hi[a]);
  if (sphere) read_sphere(s, domain, init);
  if (sphere && init.placement == Placement::lattice)
    for (int a = 0; a < domain.dim; ++a)
      if (domain.extent(a) / init.spacing > 9007199254740992.0) // 2^53: lattice indices stay exact
        s.fail("spacing", "lattice step " + format_number(init.spacing) + " um gives more than 2^53 sites " +
                              "along axis " + axis_names[a] + " of the domain");

  if (s.has("density")) {
    const double density = s.real("density");
    const double volume = initial_region_volume(domain, init);
    // In floating point first: a large density times a large box overflows a long long.
    const double count = std::round(density * volume);
    if (!(count <= static_cast<double>(types.max_cells)))
      s.fail("density", "cells.init.density = " + format_number(density) + " cells/um^" +
                            std::to_string(domain.dim) + " over the region's " + format_number(volume) +
                            " um^" + std::to_string(domain.dim) + " gives " + format_number(count) +
                            " cells, more than cells.max_cells = " + std::to_string(types.max_cells));
    init.count = static_cast<long long>(count);
  }
  if (init.placement == Placement::file) read_file_placement(s, domain, types, init);
  return init;
}

} // namespace tessera
