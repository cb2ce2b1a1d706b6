// The `graph_ode` model (SPEC §2.2) against a straightforward reference written from the SPEC formulas
// (graph_ode_reference.hpp: plain loops, two-pass softmax, no code shared with the model); Glorot init;
// model.h5 (SPEC §6.5).
#include "tessera/core/error.hpp"
#include "tessera/grn/graph_ode.hpp"
#include "tessera/io/deck.hpp"
#include "tessera/io/deck_schema.hpp"
#include "tessera/io/hdf5.hpp"

#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <random>
#include <set>

#include "graph_ode_reference.hpp"

using namespace tessera;

namespace {

// ---- A small tissue: 7 cells of 2 types, 5 genes, 3 LR pairs (two on one receptor), a hand-built graph,
// in graph_ode_fixture.hpp.

// ---- The reference: SPEC §2.2 written out literally, in graph_ode_reference.hpp.

// Model and reference agree to `tolerance` relative to the size of the terms summed last (rounding in a sum
// of terms is relative to the terms, not to a result that may nearly cancel).
void expect_matches(const std::vector<std::vector<double>>& f, const Reference& ref, double tolerance,
                    const std::string& what) {
  for (int i = 0; i < n_cells; ++i)
    for (int k = 0; k < n_genes; ++k) {
      ASSERT_TRUE(std::isfinite(f[i][k])) << what << " cell " << i << " gene " << k;
      EXPECT_LE(std::fabs(f[i][k] - ref.f[i][k]), tolerance * ref.scale[i][k])
          << what << " cell " << i << " gene " << k << ": " << f[i][k] << " vs reference " << ref.f[i][k];
    }
}

struct Case {
  GraphOdeArchitecture architecture;
  bool signaling = false;
  GraphOdeOptions options;
  std::string name() const {
    return to_string(architecture.variant) + " K=" + std::to_string(architecture.heads) +
           " L=" + std::to_string(architecture.mlp_layers) + " share=" + to_string(architecture.share) +
           " prior=" + to_string(architecture.prior) + (signaling ? " signaling" : "") +
           " tile=" + std::to_string(options.tile_nodes) +
           (options.dense == GraphOdeOptions::DenseProducts::kokkos ? " kokkos" : " blas");
  }
};

// Evaluates the model on `x` with the small tissue's types and (optionally) its signalling graph.
std::vector<std::vector<double>> evaluate(GraphOdeModel& model, const std::vector<std::vector<double>>& x,
                                          bool signaling) {
  const HostGraph host_graph;
  const SignalingGraph graph = device_graph(host_graph);
  std::vector<int> ligands;
  for (const LigandReceptorPair& p : small_pairs())
    ligands.push_back(p.ligand);
  std::sort(ligands.begin(), ligands.end());
  ligands.erase(std::unique(ligands.begin(), ligands.end()), ligands.end());
  LigandExchange exchange(ligands);
  exchange.set_halo(nullptr, n_cells, 0);
  model.set_cell_types(device_copy("types", cell_types));
  model.set_signaling(signaling ? &graph : nullptr, signaling ? &exchange : nullptr);
  const GeneState xd = to_device(x);
  GeneState f("f", n_cells, n_genes);
  model.evaluate(0.0, xd, f);
  model.set_signaling(nullptr, nullptr);
  return to_host(f);
}

std::string input_error_of(const std::function<void()>& body) {
  try {
    body();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::input) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no error was raised";
  return "";
}

std::string scratch_path(const std::string& name) {
  const std::filesystem::path dir = std::filesystem::path(TESSERA_BINARY_DIR) / "test_graph_ode";
  std::filesystem::create_directories(dir);
  const std::filesystem::path path = dir / name;
  std::filesystem::remove(path);
  return path.string();
}

GraphOdeArchitecture small_architecture() {
  GraphOdeArchitecture a;
  a.hidden = 4;
  a.mlp_width = 6;
  return a;
}

} // namespace

// ---- The RHS against the reference

TEST(GraphOdeModel, RhsMatchesTheReferenceForEveryArchitecture) {
  // 1e-12 relative: the model and the reference sum in different orders (and the GAT logit is regrouped as
  // x (a.w)), a few ulps per operation through two attention passes and three layers.
  int checked = 0;
  for (AttentionVariant variant : {AttentionVariant::gat, AttentionVariant::gatv2})
    for (int heads : {1, 2})
      for (int layers : {1, 2, 3})
        for (ParameterSharing share : {ParameterSharing::all, ParameterSharing::per_type})
          for (PriorGraph prior : {PriorGraph::edges, PriorGraph::dense})
            for (bool signaling : {false, true})
              for (int tile : {4096, 10}) // 10 nodes = 2 cells: several tiles per set, the last one partial
                for (auto dense :
                     {GraphOdeOptions::DenseProducts::automatic, GraphOdeOptions::DenseProducts::kokkos}) {
                  Case setup;
                  setup.architecture = small_architecture();
                  setup.architecture.variant = variant;
                  setup.architecture.heads = heads;
                  setup.architecture.mlp_layers = layers;
                  setup.architecture.share = share;
                  setup.architecture.prior = prior;
                  setup.signaling = signaling;
                  setup.options.tile_nodes = tile;
                  setup.options.dense = dense;
                  GraphOdeParameters parameters(setup.architecture, gene_names, type_names);
                  randomize(parameters, 17u + static_cast<unsigned>(checked));
                  const GeneNetwork net = small_network();
                  GraphOdeModel model(parameters, net, small_pairs(), setup.options);
                  const auto x = random_state(5u + static_cast<unsigned>(checked));
                  const auto f = evaluate(model, x, signaling);
                  const HostGraph graph;
                  const Reference ref =
                      reference_rhs(parameters, net, small_pairs(), x, signaling ? &graph : nullptr);
                  expect_matches(f, ref, 1e-12, setup.name());
                  ++checked;
                }
  EXPECT_EQ(checked, 2 * 2 * 3 * 2 * 2 * 2 * 2 * 2);
}

// ---- Beyond STAGED: per-edge weights and logit biases

