#include "tessera/grn/model_factory.hpp"

#include "tessera/core/error.hpp"
#include "tessera/grn/graph_ode.hpp"
#include "tessera/grn/learnable_hill.hpp"
#include "tessera/grn/model_file.hpp"
#include "tessera/grn/sigmoid.hpp"
#include "tessera/io/deck.hpp"
#include "tessera/io/hdf5.hpp"

#include <algorithm>

namespace tessera {

const std::vector<std::string>& trainable_families() {
  static const std::vector<std::string> families = {"graph_ode", "hill", "sigmoid"};
  return families;
}

bool is_trainable_family(const std::string& family) {
  const auto& f = trainable_families();
  return std::find(f.begin(), f.end(), family) != f.end();
}

namespace {

std::string family_list() {
  std::string out;
  for (const std::string& f : trainable_families())
    out += (out.empty() ? "" : ", ") + f;
  return out;
}

} // namespace

TrainableModelSpec graph_ode_model_spec(const GraphOdeConfig& config) {
  TrainableModelSpec spec;
  spec.family = "graph_ode";
  spec.dense = config.architecture.prior == PriorGraph::dense;
  spec.model_file = config.model_file;
  spec.resident_bytes = [a = config.architecture](int n_genes, int n_types) {
    return GraphOdeModel::resident_bytes(a, n_genes, a.share == ParameterSharing::per_type ? n_types : 1);
  };
  spec.make = [config](MPI_Comm comm, const TrainableModelSpec& s, const GeneNetwork& network,
                       const SignalingParams& signaling, const std::vector<std::string>& type_names) {
    GraphOdeConfig c = config;
    c.model_file = s.model_file;
    // The per-edge terms' entries follow the gene graph the model is built on, known only now (train
    // completes it from the dataset).
    resolve_edge_terms(c.architecture, network, static_cast<int>(type_names.size()));
    return std::unique_ptr<TrainableGeneModel>(make_graph_ode_model(comm, c, network, signaling, type_names));
  };
  spec.check_file = [a = config.architecture](const std::string& path, const std::vector<std::string>& genes,
                                              const std::vector<std::string>& type_names) {
    // With per-edge terms the expected entries depend on the gene graph: the model checks them when it
    // reads the file (GraphOdeModel::read).
    if (a.edge_weights == EdgeTerms::none && a.edge_bias == EdgeTerms::none)
      (void)read_graph_ode_model(path, a, genes, type_names);
  };
  return spec;
}

namespace {

TrainableModelSpec learnable_hill_spec(const LearnableHillConfig& config) {
  TrainableModelSpec spec;
  spec.family = "hill";
  spec.dense = config.prior == PriorGraph::dense;
  spec.model_file = config.model_file;
  spec.warm_start = config.init == LearnableHillConfig::Init::ridge;
  spec.prefit_by_default = spec.warm_start;
  spec.make = [config](MPI_Comm comm, const TrainableModelSpec& s, const GeneNetwork& network,
                       const SignalingParams& signaling, const std::vector<std::string>& type_names) {
    LearnableHillConfig c = config;
    c.model_file = s.model_file;
    return std::unique_ptr<TrainableGeneModel>(
        make_learnable_hill_model(comm, c, network, signaling, type_names));
  };
  spec.check_file = [config](const std::string& path, const std::vector<std::string>& genes,
                             const std::vector<std::string>& type_names) {
    check_learnable_hill_model_file(path, config, genes, type_names);
  };
  return spec;
}

TrainableModelSpec sigmoid_spec(const SigmoidConfig& config) {
  TrainableModelSpec spec;
  spec.family = "sigmoid";
  spec.dense = config.prior == PriorGraph::dense;
  spec.model_file = config.model_file;
  spec.warm_start = config.init == SigmoidConfig::Init::ridge;
  // With log inputs each regulator's term is a Hill function, so a closer fit of the data's derivative helps
  // the recovery as it does `hill`'s; with linear inputs it fits closer without recovering better
  // (docs/performance.md "Inference").
  spec.prefit_by_default = spec.warm_start && config.inputs.log;
  spec.log_input_offset = config.inputs.log ? config.inputs.offset : 0.0;
  spec.make = [config](MPI_Comm comm, const TrainableModelSpec& s, const GeneNetwork& network,
                       const SignalingParams& signaling, const std::vector<std::string>& type_names) {
    SigmoidConfig c = config;
    c.model_file = s.model_file;
    return std::unique_ptr<TrainableGeneModel>(make_sigmoid_model(comm, c, network, signaling, type_names));
  };
  // Format, family, prior, genes and cell types now; the file's candidate graph and pairs (which the data
  // may complete) when the model reads it.
  spec.check_file = [prior = config.prior,
                     inputs = config.inputs](const std::string& path, const std::vector<std::string>& genes,
                                             const std::vector<std::string>& type_names) {
    check_sigmoid_model_file(path, prior, genes, type_names, inputs);
  };
  // W: one value per candidate edge; dense, T G (G - 1) of them, each with its device source index and the
  // host copies of (type, source, target): 24 bytes, a lower bound (training adds a gradient and moments).
  if (spec.dense)
    spec.resident_bytes = [](int n_genes, int n_types) {
      return 24.0 * n_types * static_cast<double>(n_genes) * (n_genes - 1);
    };
  return spec;
}

} // namespace

TrainableModelSpec read_trainable_model_spec(const Deck& deck, const std::string& family,
                                             const std::string& key) {
  if (family == "graph_ode") return graph_ode_model_spec(read_graph_ode_config(deck));
  if (family == "hill") return learnable_hill_spec(read_learnable_hill_config(deck));
  if (family == "sigmoid") return sigmoid_spec(read_sigmoid_config(deck));
  const auto dot = key.rfind('.');
  const DeckView section = key.rfind("train.", 0) == 0 ? deck.section("train") : deck.section("grn");
  section.fail(dot == std::string::npos ? key : key.substr(dot + 1),
               "'" + family + "' is not a model tessera can fit; choose one of " + family_list());
}

void TrainableModelSpec::check(const std::string& path, const std::vector<std::string>& genes,
                               const std::vector<std::string>& type_names) const {
  const std::string found = model_file_family(path);
  if (found != family)
    throw input_error(path + ": a " + found + " model, but the deck's model is " + family +
                      " (grn.model or train.model)");
  if (check_file) check_file(path, genes, type_names);
}

std::string model_file_family(const std::string& path) {
  h5::File file = h5::File::open_read(path);
  require_model_file(file);
  if (!h5::has_attribute(file.get(), "family")) return "graph_ode";
  return h5::read_text_attribute(file.get(), "family");
}

} // namespace tessera
