#include "tessera/learn/predict_params.hpp"

#include "tessera/core/error.hpp"
#include "tessera/core/units.hpp"
#include "tessera/grn/gene_network.hpp"
#include "tessera/grn/graph_ode_parameters.hpp"
#include "tessera/io/deck.hpp"
#include "tessera/io/hdf5.hpp"
#include "tessera/learn/dataset.hpp"
#include "tessera/learn/trainer.hpp"

#include <algorithm>
#include <cmath>
#include <memory>

namespace tessera {

std::string to_string(PerturbationAction action) {
  switch (action) {
  case PerturbationAction::knockout:
    return "knockout";
  case PerturbationAction::overexpress:
    return "overexpress";
  case PerturbationAction::scale:
    return "scale";
  }
  return "?";
}

bool CellSelection::in_region(const double* p, int dim) const {
  switch (region) {
  case SelectionRegion::none:
    return true;
  case SelectionRegion::box:
    for (int a = 0; a < dim; ++a)
      if (p[a] < lo[a] || p[a] > hi[a]) return false;
    return true;
  case SelectionRegion::ball: {
    double d2 = 0.0;
    for (int a = 0; a < dim; ++a)
      d2 += (p[a] - center[a]) * (p[a] - center[a]);
    return d2 <= radius * radius;
  }
  }
  return true;
}

std::string CellSelection::describe(const std::vector<std::string>& type_names) const {
  std::string out;
  auto add = [&](const std::string& part) { out += (out.empty() ? "" : " and ") + part; };
  if (!types.empty()) {
    std::string list;
    for (const int t : types)
      list += (list.empty() ? "" : ",") + type_names[static_cast<std::size_t>(t)];
    add("types [" + list + "]");
  }
  if (by_id) add(std::to_string(ids.size()) + " listed ids");
  auto point = [](const std::array<double, 3>& p, int n) {
    std::string s;
    for (int a = 0; a < n; ++a)
      s += (a ? "," : "") + format_number(p[a]);
    return "[" + s + "]";
  };
  const int n = lo[2] != 0 || hi[2] != 0 || center[2] != 0 ? 3 : 2;
  if (region == SelectionRegion::box) add("box " + point(lo, n) + "-" + point(hi, n) + " um at the start");
  if (region == SelectionRegion::ball)
    add("ball " + point(center, n) + " r " + format_number(radius) + " um at the start");
  return out.empty() ? "all cells" : out;
}

std::string Perturbation::describe(const std::vector<std::string>& type_names) const {
  std::string what = to_string(action) + " " + gene_name;
  if (action == PerturbationAction::overexpress) what += " = " + format_number(value);
  if (action == PerturbationAction::scale) what += " x " + format_number(value);
  return what + " in " + cells.describe(type_names);
}

const KeyTable& predict_keys() {
  static const KeyTable table = [] {
    KeyTable t("predict", "Forward prediction with a fitted `graph_ode` model and perturbations (`tessera "
                          "predict`, SPEC §3.6). The rest of the deck is a simulation deck with "
                          "`grn.model: graph_ode` whose `grn.graph_ode` architecture matches the model.");
    t.add("model", KeyType::path)
        .describe("model.h5 written by `tessera train` (SPEC §6.5); required by `tessera predict`. Its "
                  "family and settings must match `grn.model` and `grn.<family>` (graph_ode's architecture, "
                  "sigmoid's prior and inputs, ...), its genes and cell types `grn.genes` and `cells.types`. "
                  "It runs on the gene graph it was trained on: `train.prior` when the deck has one, else "
                  "`grn.edges`/`grn.table`. Replaces `grn.<family>.model_file`, which must then be absent.");
    t.add("dataset", KeyType::path)
        .describe(
            "Trajectory dataset (SPEC §6.3) whose cells (ids, types, positions, expression at "
            "observation `start`) are the initial tissue; the clock starts at that observation's time "
            "and the prediction runs to `time.end`. Absent: the tissue of the `cells` section at t = 0.");
    t.add("start", KeyType::integer)
        .def("0")
        .non_negative()
        .describe("Observation index of `dataset` to start from (0: the first observation).");
    t.add("perturbations", KeyType::entries)
        .describe("Perturbations, applied in order (a later one wins where two clamp the same gene of a "
                  "cell). Each selects the cells passing every criterion given (`types`, `ids`, `region`); "
                  "none given: all cells.");
    t.add("perturbations[].gene", KeyType::text).require().describe("Gene to perturb (in `grn.genes`).");
    t.add_choice("perturbations[].action", {"knockout", "overexpress", "scale"})
        .require()
        .describe("`knockout`: the gene is clamped to 0 in the selected cells for the whole prediction (its "
                  "value is set at the start and its rate of change is held at 0). `overexpress`: clamped "
                  "to `value` the same way. `scale`: the gene's expression at the start is multiplied by "
                  "`value` once; the model's own dynamics then continue from there.");
    t.add("perturbations[].value", KeyType::real)
        .non_negative()
        .describe("Over-expression level, or the scale factor; required by `overexpress` and `scale`, "
                  "rejected for `knockout`.");
    t.add("perturbations[].types", KeyType::text_list)
        .describe("Select cells of these types (names from `cells.types`); tested at every step.");
    t.add("perturbations[].ids", KeyType::integer_list)
        .non_negative()
        .describe("Select the cells with these ids; every id must be a cell of the initial tissue.");
    t.add("perturbations[].region.lo", KeyType::real_list, Dimension::length)
        .of_length(-1)
        .describe("Box region: lower corner; with `region.hi`, selects the cells whose centre lies in the "
                  "closed box at the start time (their ids are then fixed).");
    t.add("perturbations[].region.hi", KeyType::real_list, Dimension::length)
        .of_length(-1)
        .describe("Box region: upper corner.");
    t.add("perturbations[].region.center", KeyType::real_list, Dimension::length)
        .of_length(-1)
        .describe("Ball region: centre; with `region.radius`, selects the cells whose centre lies in the "
                  "closed ball at the start time (their ids are then fixed).");
    t.add("perturbations[].region.radius", KeyType::real, Dimension::length)
        .positive()
        .describe("Ball region: radius.");
    return t;
  }();
  return table;
}

namespace {

int index_of(const std::vector<std::string>& names, const std::string& name) {
  const auto it = std::find(names.begin(), names.end(), name);
  return it == names.end() ? -1 : static_cast<int>(it - names.begin());
}

std::string name_list(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names)
    out += (out.empty() ? "" : ", ") + n;
  return out;
}

CellSelection read_selection(const DeckView& e, const std::vector<std::string>& type_names, int dim) {
  CellSelection s;
  if (e.has("types")) {
    const std::vector<std::string> names = e.texts("types");
    if (names.empty())
      e.fail("types", "an empty list selects no cell; leave the key out to select every type");
    for (const std::string& name : names) {
      const int t = index_of(type_names, name);
      if (t < 0)
        e.fail("types", "unknown cell type '" + name + "' (cells.types: " + name_list(type_names) + ")");
      if (std::find(s.types.begin(), s.types.end(), t) == s.types.end()) s.types.push_back(t);
    }
  }
  if (e.has("ids")) {
    s.by_id = true;
    for (const long long id : e.integers("ids")) {
      if (id < 0) e.fail("ids", "cell ids are non-negative, got " + std::to_string(id));
      s.ids.push_back(static_cast<std::uint64_t>(id));
    }
    if (s.ids.empty()) e.fail("ids", "an empty list selects no cell; leave the key out to select every cell");
    std::sort(s.ids.begin(), s.ids.end());
    s.ids.erase(std::unique(s.ids.begin(), s.ids.end()), s.ids.end());
  }
  const DeckView r = e.section("region");
  const bool box = r.has("lo") || r.has("hi");
  const bool ball = r.has("center") || r.has("radius");
  if (box || ball) {
    if (box && ball)
      r.fail(r.has("center") ? "center" : "radius",
             "a region is a box (lo, hi) or a ball (center, radius), not both");
    if (box) {
      if (!r.has("lo")) r.fail("lo", "a box region needs both lo and hi");
      if (!r.has("hi")) r.fail("hi", "a box region needs both lo and hi");
      const std::vector<double> lo = r.reals("lo"), hi = r.reals("hi");
      for (int a = 0; a < dim; ++a) {
        s.lo[a] = lo[a];
        s.hi[a] = hi[a];
        if (!(hi[a] >= lo[a]))
          r.fail("hi", "must not be below region.lo on axis " + std::to_string(a) + " (" +
                           format_number(hi[a]) + " < " + format_number(lo[a]) + ")");
      }
      s.region = SelectionRegion::box;
    } else {
      if (!r.has("center")) r.fail("center", "a ball region needs both center and radius");
      if (!r.has("radius")) r.fail("radius", "a ball region needs both center and radius");
      const std::vector<double> c = r.reals("center");
      for (int a = 0; a < dim; ++a)
        s.center[a] = c[a];
      s.radius = r.real("radius");
      s.region = SelectionRegion::ball;
    }
  }
  return s;
}

} // namespace

