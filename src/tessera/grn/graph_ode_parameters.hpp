// The trainable parameters of the `graph_ode` gene model (SPEC §2.2): its architecture from the deck, its
// tensors (a ModelParameters layout), seeded Glorot initialisation, and model.h5 (SPEC §6.5).
#pragma once

#include "tessera/grn/model_parameters.hpp"

#include <Kokkos_Core.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tessera {

class Deck;
struct GeneNetwork;
namespace h5 {
class File;
}

enum class AttentionVariant { gat, gatv2 };
enum class ParameterSharing { all, per_type };
enum class PriorGraph { edges, dense };
// Per-edge learnable terms beyond STAGED (SPEC §2.2): none, one value per (cell type, edge), or one per edge
// shared by every cell type whose gene graph has it.
enum class EdgeTerms { none, per_type, shared };

std::string to_string(AttentionVariant variant); // "gat", "gatv2"
std::string to_string(ParameterSharing share);   // "all", "per_type"
std::string to_string(PriorGraph prior);         // "edges", "dense"
std::string to_string(EdgeTerms terms);          // "none", "per_type", "shared"

// The arithmetic of graph_ode's hidden layers (GraphOdeOptions::precision, deck key grn.graph_ode.precision):
// `double` everywhere, or `mixed`, the hidden layers' products, activations and cotangents in float.
enum class GraphOdePrecision { double_precision, mixed };
std::string to_string(GraphOdePrecision precision); // "double", "mixed"

// The intracellular edge source -> target (gene indices) that one entry of a per-edge tensor belongs to:
// of cell type `type`, or of every type that has it (type -1, EdgeTerms::shared).
struct GraphOdeEdge {
  int type = -1;
  int source = 0;
  int target = 0;
  bool operator==(const GraphOdeEdge& o) const {
    return type == o.type && source == o.source && target == o.target;
  }
};

// What fixes the shapes of the parameter tensors, plus the gene graph they were trained on.
struct GraphOdeArchitecture {
  AttentionVariant variant = AttentionVariant::gat;
  int heads = 1;      // K
  int hidden = 64;    // H
  int mlp_width = 64; // M
  int mlp_layers = 3; // L
  ParameterSharing share = ParameterSharing::all;
  PriorGraph prior = PriorGraph::edges;
  // A signed weight s_u on each prior edge's message and a bias on its attention logit (the self loop and
  // the ligand edges have neither). Their tensors hold one entry per element of weight_edges / bias_edges,
  // which resolve_edge_terms() fills from the gene graph: per_type lists each type's edges in the model's
  // CSR order (type, target, source), shared the union over types sorted by (target, source).
  EdgeTerms edge_weights = EdgeTerms::none;
  EdgeTerms edge_bias = EdgeTerms::none;
  std::vector<GraphOdeEdge> weight_edges, bias_edges;
  // D > 0: a learnable embedding e_k in R^D per gene, feeding layer 1 (W1_embedding e_k added to its
  // pre-activation: the target's identity) and the attention (q^h . e_j added to the logit of every in-edge
  // from gene j: the source's identity; a target term would cancel in the softmax). 0: off.
  int embedding = 0;

  int attention_width() const { return heads * hidden; } // K*H, the length of z
};

// The deck's `grn.graph_ode` keys.
struct GraphOdeConfig {
  GraphOdeArchitecture architecture;
  std::string model_file;      // resolved path; empty: initialise with glorot_init
  std::uint64_t init_seed = 1; // CounterRng seed of the initialisation
  double decay_init = 0.1;     // initial gamma, 1/min
  // How the model computes, not what it is: not part of the architecture nor of model.h5.
  GraphOdePrecision precision = GraphOdePrecision::double_precision;
};

// Reads `grn.graph_ode` (defaults when absent). Not collective. The edge lists stay empty: they need the
// gene graph (resolve_edge_terms).
GraphOdeConfig read_graph_ode_config(const Deck& deck);

// Fills architecture.weight_edges and bias_edges from the gene graph of each of `n_types` cell types (the
// prior's edges, or every pair j != k when dense); empty lists for terms that are off.
void resolve_edge_terms(GraphOdeArchitecture& architecture, const GeneNetwork& network, int n_types);

// The tensors of one graph_ode parameter set, in storage order:
//   per head h (rows of [K][H] tensors): w, b0, then GAT: a_src, a_dst / GATv2: a, v_src, v_dst;
//   MLP: W1 [M][KH], b1 [M], ..., W<L> [1][M], b<L> [1]  (L = 1: W1 [1][KH], b1 [1]);
//   decay_rho [G]: gamma_k = softplus(decay_rho_k) = log(1 + exp(decay_rho_k));
//   when enabled: edge_weight [weight_edges] (initialised to 1), edge_bias [bias_edges] (initialised to 0),
//   embedding [G][D], attention_embedding [K][D] (q^h), W1_embedding [M][D] (L = 1: [1][D]).
// The Glorot-initialised weights (not the embedding itself) and edge_weight are the `sparse` ones (train.l1).
ParameterLayout graph_ode_layout(const GraphOdeArchitecture& architecture, int n_genes);

// Every trainable parameter of a graph_ode model: one set per cell type (`per_type`) or one shared set
// (`all`), plus the architecture that fixes their shapes.
class GraphOdeParameters : public ModelParameters {
public:
  GraphOdeParameters() = default;
  // All values zero. `cell_types` are the deck's type names (set names under `per_type`).
  GraphOdeParameters(const GraphOdeArchitecture& architecture, std::vector<std::string> genes,
                     std::vector<std::string> cell_types);

  const GraphOdeArchitecture& architecture() const { return architecture_; }
  int set_of_type(int type) const { return architecture_.share == ParameterSharing::all ? 0 : type; }

  // Glorot-uniform weights U(-b, b), b = sqrt(6 / (fan_in + fan_out)); biases 0; decay_rho such that
  // gamma = decay_init; edge weights 1 (the model starts as STAGED). Element e of set s draws
  // CounterRng{seed}.uniform4(s, 0, parameters, e / 4)[e % 4], so the values depend on nothing but the seed
  // and the architecture.
  void glorot_init(std::uint64_t seed, double decay_init);

private:
  GraphOdeArchitecture architecture_;
};

// Writes format, /architecture, /genes, /cell_types and /params/<set>/<tensor> into an open, serially
// written file (rank 0; the training output adds /optimizer and provenance beside them).
void write_graph_ode_model(h5::File& file, const GraphOdeParameters& parameters);
// Creates `path` (refusing to replace it) and writes the model. Not collective: call on one rank.
void write_graph_ode_model(const std::string& path, const GraphOdeParameters& parameters);

// Reads model.h5 written by write_graph_ode_model. The architecture must equal `expected`, the file's genes
// must be the deck's (any order: they are matched by name), so must the edges of its per-edge terms (by
// type and gene names: the deck's gene graph must be the one the model was trained on) and, under `per_type`,
// every deck cell type must have its parameters; anything else is an input_error naming what differs. Not
// collective.
GraphOdeParameters read_graph_ode_model(const std::string& path, const GraphOdeArchitecture& expected,
                                        const std::vector<std::string>& genes,
                                        const std::vector<std::string>& cell_types);

} // namespace tessera