TEST(GraphOdeEdgeTerms, EntriesFollowTheGeneGraph) {
  const GeneNetwork net = small_network();
  GraphOdeArchitecture a = small_architecture();
  a.edge_weights = EdgeTerms::per_type;
  a.edge_bias = EdgeTerms::shared;
  resolve_edge_terms(a, net, 2);
  // per_type: each type's graph in (type, target, source) order; shared: their union by (target, source).
  std::vector<GraphOdeEdge> per_type, shared;
  for (int c = 0; c < 2; ++c) {
    const auto regulators = net.regulators(c, false);
    for (int k = 0; k < n_genes; ++k)
      for (int j : regulators[k]) {
        per_type.push_back({c, j, k});
        if (std::find(shared.begin(), shared.end(), GraphOdeEdge{-1, j, k}) == shared.end())
          shared.push_back({-1, j, k});
      }
  }
  std::sort(shared.begin(), shared.end(), [](const GraphOdeEdge& l, const GraphOdeEdge& r) {
    return std::pair(l.target, l.source) < std::pair(r.target, r.source);
  });
  EXPECT_EQ(a.weight_edges, per_type);
  EXPECT_EQ(a.bias_edges, shared);
  // The small network: epi has A->B, B->C, D->A, A->E, C->E; mes A->B, B->C, E->A, C->D (no self edge).
  EXPECT_EQ(per_type.size(), 9u);
  EXPECT_EQ(shared.size(), 7u);
  const ParameterLayout layout = graph_ode_layout(a, n_genes);
  EXPECT_EQ(layout.tensor("edge_weight").shape, (std::vector<std::int64_t>{9}));
  EXPECT_TRUE(layout.tensor("edge_weight").sparse);
  EXPECT_EQ(layout.tensor("edge_bias").shape, (std::vector<std::int64_t>{7}));
  EXPECT_FALSE(layout.tensor("edge_bias").sparse);
  // Off: STAGED's layout exactly, the same tensors at the same offsets.
  const ParameterLayout staged = graph_ode_layout(small_architecture(), n_genes);
  EXPECT_EQ(layout.tensor("decay_rho").offset, staged.tensor("decay_rho").offset);
  EXPECT_EQ(layout.size(), staged.size() + 16);
  GraphOdeArchitecture off = small_architecture();
  resolve_edge_terms(off, net, 2);
  EXPECT_TRUE(off.weight_edges.empty());
  EXPECT_EQ(graph_ode_layout(off, n_genes).size(), staged.size());
  // Dense: every ordered pair j != k, per type.
  a.prior = PriorGraph::dense;
  resolve_edge_terms(a, net, 2);
  EXPECT_EQ(a.weight_edges.size(), 2u * 5u * 4u);
  EXPECT_EQ(a.bias_edges.size(), 5u * 4u);
}

TEST(GraphOdeEdgeTerms, RhsMatchesTheReference) {
  // As RhsMatchesTheReferenceForEveryArchitecture (1e-12 relative), with signed weights and logit biases
  // drawn at random for every option.
  int checked = 0;
  const EdgeTerms terms[] = {EdgeTerms::none, EdgeTerms::per_type, EdgeTerms::shared};
  for (AttentionVariant variant : {AttentionVariant::gat, AttentionVariant::gatv2})
    for (EdgeTerms weights : terms)
      for (EdgeTerms bias : terms)
        for (ParameterSharing share : {ParameterSharing::all, ParameterSharing::per_type})
          for (PriorGraph prior : {PriorGraph::edges, PriorGraph::dense}) {
            Case setup;
            setup.architecture = small_architecture();
            setup.architecture.variant = variant;
            setup.architecture.heads = 2;
            setup.architecture.mlp_layers = 2;
            setup.architecture.share = share;
            setup.architecture.prior = prior;
            setup.architecture.edge_weights = weights;
            setup.architecture.edge_bias = bias;
            setup.signaling = true;
            setup.options.tile_nodes = checked % 2 ? 10 : 4096;
            const GeneNetwork net = small_network();
            resolve_edge_terms(setup.architecture, net, 2);
            GraphOdeParameters parameters(setup.architecture, gene_names, type_names);
            randomize(parameters, 31u + static_cast<unsigned>(checked));
            GraphOdeModel model(parameters, net, small_pairs(), setup.options);
            const auto x = random_state(6u + static_cast<unsigned>(checked));
            const HostGraph graph;
            expect_matches(
                evaluate(model, x, true), reference_rhs(parameters, net, small_pairs(), x, &graph), 1e-12,
                setup.name() + " edge_weights=" + to_string(weights) + " edge_bias=" + to_string(bias));
            ++checked;
          }
  EXPECT_EQ(checked, 2 * 9 * 2 * 2);
}

TEST(GraphOdeEmbedding, RhsMatchesTheReference) {
  // Gene embeddings (D = 3) into layer 1 and the attention, for every layer count, both variants and
  // sharings, with and without the per-edge terms; 1e-12 relative as above.
  int checked = 0;
  for (AttentionVariant variant : {AttentionVariant::gat, AttentionVariant::gatv2})
    for (int layers : {1, 2, 3})
      for (ParameterSharing share : {ParameterSharing::all, ParameterSharing::per_type})
        for (bool edge_terms : {false, true}) {
          Case setup;
          setup.architecture = small_architecture();
          setup.architecture.variant = variant;
          setup.architecture.heads = 2;
          setup.architecture.mlp_layers = layers;
          setup.architecture.share = share;
          setup.architecture.embedding = 3;
          if (edge_terms) {
            setup.architecture.edge_weights = EdgeTerms::shared;
            setup.architecture.edge_bias = EdgeTerms::per_type;
          }
          setup.options.tile_nodes = checked % 2 ? 10 : 4096;
          setup.options.dense = checked % 4 == 1 ? GraphOdeOptions::DenseProducts::kokkos
                                                 : GraphOdeOptions::DenseProducts::automatic;
          const GeneNetwork net = small_network();
          resolve_edge_terms(setup.architecture, net, 2);
          GraphOdeParameters parameters(setup.architecture, gene_names, type_names);
          randomize(parameters, 61u + static_cast<unsigned>(checked));
          GraphOdeModel model(parameters, net, small_pairs(), setup.options);
          const auto x = random_state(16u + static_cast<unsigned>(checked));
          const HostGraph graph;
          expect_matches(evaluate(model, x, true), reference_rhs(parameters, net, small_pairs(), x, &graph),
                         1e-12, setup.name() + " embedding 3" + (edge_terms ? " edge terms" : ""));
          ++checked;
        }
  EXPECT_EQ(checked, 2 * 3 * 2 * 2);
  // The layout: three tensors after the STAGED ones (and the edge terms), embedding not penalised by l1.
  GraphOdeArchitecture a = small_architecture();
  a.embedding = 3;
  const ParameterLayout layout = graph_ode_layout(a, n_genes);
  EXPECT_EQ(layout.tensor("embedding").shape, (std::vector<std::int64_t>{5, 3}));
  EXPECT_FALSE(layout.tensor("embedding").sparse);
  EXPECT_EQ(layout.tensor("attention_embedding").shape, (std::vector<std::int64_t>{1, 3}));
  EXPECT_EQ(layout.tensor("W1_embedding").shape, (std::vector<std::int64_t>{6, 3}));
  EXPECT_EQ(layout.tensor("decay_rho").offset,
            graph_ode_layout(small_architecture(), n_genes).tensor("decay_rho").offset);
}