PredictParams read_predict_params(const Deck& deck, const std::vector<std::string>& genes,
                                  const std::vector<std::string>& type_names, int dim) {
  const DeckView s = deck.section("predict");
  PredictParams p;
  if (!s.has("model")) s.fail("model", "tessera predict needs a fitted model (predict.model: model.h5)");
  p.model = s.path("model");
  if (s.has("dataset")) p.dataset = s.path("dataset");
  p.start = s.integer("start");
  if (p.dataset.empty() && p.start != 0)
    s.fail("start", "an observation index needs predict.dataset; without it the prediction starts at t = 0 "
                    "from the cells section");
  for (const DeckView& e : s.entries("perturbations")) {
    Perturbation q;
    q.where = e.has("ids") ? e.where("ids") : e.where("gene");
    q.gene_name = e.text("gene");
    q.gene = index_of(genes, q.gene_name);
    if (q.gene < 0)
      e.fail("gene", "unknown gene '" + q.gene_name + "' (grn.genes: " + name_list(genes) + ")");
    const std::string action = e.text("action");
    q.action = action == "knockout"      ? PerturbationAction::knockout
               : action == "overexpress" ? PerturbationAction::overexpress
                                         : PerturbationAction::scale;
    if (q.action == PerturbationAction::knockout) {
      if (e.has("value"))
        e.fail("value", "a knockout clamps the gene to 0: remove value (or use overexpress)");
      q.value = 0.0;
    } else {
      if (!e.has("value"))
        e.fail("action", action + " needs a value (" +
                             (q.action == PerturbationAction::overexpress ? "the clamped expression level"
                                                                          : "the scale factor") +
                             ")");
      q.value = e.real("value");
    }
    q.cells = read_selection(e, type_names, dim);
    p.perturbations.push_back(std::move(q));
  }
  return p;
}

