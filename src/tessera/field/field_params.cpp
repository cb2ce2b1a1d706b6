#include "tessera/field/field_params.hpp"

#include "tessera/core/error.hpp"
#include "tessera/core/units.hpp"
#include "tessera/grn/gene_network.hpp"
#include "tessera/io/deck.hpp"
#include "tessera/tissue/cell_types.hpp"

#include <algorithm>
#include <cmath>

namespace tessera {

namespace {

const char* const face_names[6] = {"x_lo", "x_hi", "y_lo", "y_hi", "z_lo", "z_hi"};

// How many times `part` fits in `whole` when that is a whole number (to 1e-9 relative, so that 0.1 um steps
// in a 100 um box count), else 0.
long long whole_multiple(double whole, double part) {
  const double n = std::round(whole / part);
  if (n < 1 || std::abs(n * part - whole) > 1e-9 * whole) return 0;
  return static_cast<long long>(n);
}

} // namespace

const KeyTable& fields_keys() {
  static const KeyTable table = [] {
    KeyTable t("fields",
               "Diffusible substrates (ligands, nutrients, drugs) on a voxel grid whose blocks are the "
               "rank boxes, advanced by backward Euler with PETSc (issue 12). Without `substrates` "
               "there are no fields.");
    t.add("spacing", KeyType::real, Dimension::length)
        .positive()
        .describe("Voxel edge; must divide every axis of the domain (required with substrates).");
    t.add("dt", KeyType::real, Dimension::time)
        .positive()
        .describe("Field time step; time.dt must be a whole multiple of it (the fields are sub-cycled). "
                  "Default: time.dt.");
    t.add("rtol", KeyType::real)
        .def("1e-12")
        .between(0, 1)
        .describe("Relative residual tolerance of the linear solve of each step: tight by default so results "
                  "agree between rank counts to about 1e-10.");
    t.add("petsc_options", KeyType::text)
        .describe(
            "PETSc options for the field solver, with prefix `fields_` (e.g. `-fields_ksp_type gmres "
            "-fields_pc_type gamg -fields_ksp_monitor`); the default is CG with PETSc's block Jacobi/ILU. "
            "PETSC_OPTIONS in the environment is read too.");
    t.add("substrates", KeyType::entries).describe("The substrates, one DMDA component each.");
    t.add("substrates[].name", KeyType::text)
        .require()
        .describe("Name (unique): output and summary columns.");
    t.add("substrates[].diffusion", KeyType::real, Dimension::diffusivity)
        .require()
        .non_negative()
        .describe("Diffusion coefficient D.");
    t.add("substrates[].decay", KeyType::real, Dimension::rate)
        .def("0")
        .non_negative()
        .describe("Decay rate: dc/dt gains -decay * c.");
    t.add("substrates[].initial", KeyType::real)
        .def("0")
        .non_negative()
        .describe("Initial value everywhere (unless `initial_file` is given).");
    t.add("substrates[].initial_file", KeyType::path)
        .describe("HDF5 file holding every voxel's initial value, in place of `initial`: the dataset "
                  "`initial_dataset`, shaped like the grid with the slowest axis first ([ny, nx] in 2-D, "
                  "[nz, ny, nx] in 3-D), as tessera.h5 stores fields, so `/steps/<n>/fields/<name>` of an "
                  "earlier run starts a new one. Values must be finite and non-negative.");
    t.add("substrates[].initial_dataset", KeyType::text)
        .describe("Dataset in `initial_file`, e.g. `/steps/10/fields/oxygen`.");
    for (const char* face : face_names)
      t.add(std::string("substrates[].boundary.") + face, KeyType::text)
          .def("no_flux")
          .describe(std::string("Face ") + face +
                    ": `no_flux`, or a number (the fixed Dirichlet value on that face). A periodic axis "
                    "(domain.periodic) has neither and must stay `no_flux`.");
    t.add("substrates[].sources", KeyType::entries)
        .describe("Fixed sources: box regions whose voxels (by their centres) gain `rate` per minute.");
    t.add("substrates[].sources[].lo", KeyType::real_list, Dimension::length)
        .of_length(-1)
        .require()
        .describe("Lower corner of the region.");
    t.add("substrates[].sources[].hi", KeyType::real_list, Dimension::length)
        .of_length(-1)
        .require()
        .describe("Upper corner of the region.");
    t.add("substrates[].sources[].rate", KeyType::real, Dimension::rate)
        .require()
        .non_negative()
        .describe("Concentration gained per minute in the region's voxels.");
    t.add("coupling", KeyType::entries)
        .describe(
            "What cells of a type do to a substrate. Each cell deposits into (and takes up from) the one "
            "voxel holding its centre, which its own rank owns: the amount is exact and local.");
    t.add("coupling[].type", KeyType::text).require().describe("Cell type (in cells.types).");
    t.add("coupling[].substrate", KeyType::text).require().describe("Substrate (in fields.substrates).");
    t.add("coupling[].secretion", KeyType::real, Dimension::rate)
        .def("0")
        .non_negative()
        .describe("Amount secreted per cell per minute (times the level of `secretion_gene` when set).");
    t.add("coupling[].secretion_gene", KeyType::text)
        .describe("Gene (in grn.genes) whose level scales the secretion (gene -> field).");
    t.add("coupling[].saturation", KeyType::real)
        .positive()
        .describe("Saturation density (PhysiCell's form): the secretion falls linearly with the voxel's "
                  "concentration c, secretion * (1 - c / saturation), implicitly, so it stops at this "
                  "density and never overshoots it (optional; without it the secretion does not depend "
                  "on c).");
    t.add("coupling[].uptake", KeyType::real, Dimension::rate)
        .def("0")
        .non_negative()
        .describe("Uptake rate: a cell removes uptake * c * V_cell per minute (V_cell: its area in 2-D, "
                  "volume in 3-D), implicitly, so c never goes negative.");
    t.add("receptors", KeyType::entries)
        .describe("Field -> gene: a receptor gene senses a substrate at the cell's centre (interpolated "
                  "between the voxel centres) and gains K * c^n / (h^n + c^n) in its `hill` drive, as a "
                  "ligand -> receptor pair does with its neighbours' ligand.");
    t.add("receptors[].substrate", KeyType::text).require().describe("Substrate (in fields.substrates).");
    t.add("receptors[].gene", KeyType::text).require().describe("Receptor gene (in grn.genes).");
    t.add("receptors[].K", KeyType::real).def("1").non_negative().describe("Strength of the activation.");
    t.add("receptors[].h", KeyType::real)
        .def("0.5")
        .positive()
        .describe("Half-saturation (a concentration).");
    t.add("receptors[].n", KeyType::real).def("2").positive().describe("Hill coefficient.");
    return t;
  }();
  return table;
}

int FieldParams::substeps(double step_dt) const {
  return static_cast<int>(whole_multiple(step_dt, dt));
}

FieldParams read_field_params(const Deck& deck, const Domain& domain, const CellTypes& types,
                              const GeneNetwork& network, double step_dt) {
  const DeckView f = deck.section("fields");
  FieldParams p;
  const auto entries = f.entries("substrates");
  if (entries.empty()) {
    if (!f.entries("coupling").empty())
      f.fail("coupling", "coupling needs fields.substrates (there are no fields)");
    if (!f.entries("receptors").empty())
      f.fail("receptors", "receptors need fields.substrates (there are no fields)");
    return p;
  }
  if (!f.has("spacing")) f.fail("spacing", "required with fields.substrates: the voxel edge");
  p.spacing = f.real("spacing");
  for (int a = 0; a < domain.dim; ++a) {
    const long long n = whole_multiple(domain.extent(a), p.spacing);
    if (n == 0)
      f.fail("spacing", format_number(p.spacing) + " um does not divide axis " + std::to_string(a) +
                            " of the "
                            "domain (" +
                            format_number(domain.extent(a)) + " um)");
    if (n > 1 << 28) f.fail("spacing", format_number(p.spacing) + " um gives too many voxels");
    p.voxels[a] = static_cast<int>(n);
  }
  p.dt = f.has("dt") ? f.real("dt") : step_dt;
  if (p.substeps(step_dt) == 0)
    f.fail("dt", format_number(p.dt) + " min does not divide time.dt = " + format_number(step_dt) + " min");
  p.rtol = f.real("rtol");
  if (f.has("petsc_options")) p.petsc_options = f.text("petsc_options");

  for (const DeckView& e : entries) {
    Substrate s;
    s.name = e.text("name");
    for (const Substrate& other : p.substrates)
      if (other.name == s.name) e.fail("name", "the substrate '" + s.name + "' is named twice");
    s.diffusion = e.real("diffusion");
    s.decay = e.real("decay");
    s.initial = e.real("initial");
    if (e.has("initial_file") != e.has("initial_dataset"))
      e.fail(e.has("initial_file") ? "initial_file" : "initial_dataset",
             "initial_file and initial_dataset go together: the HDF5 file and the dataset in it");
    if (e.has("initial_file")) {
      s.initial_file = e.path("initial_file");
      s.initial_dataset = e.text("initial_dataset");
    }
    const DeckView b = e.section("boundary");
    for (int face = 0; face < 6; ++face) {
      const std::string text = b.text(face_names[face]);
      if (text == "no_flux") continue;
      const int axis = face / 2;
      if (axis >= domain.dim) b.fail(face_names[face], "a 2-D domain has no z faces: leave it no_flux");
      if (domain.periodic[axis])
        b.fail(face_names[face], "axis " + std::to_string(axis) +
                                     " is periodic (domain.periodic), so its faces are neither no_flux nor "
                                     "Dirichlet: leave it no_flux");
      const ParsedQuantity q = parse_quantity(text, Dimension::none);
      if (!q.ok || !std::isfinite(q.value) || q.value < 0)
        b.fail(face_names[face], "'" + text + "' is neither no_flux nor a non-negative number");
      s.boundary[face] = FieldBoundary{true, q.value};
    }
    for (const DeckView& src : e.entries("sources")) {
      FieldSource source;
      const auto lo = src.reals("lo"), hi = src.reals("hi");
      for (int a = 0; a < domain.dim; ++a) {
        source.lo[a] = lo[a];
        source.hi[a] = hi[a];
        if (!(lo[a] < hi[a]))
          src.fail("hi", "the region is empty along axis " + std::to_string(a) + " (hi <= lo)");
      }
      source.rate = src.real("rate");
      s.sources.push_back(source);
    }
    p.substrates.push_back(std::move(s));
  }

  for (const DeckView& e : f.entries("coupling")) {
    FieldCoupling c;
    const std::string type = e.text("type");
    const auto t = std::find(types.names.begin(), types.names.end(), type);
    if (t == types.names.end()) e.fail("type", "unknown cell type '" + type + "' (not in cells.types)");
    c.type = static_cast<int>(t - types.names.begin());
    const std::string substrate = e.text("substrate");
    c.substrate = -1;
    for (std::size_t k = 0; k < p.substrates.size(); ++k)
      if (p.substrates[k].name == substrate) c.substrate = static_cast<int>(k);
    if (c.substrate < 0)
      e.fail("substrate", "unknown substrate '" + substrate + "' (not in fields.substrates)");
    for (const FieldCoupling& other : p.couplings)
      if (other.type == c.type && other.substrate == c.substrate)
        e.fail("substrate", "cell type '" + type + "' and substrate '" + substrate + "' are coupled twice");
    c.secretion = e.real("secretion");
    c.uptake = e.real("uptake");
    if (e.has("saturation")) c.saturation = e.real("saturation");
    if (e.has("secretion_gene")) {
      const std::string gene = e.text("secretion_gene");
      c.secretion_gene = network.gene_index(gene);
      if (c.secretion_gene < 0) e.fail("secretion_gene", "unknown gene '" + gene + "' (not in grn.genes)");
    }
    p.couplings.push_back(c);
  }

  for (const DeckView& e : f.entries("receptors")) {
    FieldReceptor r;
    const std::string substrate = e.text("substrate");
    r.substrate = -1;
    for (std::size_t k = 0; k < p.substrates.size(); ++k)
      if (p.substrates[k].name == substrate) r.substrate = static_cast<int>(k);
    if (r.substrate < 0)
      e.fail("substrate", "unknown substrate '" + substrate + "' (not in fields.substrates)");
    const std::string gene = e.text("gene");
    r.receptor = network.gene_index(gene);
    if (r.receptor < 0) e.fail("gene", "unknown gene '" + gene + "' (not in grn.genes)");
    for (const FieldReceptor& other : p.receptors)
      if (other.substrate == r.substrate && other.receptor == r.receptor)
        e.fail("gene", "'" + gene + "' senses '" + substrate + "' twice");
    r.K = e.real("K");
    r.h = e.real("h");
    r.n = e.real("n");
    p.receptors.push_back(r);
  }
  return p;
}

std::array<int, 3> voxels_per_rank_box(const FieldParams& fields, const Domain& domain,
                                       const std::array<int, 3>& dims) {
  std::array<int, 3> per_box{1, 1, 1};
  for (int a = 0; a < domain.dim; ++a) {
    if (fields.voxels[a] % dims[a] != 0)
      throw input_error("fields.spacing: the " + std::to_string(fields.voxels[a]) + " voxels along axis " +
                        std::to_string(a) + " do not split evenly over the " + std::to_string(dims[a]) +
                        " rank boxes of that axis (parallel.dims), so the rank boxes are not grid-aligned: "
                        "choose a spacing or parallel.dims for which they do");
    per_box[a] = fields.voxels[a] / dims[a];
  }
  return per_box;
}

} // namespace tessera
