// The gene panel and the prior gene graph of each cell type (SPEC §2): gene names, the model that drives
// them, and the regulatory edges with their Hill parameters, from the deck's `grn` section and/or a GRN
// table (SPEC §6.2).
#pragma once

#include "tessera/core/keys.hpp"

#include <string>
#include <vector>

namespace tessera {

class Deck;

struct RegulatoryEdge {
  int type = -1;  // cell type index, -1 = every type ("*")
  int source = 0; // gene index
  int target = 0; // gene index
  int sign = 1;   // +1 activation, -1 repression
  double K = 1.0; // strength
  double h = 0.5; // half-saturation
  double n = 2.0; // Hill coefficient
};

struct GeneNetwork {
  std::string model = "hill";
  std::vector<std::string> genes;
  std::vector<RegulatoryEdge> edges;
  // `hill` per-gene parameters (SPEC §2.1): dx/dt = production * (basal + sum K H) - decay * x.
  std::vector<double> production;
  std::vector<double> basal;
  std::vector<double> decay; // 1/min

  // When a prior graph (train.prior, a dataset's /grn/prior: edges without strengths) replaced `edges` as
  // the model's graph, the deck's own edges (grn.edges, grn.table) with their sign, K, h, n: what
  // `grn.hill.init: deck` starts the prior's candidates from (initial_edges()).
  std::vector<RegulatoryEdge> deck_edges;
  bool prior_graph = false;

  int n_genes() const { return static_cast<int>(genes.size()); }
  // Clears `edges` for a prior graph to fill, keeping the deck's edges in deck_edges (once: a second prior
  // replaces the first, not the deck's).
  void use_prior_graph();
  // The edges whose values a model initialised from the deck starts from: deck_edges under a prior graph,
  // else `edges`.
  const std::vector<RegulatoryEdge>& initial_edges() const { return prior_graph ? deck_edges : edges; }
  int gene_index(const std::string& name) const; // -1 when unknown
  // The gene graph E_c of `type` as a set: for each target gene k, its sources j (sorted, unique, j != k;
  // self regulation is left out because graph models add their own self loop). `dense`: every j != k.
  std::vector<std::vector<int>> regulators(int type, bool dense) const;
};

const KeyTable& grn_keys();
// Reads the `grn` section and, when `grn.table` is given, the GRN table it names. Type names resolve
// against `type_names`. Errors name the deck key, or the table's file, line and column.
GeneNetwork read_gene_network(const Deck& deck, const std::vector<std::string>& type_names);

// Parses a GRN table (TSV with header `type source target sign K h n`; K, h, n optional) and appends its
// edges. Not collective; `text` is the file's content, `filename` is used in messages.
void parse_grn_table(const std::string& text, const std::string& filename,
                     const std::vector<std::string>& type_names, GeneNetwork& network);
// Parses a prior gene graph (TSV with header `type source target`; further columns, e.g. a GRN table's
// sign and Hill parameters, are ignored) and appends its edges (sign +, default Hill parameters): the graph a
// `graph_ode` model is trained on. Lines that add nothing to it, a self loop j -> j (graph models add their
// own) or a repeat of an earlier line's type and edge, are left out with a message in `skipped` naming
// file:line, the type and the edge. Not collective.
void parse_prior_table(const std::string& text, const std::string& filename,
                       const std::vector<std::string>& type_names, GeneNetwork& network,
                       std::vector<std::string>& skipped);

} // namespace tessera
