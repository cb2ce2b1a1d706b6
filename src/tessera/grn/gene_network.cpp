#include "tessera/grn/gene_network.hpp"

#include "tessera/core/error.hpp"
#include "tessera/core/text.hpp"
#include "tessera/core/units.hpp"
#include "tessera/io/deck.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <sstream>

namespace tessera {

int GeneNetwork::gene_index(const std::string& name) const {
  const auto it = std::find(genes.begin(), genes.end(), name);
  return it == genes.end() ? -1 : static_cast<int>(it - genes.begin());
}

const KeyTable& grn_keys() {
  static const KeyTable table = [] {
    KeyTable t("grn", "The gene panel and the intracellular gene-regulatory network (SPEC §2).");
    t.add_choice("model", {"hill", "graph_ode", "sigmoid"})
        .def("hill")
        .describe("Right-hand side of every cell's gene ODE. `hill`: the mechanistic model of SPEC §2.1; "
                  "`graph_ode`: the learned graph ODE of SPEC §2.2 (keys `grn.graph_ode.*`).");
    t.add("genes", KeyType::text_list)
        .require()
        .describe("Gene names of the panel (the same for every cell).");
    t.add("table", KeyType::path)
        .describe("GRN table (TSV with header `type source target sign K h n`, SPEC §6.2); its edges are "
                  "added to `grn.edges`.");
    t.add("edges", KeyType::entries)
        .describe(
            "Regulatory edges `source -> target` (SPEC §2.1; `graph_ode` uses only which edges exist).");
    t.add("edges[].type", KeyType::text)
        .def("\"*\"")
        .describe("Cell type the edge belongs to, or `*` for every type.");
    t.add("edges[].source", KeyType::text).require().describe("Regulating gene.");
    t.add("edges[].target", KeyType::text).require().describe("Regulated gene.");
    t.add_choice("edges[].sign", {"activation", "repression", "+", "-"})
        .def("activation")
        .describe(
            "`activation` (`+`) uses H+(x) = x^n/(h^n+x^n); `repression` (`-`) uses H-(x) = h^n/(h^n+x^n).");
    t.add("edges[].K", KeyType::real).def("1").non_negative().describe("Edge strength K.");
    t.add("edges[].h", KeyType::real).def("0.5").positive().describe("Half-saturation constant h.");
    t.add("edges[].n", KeyType::real).def("2").positive().describe("Hill coefficient n.");
    t.add("production", KeyType::real_list)
        .one_per_gene()
        .def("1")
        .non_negative()
        .describe("`hill` beta: production scale per gene.");
    t.add("basal", KeyType::real_list)
        .one_per_gene()
        .def("0")
        .non_negative()
        .describe("`hill` b: basal activity per gene.");
    t.add("decay", KeyType::real_list, Dimension::rate)
        .one_per_gene()
        .def("0.1")
        .non_negative()
        .describe(
            "`hill` lambda: decay rate per gene (`graph_ode` learns its own, see `graph_ode.decay_init`).");
    t.add_choice("graph_ode.variant", {"gat", "gatv2"})
        .def("gat")
        .describe(
            "Attention of `graph_ode`: `gat` scores an edge by LeakyReLU(a_dst.(w x_k) + a_src.(w h_u)); "
            "`gatv2` by a.LeakyReLU(v_dst x_k + v_src h_u).");
    // The maxima are sizes that run: at all four (tests/app, graph_ode_maximum_sizes) a parameter set and its
    // first-layer tables take ~0.55 GB and one RHS ~3e7 flops per gene and cell. Beyond, the model's
    // memory is also estimated against the node's (read_simulation_setup).
    t.add("graph_ode.heads", KeyType::integer)
        .def("1")
        .between(1, 16)
        .describe("K: attention heads of `graph_ode`.");
    t.add("graph_ode.hidden", KeyType::integer)
        .def("64")
        .between(1, 1024)
        .describe("H: hidden units per attention head of `graph_ode`.");
    t.add("graph_ode.mlp_width", KeyType::integer)
        .def("64")
        .between(1, 1024)
        .describe("M: width of the hidden layers of the `graph_ode` MLP.");
    t.add("graph_ode.mlp_layers", KeyType::integer)
        .def("3")
        .between(1, 16)
        .describe(
            "L: layers of the `graph_ode` MLP (the last one maps to dx/dt; L = 1 is a linear read-out).");
    t.add_choice("graph_ode.share", {"all", "per_type"})
        .def("all")
        .describe("`all`: one parameter set for every cell type; `per_type`: one set per cell type.");
    t.add_choice("graph_ode.prior", {"edges", "dense"})
        .def("edges")
        .describe(
            "Gene graph of `graph_ode`: `edges` uses the structure of `grn.edges` and `grn.table` per cell "
            "type (their sign, K, h and n are ignored); `dense` uses every ordered pair j -> k, j != k.");
    t.add_choice("graph_ode.edge_weights", {"none", "per_type", "shared"})
        .def("none")
        .describe("Beyond STAGED (SPEC §2.2): a learnable signed weight s_u on each prior edge's message, "
                  "m^h = sum_u alpha_u w_u s_u h_u (initialised to 1; `train.l1` penalises it). `per_type`: "
                  "one per cell type and edge; `shared`: one per edge j -> k, for every type whose graph "
                  "has it. The self loop and ligand edges have none. `none`: the STAGED model.");
    t.add_choice("graph_ode.edge_bias", {"none", "per_type", "shared"})
        .def("none")
        .describe("Beyond STAGED: a learnable bias added to each prior edge's attention logit (initialised "
                  "to 0), `per_type` or `shared` as for `graph_ode.edge_weights`. Under `share: per_type` "
                  "every type's parameter set holds the entries of every edge of the list, and uses its "
                  "own type's.");
    t.add("graph_ode.embedding", KeyType::integer)
        .def("0")
        .between(0, 256)
        .describe("Beyond STAGED: D > 0 gives every gene a learnable embedding e_k in R^D, added to the "
                  "first MLP layer's pre-activation as W1_embedding e_k (the target gene's identity) and to "
                  "the attention logit of each in-edge from gene j as q^h . e_j (the source gene's "
                  "identity). 0: off (STAGED).");
    t.add("graph_ode.model_file", KeyType::path)
        .describe(
            "model.h5 to read the `graph_ode` parameters from (SPEC §6.5); its architecture, gene names, "
            "(with per-edge terms) gene graph and (under `share: per_type`) cell types must match the deck. "
            "Without it the parameters are "
            "initialised (Glorot).");
    t.add("graph_ode.init_seed", KeyType::integer)
        .def("1")
        .non_negative()
        .describe("Seed of the Glorot-uniform initialisation of `graph_ode` when no `model_file` is given.");
    t.add("graph_ode.decay_init", KeyType::real, Dimension::rate)
        .def("0.1")
        .non_negative()
        .describe("Initial decay rate gamma of every gene in `graph_ode` (learned; stored softplus-"
                  "parametrised).");
    t.add_choice("graph_ode.precision", {"double", "mixed"})
        .def("double")
        .describe("Arithmetic of the `graph_ode` hidden layers 2 .. L-1: `double` throughout; `mixed` keeps "
                  "layer 1's output, the hidden layers' products (single-precision BLAS), activations, "
                  "activation tape and backward cotangents in float, everything else (state, attention, "
                  "first and last layer, decay, parameter gradients) in double: about a quarter less CPU "
                  "time per training iteration of the reference architecture, gradients within ~1e-7 "
                  "(relative, 2-norm) of `double`'s (docs/performance.md, \"Training\"). "
                  "Not stored in model.h5. No effect for `mlp_layers` <= 2.");
    // The learnable `hill` model (train.model: hill; run and predict with its grn.hill.model_file).
    t.add_choice("hill.prior", {"edges", "dense"})
        .def("edges")
        .describe("Candidate edges of the learnable `hill` model: `edges` uses the structure of `grn.edges` "
                  "and `grn.table` per cell type (or the training prior); `dense` every ordered pair j -> k, "
                  "j != k. Each candidate has its own signed K, h and n.");
    t.add("hill.model_file", KeyType::path)
        .describe("model.h5 of a trained `hill` model (SPEC §6.5) to read its parameters from; its genes, "
                  "cell types, candidate edges and LR pairs must be the deck's.");
    t.add("hill.learn_n", KeyType::boolean)
        .def("true")
        .describe(
            "Learn the Hill coefficient of every edge and LR pair; `false` fixes them all to `grn.hill.n`.");
    t.add("hill.n", KeyType::real)
        .def("2")
        .positive()
        .describe(
            "The fixed Hill coefficient when `grn.hill.learn_n` is false (and the start of a learned one "
            "without a deck edge).");
    t.add_choice("hill.init", {"deck", "constant", "ridge"})
        .def("deck")
        .describe(
            "Start of the learnable `hill` parameters without `model_file`: `deck` takes K, h, n of each "
            "candidate from its `grn.edges` entry (a repression as -K with K added to the basal term; "
            "other candidates K = 0) and beta, b, lambda from `grn.production`, `grn.basal`, `grn.decay`; "
            "`constant` starts every K near 0 (|K| <= 0.01), h = 0.5, beta = 1, b = 0.1, lambda = 0.1; "
            "`ridge` (for `train`) starts as `constant`, then takes K, b and lambda from the ridge "
            "baseline's "
            "linear fit of dx/dt through the Hill terms' slope at x = h (signs and relative strengths).");
    t.add("hill.init_seed", KeyType::integer)
        .def("1")
        .non_negative()
        .describe("Seed of the small random K of `grn.hill.init: constant` (and `ridge`, before its fit).");
    t.add_choice("sigmoid.prior", {"edges", "dense"})
        .def("edges")
        .describe(
            "Candidate gene graph of `sigmoid` (one weight W per candidate edge and cell type): `edges` "
            "uses the structure of `grn.edges` and `grn.table` per cell type (their sign, K, h and n are "
            "ignored); `dense` uses every ordered pair j -> k, j != k.");
    t.add("sigmoid.model_file", KeyType::path)
        .describe("model.h5 to read the `sigmoid` parameters from (SPEC §6.5); its genes, cell types, "
                  "candidate edges, LR pairs and prior must match the deck (matched by name). Without it the "
                  "parameters are initialised (`sigmoid.init`).");
    t.add_choice("sigmoid.init", {"ridge", "zero", "random"})
        .def("ridge")
        .describe(
            "Initial `sigmoid` parameters without `model_file`: `ridge`: `tessera train` starts from "
            "its ridge baseline mapped through sigma's linearisation at the data's operating point, the "
            "regressors' means over the ridge's training rows (sigma at its midpoint there: beta = 2 x the "
            "production the fit implies at the means, W = 4 c / beta, b = -(W xbar + V sbar), gamma from "
            "the self coefficient; other commands: as `zero`); `zero`: W = V = 0, b = 0; `random`: W, V "
            "uniform in +-1/sqrt(in-degree + 1) from `init_seed`. beta and gamma start at "
            "`production_init` and `decay_init`.");
    t.add("sigmoid.init_seed", KeyType::integer)
        .def("1")
        .non_negative()
        .describe("Seed of `sigmoid.init: random`.");
    t.add("sigmoid.decay_init", KeyType::real, Dimension::rate)
        .def("0.1")
        .positive()
        .describe("Initial decay rate gamma of every gene and cell type in `sigmoid` (learned; stored "
                  "softplus-parametrised).");
    t.add("sigmoid.production_init", KeyType::real)
        .def("1")
        .positive()
        .describe("Initial production scale beta of every gene and cell type in `sigmoid`, the largest "
                  "production rate (expression per minute; learned; stored softplus-parametrised).");
    t.add_choice("sigmoid.inputs", {"linear", "log"})
        .def("linear")
        .describe("What `sigmoid`'s drive z sees of a regulator's value x and of a received signal s: "
                  "`linear`, x and s themselves (the classic neural GRN ODE); `log`, log(max(x, 0) + "
                  "`log_offset`) and the same of s, so that one regulator's term is a Hill function of x "
                  "(Hill coefficient |W|) with its power-law tail, the model to infer a network from data of "
                  "Hill-type regulation (`inputs/infer_grn.yaml`, docs/performance.md \"Inference\"). A "
                  "`model_file` must have been trained with the same inputs and offset.");
    t.add("sigmoid.log_offset", KeyType::real)
        .def("0.05")
        .positive()
        .describe(
            "The offset epsilon of `sigmoid.inputs: log`, in expression units: inputs below about "
            "epsilon all look alike to the model, so it should be well below the expression levels at "
            "which genes act (ignored with `linear` inputs); `tessera train` warns when it is above the "
            "median positive expression value of its dataset.");
    return t;
  }();
  return table;
}

namespace {

int sign_of(const std::string& s) {
  if (s == "+" || s == "activation" || s == "1" || s == "+1") return 1;
  if (s == "-" || s == "repression" || s == "-1") return -1;
  return 0;
}

int type_of(const std::string& s, const std::vector<std::string>& type_names) {
  if (s == "*") return -1;
  const auto it = std::find(type_names.begin(), type_names.end(), s);
  return it == type_names.end() ? -2 : static_cast<int>(it - type_names.begin());
}

} // namespace

std::vector<std::vector<int>> GeneNetwork::regulators(int type, bool dense) const {
  const int G = n_genes();
  std::vector<std::vector<int>> sources(static_cast<std::size_t>(G));
  if (dense) {
    for (int k = 0; k < G; ++k)
      for (int j = 0; j < G; ++j)
        if (j != k) sources[k].push_back(j);
    return sources;
  }
  // An edge may be given twice (for its type and for "*", or in the deck and in the table): one graph edge.
  for (const RegulatoryEdge& e : edges)
    if ((e.type < 0 || e.type == type) && e.source != e.target) sources[e.target].push_back(e.source);
  for (auto& s : sources) {
    std::sort(s.begin(), s.end());
    s.erase(std::unique(s.begin(), s.end()), s.end());
  }
  return sources;
}

void parse_grn_table(const std::string& text, const std::string& filename,
                     const std::vector<std::string>& type_names, GeneNetwork& network) {
  std::istringstream in(text);
  std::string line;
  int line_no = 0;
  std::vector<std::string> header;
  auto split = [](const std::string& l) {
    std::vector<std::string> out;
    std::stringstream ss(l);
    for (std::string f; std::getline(ss, f, '\t');) {
      if (!f.empty() && f.back() == '\r') f.pop_back();
      out.push_back(f);
    }
    return out;
  };
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    const auto fields = split(line);
    if (header.empty()) {
      header = fields;
      const std::vector<std::string> need{"type", "source", "target", "sign"};
      for (size_t i = 0; i < need.size(); ++i)
        if (i >= header.size() || header[i] != need[i])
          throw input_error(filename + ":" + std::to_string(line_no) +
                            ": header must start with the tab-separated "
                            "columns 'type source target sign' (then optionally 'K h n')");
      for (size_t i = 4; i < header.size(); ++i)
        if (header[i] != std::vector<std::string>{"K", "h", "n"}[std::min<size_t>(i - 4, 2)] || i > 6)
          throw input_error(filename + ":" + std::to_string(line_no) + ": unexpected column '" + header[i] +
                            "' (columns after 'sign' are K, h, n in that order)");
      continue;
    }
    auto where = [&](size_t col) {
      return filename + ":" + std::to_string(line_no) + ": column '" +
             (col < header.size() ? header[col] : "?") + "'";
    };
    if (fields.size() != header.size())
      throw input_error(filename + ":" + std::to_string(line_no) + ": expected " +
                        std::to_string(header.size()) + " tab-separated fields, got " +
                        std::to_string(fields.size()));
    RegulatoryEdge e;
    e.type = type_of(fields[0], type_names);
    if (e.type == -2)
      throw input_error(where(0) + ": unknown cell type '" + fields[0] +
                        "' (cells.types: " + names_list(type_names) + ", or *)");
    e.source = network.gene_index(fields[1]);
    if (e.source < 0) throw input_error(where(1) + ": unknown gene '" + fields[1] + "' (not in grn.genes)");
    e.target = network.gene_index(fields[2]);
    if (e.target < 0) throw input_error(where(2) + ": unknown gene '" + fields[2] + "' (not in grn.genes)");
    e.sign = sign_of(fields[3]);
    if (e.sign == 0)
      throw input_error(where(3) + ": sign must be +, -, activation or repression, got '" + fields[3] + "'");
    double* values[3] = {&e.K, &e.h, &e.n};
    for (size_t c = 4; c < fields.size(); ++c) {
      const ParsedQuantity q = parse_quantity(fields[c], Dimension::none);
      if (!q.ok || !std::isfinite(q.value))
        throw input_error(where(c) + ": " + (q.ok ? "value must be finite" : q.problem));
      if (q.value < 0 || (c > 4 && q.value == 0))
        throw input_error(where(c) + ": value " + fields[c] + (c == 4 ? " must be >= 0" : " must be > 0"));
      *values[c - 4] = q.value;
    }
    network.edges.push_back(e);
  }
  if (header.empty()) throw input_error(filename + ": empty GRN table (needs a header line)");
}