TEST(GraphOdeModelFile, EmbeddingRoundTripMatchedByName) {
  // Rows of `embedding` follow the gene names like decay_rho: a file written with the genes reversed gives
  // the same RHS on the reversed state.
  const std::vector<std::string> reversed{"E", "D", "C", "B", "A"};
  GeneNetwork forward = small_network(), backward = small_network();
  backward.genes = reversed;
  for (RegulatoryEdge& e : backward.edges) {
    e.source = n_genes - 1 - e.source;
    e.target = n_genes - 1 - e.target;
  }
  GraphOdeArchitecture a = small_architecture();
  a.embedding = 2;
  a.heads = 2;
  GraphOdeParameters written(a, reversed, type_names);
  randomize(written, 14);
  const std::string path = scratch_path("embedding.h5");
  write_graph_ode_model(path, written);
  const GraphOdeParameters read = read_graph_ode_model(path, a, gene_names, type_names);
  GraphOdeModel m1(written, backward, {}), m2(read, forward, {});
  const auto x = random_state(9);
  auto x_reversed = x;
  for (auto& row : x_reversed)
    std::reverse(row.begin(), row.end());
  auto f1 = evaluate(m1, x_reversed, false);
  for (auto& row : f1)
    std::reverse(row.begin(), row.end());
  EXPECT_EQ(f1, evaluate(m2, x, false));
  h5::File file = h5::File::open_read(path);
  h5::Handle arch = h5::open_group(file.get(), "architecture");
  EXPECT_EQ(h5::read_int_attribute(arch.get(), "embedding"), 2);
  GraphOdeArchitecture other = a;
  other.embedding = 4;
  EXPECT_NE(input_error_of([&] {
              read_graph_ode_model(path, other, gene_names, type_names);
            }).find("/architecture embedding = 2 but grn.graph_ode.embedding = 4"),
            std::string::npos);
  // A STAGED file (the same architecture otherwise) reads as embedding 0.
  GraphOdeArchitecture without = a;
  without.embedding = 0;
  GraphOdeParameters staged(without, gene_names, type_names);
  const std::string plain = scratch_path("embedding_staged.h5");
  write_graph_ode_model(plain, staged);
  EXPECT_NE(input_error_of([&] {
              read_graph_ode_model(plain, a, gene_names, type_names);
            }).find("/architecture embedding = 0 but grn.graph_ode.embedding = 2"),
            std::string::npos);
}

TEST(GraphOdeEdgeTerms, InitialisedTermsGiveTheStagedModelBitForBit) {
  // glorot_init sets s_u = 1 and the biases 0, and draws every STAGED tensor as without the terms: the RHS
  // is STAGED's exactly, so switching the terms on starts training where STAGED starts.
  const GeneNetwork net = small_network();
  for (AttentionVariant variant : {AttentionVariant::gat, AttentionVariant::gatv2}) {
    GraphOdeArchitecture staged = small_architecture();
    staged.variant = variant;
    GraphOdeArchitecture a = staged;
    a.edge_weights = EdgeTerms::per_type;
    a.edge_bias = EdgeTerms::shared;
    resolve_edge_terms(a, net, 2);
    GraphOdeParameters p(a, gene_names, type_names), q(staged, gene_names, type_names);
    p.glorot_init(4, 0.2);
    q.glorot_init(4, 0.2);
    for (const TensorSpec& t : q.layout().tensors())
      EXPECT_EQ(p.tensor(0, t.name), q.tensor(0, t.name)) << t.name;
    EXPECT_EQ(p.tensor(0, "edge_weight"), std::vector<double>(9, 1.0));
    EXPECT_EQ(p.tensor(0, "edge_bias"), std::vector<double>(7, 0.0));
    GraphOdeModel with(p, net, small_pairs()), without(q, net, small_pairs());
    const auto x = random_state(21);
    EXPECT_EQ(evaluate(with, x, true), evaluate(without, x, true)) << to_string(variant);
  }
}

TEST(GraphOdeEdgeTerms, SignedEdgeWeightsAreTheWeightOfEveryTypesEdges) {
  const GeneNetwork net = small_network();
  for (ParameterSharing share : {ParameterSharing::all, ParameterSharing::per_type}) {
    GraphOdeArchitecture a = small_architecture();
    a.share = share;
    a.edge_weights = EdgeTerms::shared;
    resolve_edge_terms(a, net, 2);
    GraphOdeParameters p(a, gene_names, type_names);
    randomize(p, 8);
    const GraphOdeModel model(p, net, small_pairs());
    const std::vector<SignedEdgeWeight> weights = model.signed_edge_weights();
    ASSERT_EQ(weights.size(), 9u); // 5 edges of epi, 4 of mes
    for (const SignedEdgeWeight& w : weights) {
      const auto regulators = net.regulators(w.type, false);
      EXPECT_NE(std::find(regulators[w.target].begin(), regulators[w.target].end(), w.source),
                regulators[w.target].end());
      EXPECT_EQ(w.pair, -1);
      const auto it =
          std::find(a.weight_edges.begin(), a.weight_edges.end(), GraphOdeEdge{-1, w.source, w.target});
      EXPECT_EQ(w.weight, p.tensor(share == ParameterSharing::all ? 0 : w.type,
                                   "edge_weight")[it - a.weight_edges.begin()]);
    }
  }
  GraphOdeArchitecture staged = small_architecture();
  GraphOdeParameters q(staged, gene_names, type_names);
  EXPECT_TRUE(GraphOdeModel(q, net, small_pairs()).signed_edge_weights().empty());
}

TEST(GraphOdeModel, ReferenceArchitectureMatches) {
  // STAGED's reference sizes (K = 1, GAT, H = M = 64, L = 3), with Glorot-initialised weights as used.
  GraphOdeArchitecture a; // the defaults are the reference architecture
  ASSERT_EQ(a.hidden, 64);
  GraphOdeParameters parameters(a, gene_names, type_names);
  parameters.glorot_init(3, 0.1);
  const GeneNetwork net = small_network();
  GraphOdeModel model(parameters, net, small_pairs());
  const auto x = random_state(11);
  const HostGraph graph;
  expect_matches(evaluate(model, x, true), reference_rhs(parameters, net, small_pairs(), x, &graph), 1e-12,
                 "reference architecture");
}

