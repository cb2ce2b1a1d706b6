#include "tessera/grn/graph_ode_parameters.hpp"

#include "tessera/core/error.hpp"
#include "tessera/core/rng.hpp"
#include "tessera/grn/gene_network.hpp"
#include "tessera/grn/model_file.hpp"
#include "tessera/io/deck.hpp"
#include "tessera/io/hdf5.hpp"

#include <algorithm>
#include <cmath>
#include <map>

namespace tessera {

std::string to_string(AttentionVariant variant) {
  return variant == AttentionVariant::gat ? "gat" : "gatv2";
}
std::string to_string(ParameterSharing share) {
  return share == ParameterSharing::all ? "all" : "per_type";
}
std::string to_string(PriorGraph prior) {
  return prior == PriorGraph::edges ? "edges" : "dense";
}
std::string to_string(EdgeTerms terms) {
  return terms == EdgeTerms::none ? "none" : terms == EdgeTerms::per_type ? "per_type" : "shared";
}
std::string to_string(GraphOdePrecision precision) {
  return precision == GraphOdePrecision::mixed ? "mixed" : "double";
}

namespace {

EdgeTerms edge_terms_of(const std::string& text) {
  return text == "per_type" ? EdgeTerms::per_type : text == "shared" ? EdgeTerms::shared : EdgeTerms::none;
}

std::vector<GraphOdeEdge> edges_of(EdgeTerms terms, const GraphOdeArchitecture& a, const GeneNetwork& network,
                                   int n_types) {
  std::vector<GraphOdeEdge> out;
  if (terms == EdgeTerms::none) return out;
  for (int c = 0; c < n_types; ++c) {
    const auto regulators = network.regulators(c, a.prior == PriorGraph::dense);
    for (int k = 0; k < network.n_genes(); ++k)
      for (const int j : regulators[static_cast<std::size_t>(k)])
        out.push_back({terms == EdgeTerms::per_type ? c : -1, j, k});
  }
  if (terms == EdgeTerms::shared) {
    std::sort(out.begin(), out.end(), [](const GraphOdeEdge& l, const GraphOdeEdge& r) {
      return l.target != r.target ? l.target < r.target : l.source < r.source;
    });
    out.erase(std::unique(out.begin(), out.end()), out.end());
  }
  return out;
}

} // namespace

void resolve_edge_terms(GraphOdeArchitecture& a, const GeneNetwork& network, int n_types) {
  a.weight_edges = edges_of(a.edge_weights, a, network, n_types);
  a.bias_edges = edges_of(a.edge_bias, a, network, n_types);
}

GraphOdeConfig read_graph_ode_config(const Deck& deck) {
  const DeckView s = deck.section("grn").section("graph_ode");
  GraphOdeConfig config;
  GraphOdeArchitecture& a = config.architecture;
  a.variant = s.text("variant") == "gatv2" ? AttentionVariant::gatv2 : AttentionVariant::gat;
  a.heads = static_cast<int>(s.integer("heads"));
  a.hidden = static_cast<int>(s.integer("hidden"));
  a.mlp_width = static_cast<int>(s.integer("mlp_width"));
  a.mlp_layers = static_cast<int>(s.integer("mlp_layers"));
  a.share = s.text("share") == "per_type" ? ParameterSharing::per_type : ParameterSharing::all;
  a.prior = s.text("prior") == "dense" ? PriorGraph::dense : PriorGraph::edges;
  a.edge_weights = edge_terms_of(s.text("edge_weights"));
  a.edge_bias = edge_terms_of(s.text("edge_bias"));
  a.embedding = static_cast<int>(s.integer("embedding"));
  if (s.has("model_file")) config.model_file = s.path("model_file");
  config.init_seed = static_cast<std::uint64_t>(s.integer("init_seed"));
  config.decay_init = s.real("decay_init");
  config.precision =
      s.text("precision") == "mixed" ? GraphOdePrecision::mixed : GraphOdePrecision::double_precision;
  return config;
}

// ---- Layout
// -------------------------------------------------------------------------------------------------

ParameterLayout graph_ode_layout(const GraphOdeArchitecture& a, int n_genes) {
  ParameterLayout layout;
  const std::int64_t K = a.heads, H = a.hidden, M = a.mlp_width;
  auto add = [&](std::string name, std::vector<std::int64_t> shape, TensorSpec::Init init, int fan_in,
                 int fan_out) {
    TensorSpec t;
    t.name = std::move(name);
    t.shape = std::move(shape);
    t.init = init;
    t.fan_in = fan_in;
    t.fan_out = fan_out;
    t.sparse = (init == TensorSpec::Init::glorot && t.name != "embedding") || t.name == "edge_weight";
    layout.add(std::move(t));
  };
  using Init = TensorSpec::Init;
  const int h = a.hidden;
  // Fans as for the layers these vectors stand for in PyG's GATConv/GATv2Conv, head by head: w^h and v^h
  // map the scalar feature to R^H (1 -> H); the attention vectors map R^H to a score (H -> 1).
  add("w", {K, H}, Init::glorot, 1, h);
  add("b0", {K, H}, Init::zero, 0, 0);
  if (a.variant == AttentionVariant::gat) {
    add("a_src", {K, H}, Init::glorot, h, 1);
    add("a_dst", {K, H}, Init::glorot, h, 1);
  } else {
    add("a", {K, H}, Init::glorot, h, 1);
    add("v_src", {K, H}, Init::glorot, 1, h);
    add("v_dst", {K, H}, Init::glorot, 1, h);
  }
  std::int64_t in = K * H;
  for (int l = 1; l <= a.mlp_layers; ++l) {
    const std::int64_t out = l == a.mlp_layers ? 1 : M;
    add("W" + std::to_string(l), {out, in}, Init::glorot, static_cast<int>(in), static_cast<int>(out));
    add("b" + std::to_string(l), {out}, Init::zero, 0, 0);
    in = out;
  }
  add("decay_rho", {n_genes}, Init::decay, 0, 0);
  // After every STAGED tensor, so that with the terms off the layout is STAGED's. edge_weight is initialised
  // to 1 by glorot_init (by name: no Init kind means "one"); train.l1 on it is what makes the graph sparse.
  if (a.edge_weights != EdgeTerms::none)
    add("edge_weight", {static_cast<std::int64_t>(a.weight_edges.size())}, Init::zero, 0, 0);
  if (a.edge_bias != EdgeTerms::none)
    add("edge_bias", {static_cast<std::int64_t>(a.bias_edges.size())}, Init::zero, 0, 0);
  if (a.embedding > 0) {
    const std::int64_t D = a.embedding, width_one = a.mlp_layers == 1 ? 1 : M;
    // Random, so that genes start distinguishable (zero embeddings would leave W1_embedding's and q's
    // gradients zero at the start); the bound of a 1 -> D layer.
    add("embedding", {n_genes, D}, Init::glorot, 1, a.embedding);
    add("attention_embedding", {K, D}, Init::glorot, a.embedding, 1);
    add("W1_embedding", {width_one, D}, Init::glorot, a.embedding, static_cast<int>(width_one));
  }
  return layout;
}

// ---- Parameters
// ---------------------------------------------------------------------------------------------

namespace {

std::vector<std::string> graph_ode_set_names(const GraphOdeArchitecture& architecture,
                                             const std::vector<std::string>& cell_types) {
  if (architecture.share == ParameterSharing::all) return {"all"};
  return cell_types;
}

} // namespace

GraphOdeParameters::GraphOdeParameters(const GraphOdeArchitecture& architecture,
                                       std::vector<std::string> genes, std::vector<std::string> cell_types)
    : ModelParameters("graph_ode", graph_ode_layout(architecture, static_cast<int>(genes.size())),
                      graph_ode_set_names(architecture, cell_types), genes, cell_types),
      architecture_(architecture) {}

void GraphOdeParameters::glorot_init(std::uint64_t seed, double decay_init) {
  const CounterRng rng{seed};
  const double rho = inverse_softplus(decay_init);
  const Values& values = this->values();
  auto host = Kokkos::create_mirror_view(values);
  for (int s = 0; s < n_sets(); ++s)
    for (const TensorSpec& t : layout().tensors())
      for (std::size_t e = t.offset; e < t.offset + t.size(); ++e) {
        double value = 0.0;
        if (t.init == TensorSpec::Init::glorot) {
          double u[4];
          rng.uniform4(static_cast<std::uint64_t>(s), 0, RandomPurpose::parameters, e / 4, u);
          value = (2.0 * u[e % 4] - 1.0) * t.glorot_bound();
        } else if (t.init == TensorSpec::Init::decay) {
          value = rho;
        } else if (t.name == "edge_weight") {
          value = 1.0;
        }
        host(s, e) = value;
      }
  Kokkos::deep_copy(values, host);
}

// ---- model.h5
// -----------------------------------------------------------------------------------------------

namespace {

// The cell type of each per-edge entry as model.h5 stores it: the type's name, or "*" (shared).
std::vector<std::string> edge_type_names(const std::vector<GraphOdeEdge>& edges,
                                         const std::vector<std::string>& cell_types) {
  std::vector<std::string> out;
  for (const GraphOdeEdge& e : edges)
    out.push_back(e.type < 0 ? "*" : cell_types[static_cast<std::size_t>(e.type)]);
  return out;
}

} // namespace

void write_graph_ode_model(h5::File& file, const GraphOdeParameters& parameters) {
  const hid_t root = file.get();
  const GraphOdeArchitecture& a = parameters.architecture();
  write_model_identity(file, parameters);
  {
    h5::Handle group = h5::create_group(root, "architecture");
    h5::write_text_attribute(group.get(), "variant", to_string(a.variant));
    h5::write_int_attribute(group.get(), "heads", a.heads);
    h5::write_int_attribute(group.get(), "hidden", a.hidden);
    h5::write_int_attribute(group.get(), "mlp_width", a.mlp_width);
    h5::write_int_attribute(group.get(), "mlp_layers", a.mlp_layers);
    h5::write_text_attribute(group.get(), "share", to_string(a.share));
    h5::write_text_attribute(group.get(), "prior", to_string(a.prior));
    // Only when on: a STAGED model's file stays what it was, and a file without them reads as `none`.
    if (a.edge_weights != EdgeTerms::none)
      h5::write_text_attribute(group.get(), "edge_weights", to_string(a.edge_weights));
    if (a.edge_bias != EdgeTerms::none)
      h5::write_text_attribute(group.get(), "edge_bias", to_string(a.edge_bias));
    if (a.embedding > 0) h5::write_int_attribute(group.get(), "embedding", a.embedding);
  }
  // The edge of each entry of the per-edge tensors, by name, so that a deck whose genes are in another order
  // still finds its values, and one with another gene graph is refused.
  if (a.edge_weights != EdgeTerms::none || a.edge_bias != EdgeTerms::none) {
    h5::Handle edges = h5::create_group(root, "edge_terms");
    for (const auto& [name, list] :
         {std::pair{"edge_weight", &a.weight_edges}, {"edge_bias", &a.bias_edges}}) {
      if (!parameters.layout().has(name)) continue;
      const std::vector<std::string> types = edge_type_names(*list, parameters.cell_types());
      std::vector<std::string> sources, targets;
      for (const GraphOdeEdge& e : *list) {
        sources.push_back(parameters.genes()[static_cast<std::size_t>(e.source)]);
        targets.push_back(parameters.genes()[static_cast<std::size_t>(e.target)]);
      }
      h5::Handle group = h5::create_group(edges.get(), name);
      h5::write_strings(group.get(), "type", types);
      h5::write_strings(group.get(), "source", sources);
      h5::write_strings(group.get(), "target", targets);
    }
  }
  h5::write_strings(root, "genes", parameters.genes());
  h5::write_strings(root, "cell_types", parameters.cell_types());
  write_model_parameters(file, parameters);
}

void write_graph_ode_model(const std::string& path, const GraphOdeParameters& parameters) {
  h5::File file = h5::File::create(path);
  write_graph_ode_model(file, parameters);
  file.close();
}

GraphOdeParameters read_graph_ode_model(const std::string& path, const GraphOdeArchitecture& expected,
                                        const std::vector<std::string>& genes,
                                        const std::vector<std::string>& cell_types) {
  h5::File file = h5::File::open_read(path);
  const hid_t root = file.get();
  auto fail = [&](const std::string& message) { throw input_error(path + ": " + message); };

  require_model_file(file);
  // Files from before other families existed have no `family`: they are graph_ode models.
  if (h5::has_attribute(root, "family")) {
    const std::string family = h5::read_text_attribute(root, "family");
    if (family != "graph_ode")
      fail("family = " + family + " but the deck's model is graph_ode (grn.model or train.model)");
  }
  if (!h5::exists(root, "architecture")) fail("no /architecture group");
  {
    h5::Handle group = h5::open_group(root, "architecture");
    auto compare_text = [&](const char* name, const std::string& wanted) {
      const std::string found = h5::read_text_attribute(group.get(), name);
      if (found != wanted)
        fail(std::string("/architecture ") + name + " = " + found + " but grn.graph_ode." + name + " = " +
             wanted);
    };
    auto compare_int = [&](const char* name, int wanted) {
      const std::int64_t found = h5::read_int_attribute(group.get(), name);
      if (found != wanted)
        fail(std::string("/architecture ") + name + " = " + std::to_string(found) + " but grn.graph_ode." +
             name + " = " + std::to_string(wanted));
    };
    compare_text("variant", to_string(expected.variant));
    compare_int("heads", expected.heads);
    compare_int("hidden", expected.hidden);
    compare_int("mlp_width", expected.mlp_width);
    compare_int("mlp_layers", expected.mlp_layers);
    compare_text("share", to_string(expected.share));
    // The gene graph is not a tensor shape, but a model trained on another graph is another model.
    if (h5::has_attribute(group.get(), "prior")) compare_text("prior", to_string(expected.prior));
    // Files from before the per-edge terms existed have neither attribute: the terms are off.
    for (const auto& [name, wanted] :
         {std::pair{"edge_weights", expected.edge_weights}, {"edge_bias", expected.edge_bias}}) {
      const std::string found =
          h5::has_attribute(group.get(), name) ? h5::read_text_attribute(group.get(), name) : "none";
      if (found != to_string(wanted))
        fail(std::string("/architecture ") + name + " = " + found + " but grn.graph_ode." + name + " = " +
             to_string(wanted));
    }
    const std::int64_t embedding =
        h5::has_attribute(group.get(), "embedding") ? h5::read_int_attribute(group.get(), "embedding") : 0;
    if (embedding != expected.embedding)
      fail("/architecture embedding = " + std::to_string(embedding) +
           " but grn.graph_ode.embedding = " + std::to_string(expected.embedding));
  }

  // Genes are matched by name: the per-gene tensors (decay_rho, embedding) are reordered to the deck's panel.
  const std::vector<std::string> file_genes = h5::read_strings(root, "genes");
  std::vector<std::size_t> file_index_of_gene;
  for (const std::string& g : genes) {
    const auto it = std::find(file_genes.begin(), file_genes.end(), g);
    if (it == file_genes.end()) fail("gene '" + g + "' of the deck is not in /genes");
    file_index_of_gene.push_back(static_cast<std::size_t>(it - file_genes.begin()));
  }
  for (const std::string& g : file_genes)
    if (std::count(file_genes.begin(), file_genes.end(), g) > 1)
      fail("gene '" + g + "' appears twice in /genes");
  for (const std::string& g : file_genes)
    if (std::find(genes.begin(), genes.end(), g) == genes.end())
      fail("gene '" + g + "' of /genes is not in the deck's grn.genes");

  // Under `all` the parameters do not depend on the cell type, so the deck may name other types.
  const std::vector<std::string> file_types = h5::read_strings(root, "cell_types");
  if (expected.share == ParameterSharing::per_type)
    for (const std::string& t : cell_types)
      if (std::find(file_types.begin(), file_types.end(), t) == file_types.end())
        fail("cell type '" + t +
             "' of the deck is not in /cell_types (grn.graph_ode.share = per_type needs "
             "parameters for every type)");

  // Per-edge tensors: the file's entry of each of the deck's edges, matched by type and gene names; the two
  // lists must hold the same edges (a model trained on another gene graph is another model).
  std::map<std::string, std::vector<std::size_t>> file_index_of_edge;
  std::map<std::string, std::int64_t> file_edge_count;
  for (const auto& [name, list] :
       {std::pair{"edge_weight", &expected.weight_edges}, {"edge_bias", &expected.bias_edges}}) {
    if (!graph_ode_layout(expected, static_cast<int>(genes.size())).has(name)) continue;
    const std::string where = std::string("/edge_terms/") + name;
    if (!h5::exists(root, where)) fail("no " + where + " group");
    h5::Handle group = h5::open_group(root, where);
    const std::vector<std::string> types = h5::read_strings(group.get(), "type"),
                                   sources = h5::read_strings(group.get(), "source"),
                                   targets = h5::read_strings(group.get(), "target");
    if (sources.size() != types.size() || targets.size() != types.size())
      fail(where + ": type, source and target differ in length");
    std::map<std::string, std::size_t> file_edges;
    auto key = [](const std::string& type, const std::string& source, const std::string& target) {
      return (type == "*" ? std::string() : type + ": ") + source + " -> " + target;
    };
    for (std::size_t i = 0; i < types.size(); ++i)
      if (!file_edges.emplace(key(types[i], sources[i], targets[i]), i).second)
        fail(where + " lists the edge " + key(types[i], sources[i], targets[i]) + " twice");
    file_edge_count[name] = static_cast<std::int64_t>(types.size());
    const std::vector<std::string> deck_types = edge_type_names(*list, cell_types);
    std::vector<std::size_t>& index = file_index_of_edge[name];
    for (std::size_t p = 0; p < list->size(); ++p) {
      const GraphOdeEdge& e = (*list)[p];
      const std::string k = key(deck_types[p], genes[static_cast<std::size_t>(e.source)],
                                genes[static_cast<std::size_t>(e.target)]);
      const auto it = file_edges.find(k);
      if (it == file_edges.end())
        fail("the deck's gene graph has the edge " + k + " but the model's " + where +
             " does not (a model is trained on one gene graph: grn.edges, grn.table, grn.graph_ode.prior)");
      index.push_back(it->second);
    }
    if (file_edges.size() != list->size())
      for (const auto& [k, i] : file_edges)
        if (std::find(index.begin(), index.end(), i) == index.end())
          fail("the model's " + where + " has the edge " + k +
               " but the deck's gene graph does not (a model is trained on one gene graph: grn.edges, "
               "grn.table, grn.graph_ode.prior)");
  }

  GraphOdeParameters parameters(expected, genes, cell_types);
  if (!h5::exists(root, "params")) fail("no /params group");
  h5::Handle params = h5::open_group(root, "params");
  for (int s = 0; s < parameters.n_sets(); ++s) {
    const std::string& set = parameters.set_name(s);
    const std::string where = "/params/" + set;
    if (!h5::exists(params.get(), set))
      fail(expected.share == ParameterSharing::all
               ? "no " + where + " group"
               : "no parameters for cell type '" + set + "' (" + where + ")");
    h5::Handle group = h5::open_group(params.get(), set);
    for (const std::string& name : h5::children(group.get()))
      if (!parameters.layout().has(name)) fail(where + "/" + name + " is not a tensor of this architecture");
    for (const TensorSpec& t : parameters.layout().tensors()) {
      if (!h5::exists(group.get(), t.name)) fail(where + "/" + t.name + " is missing");
      // Per-gene tensors (rows: genes) are stored in the file's gene order.
      const bool per_gene = t.name == "decay_rho" || t.name == "embedding";
      std::vector<std::int64_t> wanted = t.shape;
      if (per_gene) wanted[0] = static_cast<std::int64_t>(file_genes.size());
      const auto edge_index = file_index_of_edge.find(t.name);
      if (edge_index != file_index_of_edge.end()) wanted = {file_edge_count.at(t.name)};
      const std::vector<std::int64_t> found = h5::shape(group.get(), t.name);
      if (found != wanted)
        fail(where + "/" + t.name + " has shape " + h5::shape_text(found) + " but the architecture needs " +
             h5::shape_text(wanted));
      std::vector<double> values = h5::read_all<double>(group.get(), t.name);
      for (const double v : values)
        if (!std::isfinite(v)) fail(where + "/" + t.name + " holds a non-finite value");
      if (per_gene) {
        const std::size_t row = t.shape.size() == 1 ? 1 : static_cast<std::size_t>(t.shape[1]);
        std::vector<double> reordered(genes.size() * row);
        for (std::size_t k = 0; k < genes.size(); ++k)
          std::copy_n(values.begin() + static_cast<std::ptrdiff_t>(file_index_of_gene[k] * row), row,
                      reordered.begin() + static_cast<std::ptrdiff_t>(k * row));
        values = std::move(reordered);
      }
      if (edge_index != file_index_of_edge.end()) {
        std::vector<double> reordered;
        for (const std::size_t i : edge_index->second)
          reordered.push_back(values[i]);
        values = std::move(reordered);
      }
      parameters.set_tensor(s, t.name, values);
    }
  }
  return parameters;
}

} // namespace tessera