void GeneNetwork::use_prior_graph() {
  if (!prior_graph) deck_edges = std::move(edges);
  prior_graph = true;
  edges.clear();
}

void parse_prior_table(const std::string& text, const std::string& filename,
                       const std::vector<std::string>& type_names, GeneNetwork& network,
                       std::vector<std::string>& skipped) {
  std::istringstream in(text);
  std::string line;
  int line_no = 0;
  bool header = false;
  std::map<std::array<int, 3>, int> first_line; // (type, source, target) -> the line that gave it
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> fields;
    std::stringstream ss(line);
    for (std::string f; std::getline(ss, f, '\t');)
      fields.push_back(f);
    const std::string where = filename + ":" + std::to_string(line_no);
    if (!header) {
      if (fields.size() < 3 || fields[0] != "type" || fields[1] != "source" || fields[2] != "target")
        throw input_error(where + ": header must start with the tab-separated columns 'type source target'");
      header = true;
      continue;
    }
    if (fields.size() < 3) throw input_error(where + ": expected 'type source target', got '" + line + "'");
    RegulatoryEdge e;
    e.type = type_of(fields[0], type_names);
    if (e.type == -2)
      throw input_error(where + ": column 'type': unknown cell type '" + fields[0] +
                        "' (cells.types: " + names_list(type_names) + ", or *)");
    e.source = network.gene_index(fields[1]);
    if (e.source < 0)
      throw input_error(where + ": column 'source': unknown gene '" + fields[1] + "' (not in grn.genes)");
    e.target = network.gene_index(fields[2]);
    if (e.target < 0)
      throw input_error(where + ": column 'target': unknown gene '" + fields[2] + "' (not in grn.genes)");
    const std::string edge = "type '" + fields[0] + "': " + fields[1] + " -> " + fields[2];
    if (e.source == e.target) {
      skipped.push_back(where + ": " + edge +
                        " is a self loop; ignored (the model gives every gene its own)");
      continue;
    }
    const auto [it, first] = first_line.emplace(std::array<int, 3>{e.type, e.source, e.target}, line_no);
    if (!first) {
      skipped.push_back(where + ": " + edge + " repeats line " + std::to_string(it->second) + "; ignored");
      continue;
    }
    network.edges.push_back(e);
  }
  if (!header) throw input_error(filename + ": empty prior table (needs a header line)");
}