TEST(GraphOdeModel, ZeroWeightsTiedAndHitBreakpoints) {
  // z_d = ReLU(w_d m + b0_d) has its kink at m = -b0_d / w_d. Units with w_d = 0 (b0_d of either sign), two
  // units with the same kink, and kinks at the value m takes when every input of a node equals 0.5 (the
  // softmax then averages equal values) must all give the formula's value.
  for (AttentionVariant variant : {AttentionVariant::gat, AttentionVariant::gatv2}) {
    GraphOdeArchitecture a = small_architecture();
    a.variant = variant;
    a.hidden = 8;
    a.heads = 2;
    GraphOdeParameters parameters(a, gene_names, type_names);
    randomize(parameters, 31);
    std::vector<double> w = parameters.tensor(0, "w"), b0 = parameters.tensor(0, "b0");
    w[0] = 0.0;
    b0[0] = 0.7; // constant, active
    w[1] = 0.0;
    b0[1] = -0.4; // constant, inactive
    w[2] = 1.5;
    b0[2] = -0.75; // kink at 0.5
    w[3] = -0.5;
    b0[3] = 0.25; // kink at 0.5, decreasing
    w[8 + 4] = 2.0;
    b0[8 + 4] = -1.0; // kink at 0.5 in head 2
    w[8 + 5] = 0.0;
    parameters.set_tensor(0, "w", w);
    parameters.set_tensor(0, "b0", b0);
    const GeneNetwork net = small_network();
    GraphOdeModel model(parameters, net, small_pairs());
    auto x = random_state(8);
    x[1].assign(n_genes, 0.5);
    x[3].assign(n_genes, 0.5);
    const HostGraph graph;
    for (bool signaling : {false, true})
      expect_matches(evaluate(model, x, signaling),
                     reference_rhs(parameters, net, small_pairs(), x, signaling ? &graph : nullptr), 1e-12,
                     to_string(variant));
  }
}

TEST(GraphOdeModel, SignalingChangesOnlyReceptorGenes) {
  GraphOdeArchitecture a = small_architecture();
  GraphOdeParameters parameters(a, gene_names, type_names);
  randomize(parameters, 99);
  GraphOdeModel model(parameters, small_network(), small_pairs());
  const auto x = random_state(12);
  const auto alone = evaluate(model, x, false);
  const auto coupled = evaluate(model, x, true);
  for (int i = 0; i < n_cells; ++i)
    for (int k = 0; k < n_genes; ++k) {
      const bool receptor = k == 3 || k == 4;
      const bool heard = HostGraph{}.offsets[i + 1] > HostGraph{}.offsets[i];
      if (receptor && heard)
        EXPECT_NE(alone[i][k], coupled[i][k]) << "cell " << i << " gene " << k;
      else
        EXPECT_EQ(alone[i][k], coupled[i][k]) << "cell " << i << " gene " << k;
    }
}

TEST(GraphOdeModel, HugeAttentionLogitsStayFinite) {
  // Logits of order 1e150: exp of them overflows, so only the max-subtracted softmax gives a number.
  for (AttentionVariant variant : {AttentionVariant::gat, AttentionVariant::gatv2}) {
    GraphOdeArchitecture a = small_architecture();
    a.variant = variant;
    a.heads = 2;
    GraphOdeParameters parameters(a, gene_names, type_names);
    randomize(parameters, 5);
    for (const char* name : {"a_src", "a_dst", "a"})
      if (parameters.layout().has(name)) {
        std::vector<double> v = parameters.tensor(0, name);
        for (double& e : v)
          e *= 1e150;
        parameters.set_tensor(0, name, v);
      }
    const GeneNetwork net = small_network();
    GraphOdeModel model(parameters, net, small_pairs());
    const auto x = random_state(21);
    const auto f = evaluate(model, x, true);
    const HostGraph graph;
    expect_matches(f, reference_rhs(parameters, net, small_pairs(), x, &graph), 1e-12, to_string(variant));
  }
}

TEST(GraphOdeModel, EmptyStateAndRegroupingAfterTypeChange) {
  GraphOdeArchitecture a = small_architecture();
  a.share = ParameterSharing::per_type;
  GraphOdeParameters parameters(a, gene_names, type_names);
  randomize(parameters, 8);
  GraphOdeModel model(parameters, small_network(), small_pairs());
  GeneState none("x", 0, n_genes);
  model.set_cell_types(device_copy("types", cell_types));
  model.evaluate(0.0, none, none); // no cells: nothing to do, no error

  // The same cells with every type swapped: the model must regroup, not reuse the old grouping.
  const auto x = random_state(3);
  const auto f = evaluate(model, x, false);
  std::vector<int> swapped = cell_types;
  for (int& t : swapped)
    t = 1 - t;
  model.set_cell_types(device_copy("types", swapped));
  GeneState fd("f", n_cells, n_genes);
  model.evaluate(0.0, to_device(x), fd);
  const auto g = to_host(fd);
  int differ = 0;
  for (int i = 0; i < n_cells; ++i)
    for (int k = 0; k < n_genes; ++k)
      differ += f[i][k] != g[i][k];
  EXPECT_GT(differ, n_cells); // every cell changed parameter set
}

TEST(GraphOdeModel, FlopCountOfTheReferenceArchitecture) {
  GraphOdeParameters parameters(GraphOdeArchitecture{}, gene_names, type_names);
  GraphOdeModel model(parameters, small_network(), {});
  // The product of layer 2, 2 M^2 = 8192, dominates (layer 1 costs 3 K M per node, not 2 K H M): ~8800.
  const double flops = model.flops_per_node(4.0);
  EXPECT_GT(flops, 2.0 * 64 * 64);
  EXPECT_LT(flops, 2.0 * 64 * 64 * 1.1);
}

// ---- Initialisation

