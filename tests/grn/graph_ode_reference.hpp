// The reference the graph_ode tests compare the model with: SPEC §2.2 written out literally on host copies
// of the parameters (plain loops, two-pass softmax, no code shared with the model), over the small tissue of
// graph_ode_fixture.hpp. Besides dx/dt it records the sign of every ReLU / LeakyReLU argument, so that a
// finite difference can tell when its +-h crosses a kink (the function is smooth between kinks, and the
// pattern is constant there).
#pragma once

#include "tessera/grn/graph_ode.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "graph_ode_fixture.hpp"

// Included by one test file per executable: the anonymous namespace keeps the helpers local to it.
namespace {

using HostTheta = std::vector<std::map<std::string, std::vector<double>>>; // [set][tensor]

HostTheta host_theta(const GraphOdeParameters& p) {
  HostTheta theta(static_cast<std::size_t>(p.n_sets()));
  for (int s = 0; s < p.n_sets(); ++s)
    for (const TensorSpec& t : p.layout().tensors())
      theta[static_cast<std::size_t>(s)][t.name] = p.tensor(s, t.name);
  return theta;
}

struct Reference {
  std::vector<std::vector<double>> f; // dx/dt
  // Per node the sum of |terms| of the last layer and of the decay term: the size of rounding errors in f.
  std::vector<std::vector<double>> scale;
  std::vector<char> pattern; // the sign of every ReLU / LeakyReLU argument, in evaluation order
};

// dx/dt of the small tissue at state x (cells x genes) under architecture `a` with parameters `theta_sets`;
// `graph` (may be null: no signalling) carries the neighbours' ligands of `pairs`.
Reference reference_rhs(const GraphOdeArchitecture& a, const HostTheta& theta_sets, const GeneNetwork& net,
                        const std::vector<LigandReceptorPair>& pairs,
                        const std::vector<std::vector<double>>& x, const HostGraph* graph) {
  const int K = a.heads, H = a.hidden, L = a.mlp_layers;
  Reference out;
  out.f.assign(n_cells, std::vector<double>(n_genes));
  out.scale = out.f;
  auto leaky = [&](double v) {
    out.pattern.push_back(v > 0);
    return v > 0 ? v : 0.2 * v;
  };
  auto relu = [&](double v) {
    out.pattern.push_back(v > 0);
    return v > 0 ? v : 0.0;
  };
  // The entry of a per-edge tensor that belongs to edge j -> k of type c: found in the architecture's list
  // (which resolve_edge_terms fills; EdgeTermsFollowTheGeneGraph tests it) by type and genes.
  auto edge_entry = [&](EdgeTerms terms, const std::vector<GraphOdeEdge>& list, int c, int j, int k) {
    const GraphOdeEdge wanted{terms == EdgeTerms::per_type ? c : -1, j, k};
    const auto it = std::find(list.begin(), list.end(), wanted);
    EXPECT_NE(it, list.end()) << "no entry for edge " << j << " -> " << k << " of type " << c;
    return static_cast<int>(it - list.begin());
  };
  for (int i = 0; i < n_cells; ++i) {
    const int c = cell_types[i];
    const auto& theta = theta_sets[a.share == ParameterSharing::all ? 0 : static_cast<std::size_t>(c)];
    auto T = [&](const std::string& name, int e) { return theta.at(name)[static_cast<std::size_t>(e)]; };
    for (int k = 0; k < n_genes; ++k) {
      // In-edges (h_u, w_u): the self loop, E_c as a set, then neighbours' ligands for each pair on k.
      std::vector<std::pair<double, double>> in{{x[i][k], 1.0}};
      std::vector<double> logit_bias{0.0};
      std::vector<int> source_gene{k}; // for the embedding's source term
      std::set<int> sources;
      for (int j = 0; j < n_genes; ++j)
        if (j != k && a.prior == PriorGraph::dense) sources.insert(j);
      if (a.prior == PriorGraph::edges)
        for (const RegulatoryEdge& e : net.edges)
          if ((e.type == -1 || e.type == c) && e.target == k && e.source != k) sources.insert(e.source);
      for (int j : sources) {
        // Beyond STAGED: the message is s_u h_u, the logit gains the edge's bias.
        in.push_back({x[i][j], a.edge_weights == EdgeTerms::none
                                   ? 1.0
                                   : T("edge_weight", edge_entry(a.edge_weights, a.weight_edges, c, j, k))});
        source_gene.push_back(j);
        logit_bias.push_back(a.edge_bias == EdgeTerms::none
                                 ? 0.0
                                 : T("edge_bias", edge_entry(a.edge_bias, a.bias_edges, c, j, k)));
      }
      if (graph)
        for (const LigandReceptorPair& pair : pairs)
          if (pair.receptor == k)
            for (int e = graph->offsets[i]; e < graph->offsets[i + 1]; ++e) {
              in.push_back({x[graph->source[e]][pair.ligand], graph->weight[e]});
              logit_bias.push_back(0.0);
              source_gene.push_back(pair.ligand);
            }

      std::vector<double> z(K * H);
      for (int h = 0; h < K; ++h) {
        std::vector<double> logits;
        for (std::size_t u = 0; u < in.size(); ++u) {
          const double hu = in[u].first;
          double e = 0.0;
          if (a.variant == AttentionVariant::gat) {
            double dst = 0.0, src = 0.0;
            for (int d = 0; d < H; ++d) {
              dst += T("a_dst", h * H + d) * (T("w", h * H + d) * x[i][k]);
              src += T("a_src", h * H + d) * (T("w", h * H + d) * hu);
            }
            e = leaky(dst + src);
          } else {
            for (int d = 0; d < H; ++d)
              e += T("a", h * H + d) * leaky(T("v_dst", h * H + d) * x[i][k] + T("v_src", h * H + d) * hu);
          }
          // Gene embeddings: q^h . e_j of the source gene j.
          for (int d = 0; d < a.embedding; ++d)
            e += T("attention_embedding", h * a.embedding + d) *
                 T("embedding", source_gene[u] * a.embedding + d);
          logits.push_back(e + logit_bias[u]);
        }
        const double top = *std::max_element(logits.begin(), logits.end());
        double sum = 0.0;
        for (double e : logits)
          sum += std::exp(e - top);
        double m = 0.0;
        for (std::size_t u = 0; u < in.size(); ++u)
          m += std::exp(logits[u] - top) / sum * in[u].second * in[u].first;
        for (int d = 0; d < H; ++d)
          z[h * H + d] = relu(T("w", h * H + d) * m + T("b0", h * H + d));
      }
      std::vector<double> y = z;
      double scale = 0.0;
      for (int l = 1; l <= L; ++l) {
        const std::vector<double>& W = theta.at("W" + std::to_string(l));
        const std::vector<double>& b = theta.at("b" + std::to_string(l));
        const int rows = static_cast<int>(b.size()), cols = static_cast<int>(y.size());
        std::vector<double> next(rows);
        for (int r = 0; r < rows; ++r) {
          double v = b[r];
          for (int j = 0; j < cols; ++j)
            v += W[r * cols + j] * y[j];
          double embedded = 0.0; // gene embeddings: W1_embedding e_k
          if (l == 1)
            for (int d = 0; d < a.embedding; ++d)
              embedded += T("W1_embedding", r * a.embedding + d) * T("embedding", k * a.embedding + d);
          v += embedded;
          if (l == L) {
            scale = std::fabs(b[r]) + std::fabs(embedded);
            for (int j = 0; j < cols; ++j)
              scale += std::fabs(W[r * cols + j] * y[j]);
          }
          next[r] = l < L ? relu(v) : v;
        }
        y = next;
      }
      const double gamma = std::log1p(std::exp(T("decay_rho", k)));
      out.f[i][k] = y[0] - gamma * x[i][k];
      out.scale[i][k] = scale + std::fabs(gamma * x[i][k]);
    }
  }
  return out;
}

// The same for a model's own parameters.
Reference reference_rhs(const GraphOdeParameters& p, const GeneNetwork& net,
                        const std::vector<LigandReceptorPair>& pairs,
                        const std::vector<std::vector<double>>& x, const HostGraph* graph) {
  return reference_rhs(p.architecture(), host_theta(p), net, pairs, x, graph);
}

} // namespace