GeneNetwork read_gene_network(const Deck& deck, const std::vector<std::string>& type_names) {
  const DeckView s = deck.section("grn");
  GeneNetwork net;
  net.model = s.text("model");
  net.genes = s.texts("genes");
  const int G = net.n_genes();
  for (const DeckView& e : s.entries("edges")) {
    RegulatoryEdge edge;
    edge.type = type_of(e.text("type"), type_names);
    if (edge.type == -2)
      e.fail("type", "unknown cell type '" + e.text("type") + "' (cells.types: " + names_list(type_names) +
                         ", or *)");
    edge.source = net.gene_index(e.text("source"));
    if (edge.source < 0)
      e.fail("source", "unknown gene '" + e.text("source") + "' (grn.genes: " + names_list(net.genes) + ")");
    edge.target = net.gene_index(e.text("target"));
    if (edge.target < 0)
      e.fail("target", "unknown gene '" + e.text("target") + "' (grn.genes: " + names_list(net.genes) + ")");
    edge.sign = sign_of(e.text("sign"));
    edge.K = e.real("K");
    edge.h = e.real("h");
    edge.n = e.real("n");
    net.edges.push_back(edge);
  }
  if (s.has("table")) parse_grn_table(s.file_text("table"), s.path("table"), type_names, net);
  net.production = s.per_gene("production", G);
  net.basal = s.per_gene("basal", G);
  net.decay = s.per_gene("decay", G);
  return net;
}

} // namespace tessera