TEST(GraphOdeParameters, GlorotInitIsSeededAndWithinTheBound) {
  GraphOdeArchitecture a;
  a.variant = AttentionVariant::gatv2;
  a.heads = 2;
  a.hidden = 8;
  a.mlp_width = 16;
  a.mlp_layers = 3;
  a.share = ParameterSharing::per_type;
  GraphOdeParameters p1(a, gene_names, type_names), p2(a, gene_names, type_names),
      p3(a, gene_names, type_names);
  p1.glorot_init(42, 0.25);
  p2.glorot_init(42, 0.25);
  p3.glorot_init(43, 0.25);
  // Bounds sqrt(6 / (fan_in + fan_out)) written out for this architecture (K = 2, H = 8, M = 16).
  const std::map<std::string, double> bound{{"w", std::sqrt(6.0 / 9)},          {"a", std::sqrt(6.0 / 9)},
                                            {"v_src", std::sqrt(6.0 / 9)},      {"v_dst", std::sqrt(6.0 / 9)},
                                            {"W1", std::sqrt(6.0 / (16 + 16))}, {"W2", std::sqrt(6.0 / 32)},
                                            {"W3", std::sqrt(6.0 / 17)}};
  for (int s = 0; s < 2; ++s)
    for (const TensorSpec& t : p1.layout().tensors()) {
      const auto v1 = p1.tensor(s, t.name), v2 = p2.tensor(s, t.name), v3 = p3.tensor(s, t.name);
      EXPECT_EQ(v1, v2) << t.name;
      if (t.name == "decay_rho") {
        for (double rho : v1)
          EXPECT_NEAR(std::log1p(std::exp(rho)), 0.25, 1e-15);
      } else if (bound.count(t.name)) {
        EXPECT_NE(v1, v3) << t.name;
        double largest = 0.0;
        for (double e : v1) {
          EXPECT_LT(std::fabs(e), bound.at(t.name)) << t.name;
          largest = std::max(largest, std::fabs(e));
        }
        if (t.size() >= 16)
          EXPECT_GT(largest, 0.5 * bound.at(t.name)) << t.name; // really spread over the range
      } else {
        for (double e : v1)
          EXPECT_EQ(e, 0.0) << t.name << " is a bias";
      }
    }
  EXPECT_NE(p1.tensor(0, "W1"), p1.tensor(1, "W1")); // each type's set is its own draw
  // Shapes of SPEC §2.2.
  EXPECT_EQ(p1.layout().tensor("W1").shape, (std::vector<std::int64_t>{16, 16}));
  EXPECT_EQ(p1.layout().tensor("W3").shape, (std::vector<std::int64_t>{1, 16}));
  EXPECT_EQ(p1.layout().tensor("b3").shape, (std::vector<std::int64_t>{1}));
  EXPECT_EQ(p1.layout().tensor("v_dst").shape, (std::vector<std::int64_t>{2, 8}));
  GraphOdeArchitecture one = a;
  one.mlp_layers = 1;
  EXPECT_EQ(graph_ode_layout(one, 5).tensor("W1").shape, (std::vector<std::int64_t>{1, 16}));
}

TEST(GraphOdeParameters, SoftplusRoundTrip) {
  for (double gamma : {1e-20, 1e-8, 0.1, 1.0, 29.0, 31.0, 800.0})
    EXPECT_NEAR(softplus(inverse_softplus(gamma)), gamma, 1e-14 * gamma) << gamma;
  EXPECT_EQ(inverse_softplus(0.0), -50.0);
  EXPECT_LT(softplus(inverse_softplus(0.0)), 1e-21);
}

// ---- model.h5

TEST(GraphOdeModelFile, RoundTripGivesIdenticalTensorsAndRhs) {
  for (ParameterSharing share : {ParameterSharing::all, ParameterSharing::per_type}) {
    GraphOdeArchitecture a = small_architecture();
    a.heads = 2;
    a.share = share;
    a.variant = AttentionVariant::gatv2;
    GraphOdeParameters written(a, gene_names, type_names);
    randomize(written, 7);
    const std::string path = scratch_path("round_trip_" + to_string(share) + ".h5");
    write_graph_ode_model(path, written);
    const GraphOdeParameters read = read_graph_ode_model(path, a, gene_names, type_names);
    ASSERT_EQ(read.n_sets(), written.n_sets());
    for (int s = 0; s < read.n_sets(); ++s)
      for (const TensorSpec& t : read.layout().tensors())
        EXPECT_EQ(read.tensor(s, t.name), written.tensor(s, t.name)) << t.name;

    const GeneNetwork net = small_network();
    GraphOdeModel m1(written, net, small_pairs()), m2(read, net, small_pairs());
    const auto x = random_state(4);
    EXPECT_EQ(evaluate(m1, x, true), evaluate(m2, x, true));

    // The layout of SPEC §6.5, as another reader sees it.
    h5::File file = h5::File::open_read(path);
    EXPECT_EQ(h5::read_text_attribute(file.get(), "format"), "tessera-model");
    h5::Handle arch = h5::open_group(file.get(), "architecture");
    EXPECT_EQ(h5::read_text_attribute(arch.get(), "variant"), "gatv2");
    EXPECT_EQ(h5::read_int_attribute(arch.get(), "hidden"), 4);
    EXPECT_EQ(h5::read_strings(file.get(), "genes"), gene_names);
    EXPECT_EQ(h5::read_strings(file.get(), "cell_types"), type_names);
    const std::string set = share == ParameterSharing::all ? "all" : "mes";
    EXPECT_EQ(h5::shape(file.get(), "params/" + set + "/W1"), (std::vector<std::int64_t>{6, 8}));
    EXPECT_EQ(h5::shape(file.get(), "params/" + set + "/b3"), (std::vector<std::int64_t>{1}));
  }
}

TEST(GraphOdeModelFile, GenesAreMatchedByName) {
  GraphOdeArchitecture a = small_architecture();
  GraphOdeParameters written(a, {"E", "D", "C", "B", "A"}, type_names);
  randomize(written, 2);
  const std::string path = scratch_path("reordered.h5");
  write_graph_ode_model(path, written);
  const GraphOdeParameters read = read_graph_ode_model(path, a, gene_names, {"other", "types"});
  std::vector<double> reversed = written.tensor(0, "decay_rho");
  std::reverse(reversed.begin(), reversed.end());
  EXPECT_EQ(read.tensor(0, "decay_rho"), reversed);
  EXPECT_EQ(read.tensor(0, "W2"), written.tensor(0, "W2"));
}

