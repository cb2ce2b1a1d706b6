// model.h5 of the learnable `hill` model (SPEC §6.5): the parameters with everything needed to tell whether
// they belong to a deck's model, the candidate edges and LR pairs above all.
#include "tessera/core/error.hpp"
#include "tessera/grn/learnable_hill.hpp"
#include "tessera/grn/model_file.hpp"
#include "tessera/io/hdf5.hpp"

#include <cmath>

namespace tessera {

namespace {

void write_ints(hid_t parent, const std::string& name, const std::vector<int>& values) {
  const std::int64_t n = static_cast<std::int64_t>(values.size());
  std::vector<std::int32_t> data(values.begin(), values.end());
  h5::write_rows(parent, name, data.data(), h5::Rows{0, n, n});
}

} // namespace

void write_learnable_hill_model(h5::File& file, const LearnableHillModel& model) {
  const hid_t root = file.get();
  const ModelParameters& parameters = model.parameters();
  const LearnableHillConfig& config = model.config();
  write_model_identity(file, parameters);
  {
    h5::Handle group = h5::create_group(root, "hill");
    h5::write_text_attribute(group.get(), "prior", to_string(config.prior));
    h5::write_int_attribute(group.get(), "learn_n", config.learn_n ? 1 : 0);
    h5::write_real_attribute(group.get(), "n", config.n);
  }
  h5::write_strings(root, "genes", parameters.genes());
  h5::write_strings(root, "cell_types", parameters.cell_types());
  {
    const CandidateEdges& c = model.candidates();
    std::vector<int> type, source, target;
    for (int e = 0; e < c.n_edges(); ++e) {
      type.push_back(c.type(e));
      source.push_back(c.source(e));
      target.push_back(c.target(e));
    }
    h5::Handle group = h5::create_group(root, "edges");
    write_ints(group.get(), "type", type);
    write_ints(group.get(), "source", source);
    write_ints(group.get(), "target", target);
  }
  {
    std::vector<int> ligand, receptor;
    for (const LigandReceptorPair& p : model.pairs()) {
      ligand.push_back(p.ligand);
      receptor.push_back(p.receptor);
    }
    h5::Handle group = h5::create_group(root, "pairs");
    write_ints(group.get(), "ligand", ligand);
    write_ints(group.get(), "receptor", receptor);
  }
  write_model_parameters(file, parameters);
}

namespace {

// What the deck alone fixes: format, family, /hill settings, genes and cell types (in order: the edges and
// pairs are stored by index).
void check_settings(const h5::File& file, const std::string& path, const LearnableHillConfig& config,
                    const std::vector<std::string>& genes, const std::vector<std::string>& type_names) {
  const hid_t root = file.get();
  auto fail = [&](const std::string& message) { throw input_error(path + ": " + message); };
  require_model_file(file);
  const std::string family =
      h5::has_attribute(root, "family") ? h5::read_text_attribute(root, "family") : std::string("graph_ode");
  if (family != "hill")
    fail("family = " + family + " but the deck's model is hill (grn.model or train.model)");
  if (!h5::exists(root, "hill")) fail("no /hill group");
  {
    h5::Handle group = h5::open_group(root, "hill");
    const std::string prior = h5::read_text_attribute(group.get(), "prior");
    if (prior != to_string(config.prior))
      fail("/hill prior = " + prior + " but grn.hill.prior = " + to_string(config.prior));
    const bool learn_n = h5::read_int_attribute(group.get(), "learn_n") != 0;
    if (learn_n != config.learn_n)
      fail(std::string("/hill learn_n = ") + (learn_n ? "true" : "false") +
           " but grn.hill.learn_n = " + (config.learn_n ? "true" : "false"));
    if (!config.learn_n) {
      const double n = h5::read_real_attribute(group.get(), "n");
      if (n != config.n)
        fail("/hill n = " + std::to_string(n) + " but grn.hill.n = " + std::to_string(config.n));
    }
  }
  if (h5::read_strings(root, "genes") != genes)
    fail("/genes differ from the deck's grn.genes (the same names in the same order are needed)");
  if (h5::read_strings(root, "cell_types") != type_names)
    fail("/cell_types differ from the deck's cells.types (the same names in the same order are needed)");
}

} // namespace

void check_learnable_hill_model_file(const std::string& path, const LearnableHillConfig& config,
                                     const std::vector<std::string>& genes,
                                     const std::vector<std::string>& type_names) {
  const h5::File file = h5::File::open_read(path);
  check_settings(file, path, config, genes, type_names);
}

void read_learnable_hill_model(const std::string& path, LearnableHillModel& model) {
  h5::File file = h5::File::open_read(path);
  const hid_t root = file.get();
  auto fail = [&](const std::string& message) { throw input_error(path + ": " + message); };
  ModelParameters& parameters = model.parameters();
  check_settings(file, path, model.config(), parameters.genes(), parameters.cell_types());
  const std::vector<std::string>& genes = parameters.genes();
  const std::vector<std::string>& types = parameters.cell_types();

  auto read_ints = [&](const std::string& group, const std::string& name, std::size_t expected) {
    const std::string where = "/" + group + "/" + name;
    if (!h5::exists(root, where)) fail("no " + where);
    const std::vector<std::int64_t> found = h5::shape(root, where);
    if (found != std::vector<std::int64_t>{static_cast<std::int64_t>(expected)})
      fail(where + " has shape " + h5::shape_text(found) + " but the deck's model has " +
           std::to_string(expected));
    h5::Handle g = h5::open_group(root, group);
    return h5::read_all<std::int32_t>(g.get(), name);
  };
  const CandidateEdges& candidates = model.candidates();
  const std::size_t E = static_cast<std::size_t>(candidates.n_edges());
  const std::vector<std::int32_t> type = read_ints("edges", "type", E),
                                  source = read_ints("edges", "source", E),
                                  target = read_ints("edges", "target", E);
  for (std::size_t e = 0; e < E; ++e)
    if (type[e] != candidates.type(static_cast<int>(e)) ||
        source[e] != candidates.source(static_cast<int>(e)) ||
        target[e] != candidates.target(static_cast<int>(e)))
      fail("/edges row " + std::to_string(e) + " is not the deck's candidate edge " + std::to_string(e) +
           " (type " + types[static_cast<std::size_t>(candidates.type(static_cast<int>(e)))] + ": " +
           genes[static_cast<std::size_t>(candidates.source(static_cast<int>(e)))] + " -> " +
           genes[static_cast<std::size_t>(candidates.target(static_cast<int>(e)))] +
           "): the model was trained on another prior graph (grn.hill.prior, grn.edges, train prior)");
  const std::size_t P = model.pairs().size();
  const std::vector<std::int32_t> ligand = read_ints("pairs", "ligand", P),
                                  receptor = read_ints("pairs", "receptor", P);
  for (std::size_t p = 0; p < P; ++p)
    if (ligand[p] != model.pairs()[p].ligand || receptor[p] != model.pairs()[p].receptor)
      fail("/pairs row " + std::to_string(p) + " is not the deck's signalling pair " +
           genes[static_cast<std::size_t>(model.pairs()[p].ligand)] + " -> " +
           genes[static_cast<std::size_t>(model.pairs()[p].receptor)]);

  const std::string where = "/params/" + parameters.set_name(0);
  if (!h5::exists(root, where)) fail("no " + where + " group");
  h5::Handle group = h5::open_group(root, where);
  for (const std::string& name : h5::children(group.get()))
    if (!parameters.layout().has(name)) fail(where + "/" + name + " is not a tensor of the hill model");
  for (const TensorSpec& t : parameters.layout().tensors()) {
    if (!h5::exists(group.get(), t.name)) fail(where + "/" + t.name + " is missing");
    const std::vector<std::int64_t> found = h5::shape(group.get(), t.name);
    if (found != t.shape)
      fail(where + "/" + t.name + " has shape " + h5::shape_text(found) + " but the model needs " +
           h5::shape_text(t.shape));
    const std::vector<double> values = h5::read_all<double>(group.get(), t.name);
    for (const double v : values)
      if (!std::isfinite(v)) fail(where + "/" + t.name + " holds a non-finite value");
    parameters.set_tensor(0, t.name, values);
  }
}

} // namespace tessera