PredictSetup read_predict_setup(const Deck& deck, int n_ranks) {
  PredictSetup out;
  SimulationSetup& sim = out.simulation;
  sim = read_simulation_setup(deck, n_ranks);
  const DeckView grn = deck.section("grn");
  if (!sim.uses_learned_model() && !is_trainable_family(sim.network.model))
    grn.fail("model", "tessera predict runs a fitted model: set grn.model to the family of predict.model");
  const std::string family = sim.uses_learned_model() ? sim.learned_model.family : sim.network.model;
  if (grn.section(family).has("model_file"))
    grn.section(family).fail("model_file", "tessera predict reads the model from predict.model: remove grn." +
                                               family + ".model_file");
  out.predict = read_predict_params(deck, sim.network.genes, sim.types.names, sim.domain.dim);
  const PredictParams& p = out.predict;
  const DeckView s = deck.section("predict");
  // The model must be of the deck's family and fit its settings, genes and types: checked here so the error
  // names the key.
  TrainableModelSpec spec =
      sim.uses_learned_model() ? sim.learned_model : read_trainable_model_spec(deck, family);
  // On the gene graph the model was trained on (with grn.edges instead of a train.prior, a sigmoid or hill
  // model's file would not match, and a graph_ode model would attend over another graph).
  use_training_graph(deck, spec, sim.types, sim.network);
  try {
    spec.check(p.model, sim.network.genes, sim.types.names);
  } catch (const Error& e) {
    s.fail("model", e.what());
  }
  spec.model_file = p.model;
  sim.learned_model = std::move(spec);
  if (sim.lifecycle.divides())
    for (std::size_t i = 0; i < p.perturbations.size(); ++i)
      if (p.perturbations[i].cells.by_start_ids())
        s.entries("perturbations")[i].fail(p.perturbations[i].cells.by_id ? "ids" : "region",
                                           "selections by id or region are fixed at the start and would not "
                                           "follow daughter cells: remove cells.division or select by types");

  if (!p.dataset.empty()) {
    TrajectoryDataset ds;
    try {
      ds = read_dataset(p.dataset);
      check_dataset_matches(ds, sim.network.genes, sim.types.names, p.dataset);
    } catch (const Error& e) {
      s.fail("dataset", e.what());
    }
    if (p.start >= static_cast<long long>(ds.n_times()))
      s.fail("start", "the dataset has " + std::to_string(ds.n_times()) + " observations (indices 0.." +
                          std::to_string(ds.n_times() - 1) + ")");
    if (ds.dim != sim.domain.dim)
      s.fail("dataset", p.dataset + " is " + std::to_string(ds.dim) + "-D but domain.dim is " +
                            std::to_string(sim.domain.dim));
    const auto t = static_cast<std::size_t>(p.start);
    sim.start_time = ds.time[t];
    auto cells = std::make_shared<CellSnapshot>();
    const std::size_t n = ds.n_cells(), G = ds.n_genes();
    const int dim = ds.dim;
    cells->dim = dim;
    cells->n_genes = static_cast<int>(G);
    cells->id = ds.cell_id;
    cells->type = ds.cell_type;
    cells->position.resize(n * static_cast<std::size_t>(dim));
    cells->radius.resize(n);
    cells->genes.resize(n * G);
    cells->cycle.assign(n, 0.0);
    const std::size_t position_offset = ds.positions_per_time ? t * n * static_cast<std::size_t>(dim) : 0;
    for (std::size_t i = 0; i < n; ++i) {
      cells->radius[i] = sim.types.radius[static_cast<std::size_t>(ds.cell_type[i])];
      for (int a = 0; a < dim; ++a) {
        const double x = ds.positions[position_offset + i * static_cast<std::size_t>(dim) + a];
        if (!(x >= sim.domain.lo[a] && x < sim.domain.hi[a]))
          s.fail("dataset", p.dataset + ": cell id " + std::to_string(ds.cell_id[i]) + " lies at " +
                                format_number(x) + " um on axis " + std::to_string(a) +
                                ", outside the domain [" + format_number(sim.domain.lo[a]) + ", " +
                                format_number(sim.domain.hi[a]) + ")");
        cells->position[i * static_cast<std::size_t>(dim) + a] = x;
      }
      for (std::size_t g = 0; g < G; ++g)
        cells->genes[i * G + g] = ds.x(t, i, g);
    }
    // As `tessera train` does: without pairs in the deck, the dataset's (with the deck's range and length).
    sim.signaling.default_pairs(ds.ligand_receptor);
    if (static_cast<long long>(n) > sim.types.max_cells)
      s.fail("dataset", p.dataset + " has " + std::to_string(n) +
                            " cells, more than cells.max_cells = " + std::to_string(sim.types.max_cells));
    sim.initial_cells = std::move(cells);
  }
  if (!(sim.time.end > sim.start_time))
    deck.section("time").fail("end", "the prediction starts at t = " + format_number(sim.start_time) +
                                         " min (predict.start) and must end after it");
  return out;
}

void write_prediction_attributes(const std::string& h5_path, const std::string& model,
                                 const std::string& perturbations) {
  h5::File file = h5::File::open_append(h5_path);
  h5::write_text_attribute(file.get(), "predict_model", model);
  h5::write_text_attribute(file.get(), "predict_perturbations", perturbations);
  file.close();
}

} // namespace tessera