TEST(GraphOdeModelFile, EdgeTermsRoundTripMatchedByName) {
  // Written with the genes in reverse order, read with the deck's: each edge's entry follows its gene names,
  // so the read model's RHS is the written one's (evaluated on the reversed state).
  const std::vector<std::string> reversed{"E", "D", "C", "B", "A"};
  GeneNetwork forward = small_network(), backward = small_network();
  backward.genes = reversed;
  for (RegulatoryEdge& e : backward.edges) {
    e.source = n_genes - 1 - e.source;
    e.target = n_genes - 1 - e.target;
  }
  for (EdgeTerms terms : {EdgeTerms::per_type, EdgeTerms::shared}) {
    GraphOdeArchitecture written_a = small_architecture();
    written_a.share = ParameterSharing::per_type;
    written_a.edge_weights = terms;
    written_a.edge_bias = EdgeTerms::per_type;
    GraphOdeArchitecture read_a = written_a;
    resolve_edge_terms(written_a, backward, 2);
    resolve_edge_terms(read_a, forward, 2);
    GraphOdeParameters written(written_a, reversed, type_names);
    randomize(written, 12);
    const std::string path = scratch_path("edge_terms_" + to_string(terms) + ".h5");
    write_graph_ode_model(path, written);
    const GraphOdeParameters read = read_graph_ode_model(path, read_a, gene_names, type_names);

    GraphOdeModel m1(written, backward, {}), m2(read, forward, {});
    auto x = random_state(3);
    auto x_reversed = x;
    for (auto& row : x_reversed)
      std::reverse(row.begin(), row.end());
    auto f1 = evaluate(m1, x_reversed, false);
    for (auto& row : f1)
      std::reverse(row.begin(), row.end());
    EXPECT_EQ(f1, evaluate(m2, x, false)) << to_string(terms);

    h5::File file = h5::File::open_read(path);
    h5::Handle arch = h5::open_group(file.get(), "architecture");
    EXPECT_EQ(h5::read_text_attribute(arch.get(), "edge_weights"), to_string(terms));
    EXPECT_EQ(h5::read_text_attribute(arch.get(), "edge_bias"), "per_type");
    EXPECT_EQ(h5::read_strings(file.get(), "edge_terms/edge_bias/type").front(), "epi");
    EXPECT_EQ(h5::read_strings(file.get(), "edge_terms/edge_weight/type").front(),
              terms == EdgeTerms::shared ? "*" : "epi");
  }
}

TEST(GraphOdeModelFile, EdgeTermsOfAnotherGraphOrSettingAreInputErrors) {
  const GeneNetwork net = small_network();
  GraphOdeArchitecture a = small_architecture();
  a.edge_weights = EdgeTerms::per_type;
  resolve_edge_terms(a, net, 2);
  GraphOdeParameters written(a, gene_names, type_names);
  randomize(written, 5);
  const std::string path = scratch_path("edge_terms_mismatch.h5");
  write_graph_ode_model(path, written);

  GeneNetwork more = net;
  more.edges.push_back({1, 4, 1, +1, 1, 0.5, 2}); // mes: E -> B
  GraphOdeArchitecture b = a;
  resolve_edge_terms(b, more, 2);
  EXPECT_NE(
      input_error_of([&] { read_graph_ode_model(path, b, gene_names, type_names); })
          .find("the deck's gene graph has the edge mes: E -> B but the model's /edge_terms/edge_weight "
                "does not"),
      std::string::npos);
  GeneNetwork fewer = net;
  fewer.edges.pop_back(); // epi: C -> E
  GraphOdeArchitecture c = a;
  resolve_edge_terms(c, fewer, 2);
  EXPECT_NE(
      input_error_of([&] { read_graph_ode_model(path, c, gene_names, type_names); })
          .find("the model's /edge_terms/edge_weight has the edge epi: C -> E but the deck's gene graph "
                "does not"),
      std::string::npos);
  GraphOdeArchitecture d = a;
  d.edge_bias = EdgeTerms::shared;
  resolve_edge_terms(d, net, 2);
  EXPECT_NE(input_error_of([&] {
              read_graph_ode_model(path, d, gene_names, type_names);
            }).find("/architecture edge_bias = none but grn.graph_ode.edge_bias = shared"),
            std::string::npos);
  // A STAGED file (no attributes) read by a deck with the terms on.
  GraphOdeParameters staged(small_architecture(), gene_names, type_names);
  const std::string plain = scratch_path("edge_terms_staged.h5");
  write_graph_ode_model(plain, staged);
  EXPECT_NE(input_error_of([&] {
              read_graph_ode_model(plain, a, gene_names, type_names);
            }).find("/architecture edge_weights = none but grn.graph_ode.edge_weights = per_type"),
            std::string::npos);
}

TEST(GraphOdeModelFile, MismatchesAreInputErrorsNamingWhatDiffers) {
  GraphOdeArchitecture a = small_architecture();
  a.share = ParameterSharing::per_type;
  GraphOdeParameters written(a, gene_names, type_names);
  randomize(written, 3);
  const std::string path = scratch_path("mismatch.h5");
  write_graph_ode_model(path, written);

  auto with = [&](const std::function<void(GraphOdeArchitecture&)>& change) {
    GraphOdeArchitecture b = a;
    change(b);
    return input_error_of([&] { read_graph_ode_model(path, b, gene_names, type_names); });
  };
  EXPECT_NE(with([](auto& b) {
              b.hidden = 64;
            }).find(path + ": /architecture hidden = 4 but grn.graph_ode.hidden = 64"),
            std::string::npos);
  EXPECT_NE(with([](auto& b) {
              b.variant = AttentionVariant::gatv2;
            }).find("/architecture variant = gat but grn.graph_ode.variant = gatv2"),
            std::string::npos);
  EXPECT_NE(with([](auto& b) { b.heads = 2; }).find("heads = 1 but grn.graph_ode.heads = 2"),
            std::string::npos);
  EXPECT_NE(with([](auto& b) { b.mlp_width = 7; }).find("mlp_width = 6 but grn.graph_ode.mlp_width = 7"),
            std::string::npos);
  EXPECT_NE(with([](auto& b) { b.mlp_layers = 2; }).find("mlp_layers = 3 but grn.graph_ode.mlp_layers = 2"),
            std::string::npos);
  EXPECT_NE(with([](auto& b) {
              b.share = ParameterSharing::all;
            }).find("share = per_type but grn.graph_ode.share = all"),
            std::string::npos);
  EXPECT_NE(with([](auto& b) {
              b.prior = PriorGraph::dense;
            }).find("prior = edges but grn.graph_ode.prior = dense"),
            std::string::npos);

  std::vector<std::string> genes = gene_names;
  genes[2] = "Wnt";
  EXPECT_NE(input_error_of([&] {
              read_graph_ode_model(path, a, genes, type_names);
            }).find("gene 'Wnt' of the deck is not in /genes"),
            std::string::npos);
  EXPECT_NE(input_error_of([&] {
              read_graph_ode_model(path, a, {"A", "B", "C", "D"}, type_names);
            }).find("gene 'E' of /genes is not in the deck's grn.genes"),
            std::string::npos);
  EXPECT_NE(input_error_of([&] {
              read_graph_ode_model(path, a, gene_names, {"epi", "fib"});
            }).find("cell type 'fib' of the deck is not in /cell_types"),
            std::string::npos);
  EXPECT_NE(input_error_of([&] {
              read_graph_ode_model(scratch_path("absent.h5"), a, gene_names, type_names);
            }).find("no such file"),
            std::string::npos);
}

namespace {

// A model file written by hand, tensor by tensor, with `edit` free to change, drop or add tensors.
void write_edited_model(const std::string& path, const GraphOdeParameters& p,
                        const std::function<void(hid_t group, const TensorSpec& t,
                                                 std::vector<double>& values, bool& keep)>& edit,
                        const std::string& format = "tessera-model", std::int64_t version = 1) {
  h5::File file = h5::File::create(path);
  h5::write_text_attribute(file.get(), "format", format);
  if (version >= 0) h5::write_int_attribute(file.get(), "version", version); // < 0: none
  {
    h5::Handle arch = h5::create_group(file.get(), "architecture");
    const GraphOdeArchitecture& a = p.architecture();
    h5::write_text_attribute(arch.get(), "variant", to_string(a.variant));
    h5::write_int_attribute(arch.get(), "heads", a.heads);
    h5::write_int_attribute(arch.get(), "hidden", a.hidden);
    h5::write_int_attribute(arch.get(), "mlp_width", a.mlp_width);
    h5::write_int_attribute(arch.get(), "mlp_layers", a.mlp_layers);
    h5::write_text_attribute(arch.get(), "share", to_string(a.share));
  }
  h5::write_strings(file.get(), "genes", p.genes());
  h5::write_strings(file.get(), "cell_types", p.cell_types());
  h5::Handle params = h5::create_group(file.get(), "params");
  h5::Handle group = h5::create_group(params.get(), p.set_name(0));
  for (const TensorSpec& t : p.layout().tensors()) {
    std::vector<double> values = p.tensor(0, t.name);
    bool keep = true;
    edit(group.get(), t, values, keep);
    if (!keep) continue;
    const std::int64_t columns = t.shape.size() == 2 ? t.shape[1] : 1;
    const std::int64_t rows = static_cast<std::int64_t>(values.size()) / columns;
    if (t.shape.size() == 1)
      h5::write_rows(group.get(), t.name, values.data(), h5::Rows{0, rows, rows});
    else
      h5::write_rows(group.get(), t.name, values.data(), h5::Rows{0, rows, rows}, columns);
  }
  group.reset(); // h5::File::close() refuses while groups are open
  params.reset();
  file.close();
}

} // namespace

TEST(GraphOdeModelFile, BadTensorsAreInputErrors) {
  const GraphOdeArchitecture a = small_architecture();
  GraphOdeParameters p(a, gene_names, type_names);
  randomize(p, 4);
  auto read_error = [&](const std::string& name, const auto& edit,
                        const std::string& format = "tessera-model", std::int64_t version = 1) {
    const std::string path = scratch_path(name);
    write_edited_model(path, p, edit, format, version);
    return input_error_of([&] { read_graph_ode_model(path, a, gene_names, type_names); });
  };
  // No prior attribute (an older writer): accepted.
  const std::string plain = scratch_path("plain.h5");
  write_edited_model(plain, p, [](hid_t, const TensorSpec&, std::vector<double>&, bool&) {});
  EXPECT_EQ(read_graph_ode_model(plain, a, gene_names, type_names).tensor(0, "W2"), p.tensor(0, "W2"));

  EXPECT_NE(read_error("shape.h5",
                       [](hid_t, const TensorSpec& t, std::vector<double>& v, bool&) {
                         if (t.name == "W2") v.resize(v.size() - 6); // 5 x 6 instead of 6 x 6
                       })
                .find("/params/all/W2 has shape [5, 6] but the architecture needs [6, 6]"),
            std::string::npos);
  EXPECT_NE(read_error("missing.h5", [](hid_t, const TensorSpec& t, std::vector<double>&,
                                        bool& keep) { keep = t.name != "b0"; })
                .find("/params/all/b0 is missing"),
            std::string::npos);
  EXPECT_NE(read_error("nan.h5",
                       [](hid_t, const TensorSpec& t, std::vector<double>& v, bool&) {
                         if (t.name == "a_src") v[1] = std::nan("");
                       })
                .find("/params/all/a_src holds a non-finite value"),
            std::string::npos);
  EXPECT_NE(read_error("extra.h5",
                       [](hid_t group, const TensorSpec& t, std::vector<double>& v, bool&) {
                         if (t.name == "w") h5::write_rows(group, "W9", v.data(), h5::Rows{0, 1, 1});
                       })
                .find("/params/all/W9 is not a tensor of this architecture"),
            std::string::npos);
  EXPECT_NE(read_error(
                "format.h5", [](hid_t, const TensorSpec&, std::vector<double>&, bool&) {}, "tessera-dataset")
                .find("not a tessera model file"),
            std::string::npos);
  // The version is checked too (issue 8, item 3): a later or an unmarked file is refused, naming the file,
  // the attribute, what it holds and what this tessera reads.
  const auto unchanged = [](hid_t, const TensorSpec&, std::vector<double>&, bool&) {};
  const std::string later = read_error("version2.h5", unchanged, "tessera-model", 2);
  EXPECT_NE(later.find(scratch_path("version2.h5") + ": root attribute version = 2 (expected version = 1"),
            std::string::npos)
      << later;
  const std::string unmarked = read_error("noversion.h5", unchanged, "tessera-model", -1);
  EXPECT_NE(
      unmarked.find(scratch_path("noversion.h5") + ": no root attribute 'version' (expected version = 1"),
      std::string::npos)
      << unmarked;
}

// ---- From a deck

namespace {

std::string deck_text(const std::string& graph_ode) {
  return R"(domain:
  lo: [0, 0]
  hi: [100 um, 100 um]
cells:
  types: [epi, mes]
  radius: [5, 6]
grn:
  model: graph_ode
  genes: [A, B, C, D, E]
  edges:
    - {source: A, target: B}
    - {type: mes, source: E, target: A, sign: repression}
)" + graph_ode +
         R"(time:
  end: 10 min
)";
}

} // namespace

TEST(GraphOdeConfig, DefaultsAreTheReferenceArchitecture) {
  const Deck deck = Deck::parse(deck_text(""), "deck.yaml", {}, all_key_tables());
  const GraphOdeConfig c = read_graph_ode_config(deck);
  EXPECT_EQ(c.architecture.variant, AttentionVariant::gat);
  EXPECT_EQ(c.architecture.heads, 1);
  EXPECT_EQ(c.architecture.hidden, 64);
  EXPECT_EQ(c.architecture.mlp_width, 64);
  EXPECT_EQ(c.architecture.mlp_layers, 3);
  EXPECT_EQ(c.architecture.share, ParameterSharing::all);
  EXPECT_EQ(c.architecture.prior, PriorGraph::edges);
  EXPECT_TRUE(c.model_file.empty());
  EXPECT_EQ(c.init_seed, 1u);
  EXPECT_DOUBLE_EQ(c.decay_init, 0.1);
}

TEST(GraphOdeConfig, MakesTheModelFromTheDeckAndItsModelFile) {
  const std::string keys = R"(  graph_ode:
    variant: gatv2
    heads: 2
    hidden: 3
    mlp_width: 5
    mlp_layers: 2
    share: per_type
    prior: dense
    init_seed: 9
    decay_init: 0.6 /h
)";
  const Deck deck = Deck::parse(deck_text(keys), "deck.yaml", {}, all_key_tables());
  GeneNetwork net;
  net.genes = gene_names;
  const auto model = make_graph_ode_model(MPI_COMM_WORLD, deck, net, SignalingParams{}, type_names);
  const GraphOdeParameters& p = model->parameters();
  EXPECT_EQ(p.architecture().variant, AttentionVariant::gatv2);
  EXPECT_EQ(p.n_sets(), 2);
  EXPECT_NEAR(softplus(p.tensor(1, "decay_rho")[3]), 0.01, 1e-15);
  GraphOdeParameters same(p.architecture(), gene_names, type_names);
  same.glorot_init(9, 0.01);
  EXPECT_EQ(p.tensor(1, "W1"), same.tensor(1, "W1"));

  // The same architecture read back through grn.graph_ode.model_file.
  const std::string path = scratch_path("from_deck.h5");
  write_graph_ode_model(path, p);
  const Deck with_file =
      Deck::parse(deck_text(keys + "    model_file: " + path + "\n"), "deck.yaml", {}, all_key_tables());
  const auto loaded = make_graph_ode_model(MPI_COMM_WORLD, with_file, net, SignalingParams{}, type_names);
  EXPECT_EQ(loaded->parameters().tensor(0, "a"), p.tensor(0, "a"));
  EXPECT_EQ(loaded->parameters().tensor(1, "decay_rho"), p.tensor(1, "decay_rho"));

  const Deck other = Deck::parse(deck_text(keys + "    model_file: " + path + "\n"), "deck.yaml",
                                 {"grn.graph_ode.hidden=8"}, all_key_tables());
  EXPECT_NE(input_error_of([&] {
              make_graph_ode_model(MPI_COMM_WORLD, other, net, SignalingParams{}, type_names);
            }).find("/architecture hidden = 3 but grn.graph_ode.hidden = 8"),
            std::string::npos);
}

// grn.graph_ode.precision: double by default, mixed on request (GraphOdeOptions::precision of the model the
// deck makes); how the model computes, not what it is, so model.h5 does not hold it: a file written by a
// mixed model reads into a double one, the same values. Anything else is an input error naming the key.
TEST(GraphOdeConfig, PrecisionFromTheDeck) {
  EXPECT_EQ(read_graph_ode_config(Deck::parse(deck_text(""), "deck.yaml", {}, all_key_tables())).precision,
            GraphOdePrecision::double_precision);
  const std::string keys = "  graph_ode:\n    hidden: 3\n    mlp_width: 5\n    precision: mixed\n";
  const Deck deck = Deck::parse(deck_text(keys), "deck.yaml", {}, all_key_tables());
  EXPECT_EQ(read_graph_ode_config(deck).precision, GraphOdePrecision::mixed);
  GeneNetwork net;
  net.genes = gene_names;
  const auto mixed = make_graph_ode_model(MPI_COMM_WORLD, deck, net, SignalingParams{}, type_names);
  EXPECT_EQ(mixed->options().precision, GraphOdePrecision::mixed);
  EXPECT_EQ(to_string(mixed->options().precision), "mixed");

  const std::string path = scratch_path("mixed_model.h5");
  write_graph_ode_model(path, mixed->parameters());
  const Deck double_deck =
      Deck::parse(deck_text(keys), "deck.yaml",
                  {"grn.graph_ode.precision=double", "grn.graph_ode.model_file=" + path}, all_key_tables());
  const auto loaded = make_graph_ode_model(MPI_COMM_WORLD, double_deck, net, SignalingParams{}, type_names);
  EXPECT_EQ(loaded->options().precision, GraphOdePrecision::double_precision);
  EXPECT_EQ(loaded->parameters().flat(), mixed->parameters().flat());

  const std::string error = input_error_of([&] {
    (void)Deck::parse(deck_text("  graph_ode:\n    precision: single\n"), "deck.yaml", {}, all_key_tables());
  });
  EXPECT_NE(error.find("grn.graph_ode.precision"), std::string::npos) << error;
  EXPECT_NE(error.find("single"), std::string::npos) << error;
}

TEST(GraphOdeConfig, EdgeTermsFromTheDeck) {
  const Deck deck =
      Deck::parse(deck_text("  graph_ode:\n    edge_weights: shared\n    edge_bias: per_type\n"), "deck.yaml",
                  {}, all_key_tables());
  const GraphOdeConfig c = read_graph_ode_config(deck);
  EXPECT_EQ(c.architecture.edge_weights, EdgeTerms::shared);
  EXPECT_EQ(c.architecture.edge_bias, EdgeTerms::per_type);
  EXPECT_EQ(read_graph_ode_config(Deck::parse(deck_text(""), "deck.yaml", {}, all_key_tables()))
                .architecture.edge_weights,
            EdgeTerms::none);
  // The factory resolves the entries against the network it is given: A -> B for both types, E -> A for mes.
  const GeneNetwork net = read_gene_network(deck, type_names);
  const auto model = make_graph_ode_model(MPI_COMM_WORLD, deck, net, SignalingParams{}, type_names);
  EXPECT_EQ(model->parameters().architecture().weight_edges,
            (std::vector<GraphOdeEdge>{{-1, 4, 0}, {-1, 0, 1}}));
  EXPECT_EQ(model->parameters().architecture().bias_edges,
            (std::vector<GraphOdeEdge>{{0, 0, 1}, {1, 4, 0}, {1, 0, 1}}));
  EXPECT_EQ(model->parameters().tensor(0, "edge_weight"), (std::vector<double>{1.0, 1.0}));
  EXPECT_NE(input_error_of([&] {
              Deck::parse(deck_text(""), "deck.yaml", {"grn.graph_ode.edge_bias=yes"}, all_key_tables());
            }),
            "");
}

TEST(GraphOdeConfig, OutOfRangeSizesAreRejectedByTheDeck) {
  for (const char* bad : {"grn.graph_ode.heads=0", "grn.graph_ode.mlp_layers=0", "grn.graph_ode.variant=gat3",
                          "grn.graph_ode.decay_init=-1"})
    EXPECT_NE(input_error_of([&] { Deck::parse(deck_text(""), "deck.yaml", {bad}, all_key_tables()); }), "")
        << bad;
}
