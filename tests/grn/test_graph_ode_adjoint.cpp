// Vector-Jacobian products of the `graph_ode` RHS (SPEC §3.3) against central finite differences of
// <lambda, f(x, theta)>, f computed by the reference of graph_ode_reference.hpp (the SPEC formulas in plain
// loops, two-pass softmax, no code shared with the model), for every architecture option.
#include "tessera/grn/graph_ode.hpp"

#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <random>
#include <set>

#include "graph_ode_reference.hpp"

using namespace tessera;

namespace {

// ---- The small tissue of test_graph_ode.cpp, in graph_ode_fixture.hpp.

// ---- The reference (graph_ode_reference.hpp) as the objective the differences are taken of.

struct Evaluation {
  double objective = 0.0; // <lambda, f>
  double scale = 0.0;     // sum |lambda_ik f_ik|: the size of rounding errors in the objective
  std::vector<char> pattern;
};

Evaluation reference_objective(const GraphOdeArchitecture& a, const HostTheta& theta_sets,
                               const GeneNetwork& net, const std::vector<std::vector<double>>& x,
                               const std::vector<std::vector<double>>& lambda, const HostGraph* graph) {
  Reference f = reference_rhs(a, theta_sets, net, small_pairs(), x, graph);
  Evaluation out;
  out.pattern = std::move(f.pattern);
  for (int i = 0; i < n_cells; ++i)
    for (int k = 0; k < n_genes; ++k) {
      out.objective += lambda[i][k] * f.f[i][k];
      out.scale += std::fabs(lambda[i][k] * f.f[i][k]);
    }
  return out;
}

// Central difference of `objective(v)` at v0 with step h = 1e-6 max(1, |v0|); nullopt-like (false) when the
// step crosses a kink.
template <class Objective>
bool central_difference(double v0, const Objective& objective, double& derivative, double& noise) {
  const double h = 1e-6 * std::max(1.0, std::fabs(v0));
  const Evaluation plus = objective(v0 + h), minus = objective(v0 - h), centre = objective(v0);
  if (plus.pattern != centre.pattern || minus.pattern != centre.pattern) return false;
  derivative = (plus.objective - minus.objective) / (2.0 * h);
  noise = 1e-16 * centre.scale / h; // rounding of the objective, amplified by 1/h
  return true;
}

struct Case {
  GraphOdeArchitecture architecture;
  bool signaling = false;
  GraphOdeOptions options;
  std::string name() const {
    return to_string(architecture.variant) + " K=" + std::to_string(architecture.heads) +
           " L=" + std::to_string(architecture.mlp_layers) + " share=" + to_string(architecture.share) +
           " prior=" + to_string(architecture.prior) +
           " edge_weights=" + to_string(architecture.edge_weights) +
           " edge_bias=" + to_string(architecture.edge_bias) +
           " embedding=" + std::to_string(architecture.embedding) + (signaling ? " signaling" : "") +
           " tile=" + std::to_string(options.tile_nodes) +
           (options.dense == GraphOdeOptions::DenseProducts::kokkos ? " kokkos" : " blas");
  }
};

struct Gradients {
  std::vector<std::vector<double>> x_bar;
  std::vector<double> theta_bar; // sets x layout size, flat
};

// The model's VJP on the small tissue.
Gradients model_vjp(GraphOdeModel& model, const std::vector<std::vector<double>>& x,
                    const std::vector<std::vector<double>>& lambda, bool signaling) {
  const SignalingGraph graph = device_graph(HostGraph{});
  LigandExchange exchange(small_ligand_genes());
  exchange.set_halo(nullptr, n_cells, 0);
  model.set_cell_types(device_copy("types", cell_types));
  model.set_signaling(signaling ? &graph : nullptr, signaling ? &exchange : nullptr);
  GeneState x_bar("x_bar", n_cells, n_genes);
  ParameterGradient theta_bar("theta_bar", model.parameters().values().extent(0),
                              model.parameters().values().extent(1));
  model.vjp(0.0, to_device(x), to_device(lambda), x_bar, theta_bar);
  model.set_signaling(nullptr, nullptr);
  Gradients out;
  out.x_bar = to_host(x_bar);
  const auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), theta_bar);
  out.theta_bar.assign(host.data(), host.data() + host.size());
  return out;
}

// Checks the model's VJP of one case against central differences of the reference: every state entry, all
// entries of the small parameter tensors and a random draw of 10 of each larger one.
struct Counts {
  int cases = 0, checked = 0, skipped = 0, nonzero = 0;
};

void check_against_differences(Case setup, Counts& counts, std::mt19937& pick) {
  const int index = counts.cases++;
  GraphOdeArchitecture& a = setup.architecture;
  const GeneNetwork net = small_network();
  resolve_edge_terms(a, net, static_cast<int>(type_names.size()));
  GraphOdeParameters parameters(a, gene_names, type_names);
  randomize(parameters, 101u + static_cast<unsigned>(index));
  GraphOdeModel model(parameters, net, small_pairs(), setup.options);
  const auto x = random_state(7u + static_cast<unsigned>(index));
  std::vector<std::vector<double>> lambda = random_state(900u + static_cast<unsigned>(index));
  const Gradients vjp = model_vjp(model, x, lambda, setup.signaling);
  const HostGraph graph;
  const HostGraph* g = setup.signaling ? &graph : nullptr;
  const HostTheta theta = host_theta(parameters);

  // The state: every entry.
  for (int i = 0; i < n_cells; ++i)
    for (int k = 0; k < n_genes; ++k) {
      double fd = 0.0, noise = 0.0;
      auto xp = x;
      const bool smooth = central_difference(
          x[i][k],
          [&](double v) {
            xp[i][k] = v;
            return reference_objective(a, theta, net, xp, lambda, g);
          },
          fd, noise);
      if (!smooth) {
        ++counts.skipped;
        continue;
      }
      EXPECT_NEAR(vjp.x_bar[i][k], fd, 1e-7 * std::fabs(fd) + 10 * noise + 1e-12)
          << setup.name() << " x_bar cell " << i << " gene " << k;
      ++counts.checked;
      counts.nonzero += std::fabs(fd) > 1e-3;
    }

  // Every parameter tensor: all entries of the small ones, a random draw of 10 of the others.
  const std::size_t stride = parameters.layout().size();
  for (int s = 0; s < parameters.n_sets(); ++s)
    for (const TensorSpec& t : parameters.layout().tensors()) {
      std::vector<std::size_t> entries;
      for (std::size_t e = 0; e < t.size(); ++e)
        entries.push_back(e);
      if (t.size() > 12) {
        std::shuffle(entries.begin(), entries.end(), pick);
        entries.resize(10);
      }
      for (std::size_t e : entries) {
        double fd = 0.0, noise = 0.0;
        HostTheta tp = theta;
        const bool smooth = central_difference(
            theta[s].at(t.name)[e],
            [&](double v) {
              tp[s][t.name][e] = v;
              return reference_objective(a, tp, net, x, lambda, g);
            },
            fd, noise);
        if (!smooth) {
          ++counts.skipped;
          continue;
        }
        const double got = vjp.theta_bar[s * stride + t.offset + e];
        EXPECT_NEAR(got, fd, 1e-6 * std::fabs(fd) + 10 * noise + 1e-12)
            << setup.name() << " set " << s << " " << t.name << "[" << e << "]";
        ++counts.checked;
        counts.nonzero += std::fabs(fd) > 1e-3;
      }
    }
}

} // namespace

TEST(GraphOdeVjp, MatchesCentralDifferencesForEveryArchitecture) {
  // FD: step 1e-6 relative, error O(h^2 f''') ~ 1e-12 plus rounding 1e-16 |objective| / h ~ 1e-10, so the
  // VJP must agree to 1e-6 relative for parameters and 1e-7 for states (plus that rounding floor).
  Counts counts;
  std::mt19937 pick(2024);
  for (AttentionVariant variant : {AttentionVariant::gat, AttentionVariant::gatv2})
    for (int heads : {1, 2})
      for (int layers : {1, 2, 3})
        for (ParameterSharing share : {ParameterSharing::all, ParameterSharing::per_type})
          for (PriorGraph prior : {PriorGraph::edges, PriorGraph::dense})
            for (bool signaling : {false, true}) {
              Case setup;
              setup.architecture.hidden = 4;
              setup.architecture.mlp_width = 6;
              setup.architecture.variant = variant;
              setup.architecture.heads = heads;
              setup.architecture.mlp_layers = layers;
              setup.architecture.share = share;
              setup.architecture.prior = prior;
              setup.signaling = signaling;
              if (counts.cases % 2) { // half the cases: several tiles per set and the portable products
                setup.options.tile_nodes = 10;
                setup.options.dense = GraphOdeOptions::DenseProducts::kokkos;
              }
              check_against_differences(setup, counts, pick);
            }
  EXPECT_EQ(counts.cases, 2 * 2 * 3 * 2 * 2 * 2);
  EXPECT_LT(counts.skipped, counts.checked / 20) << "too many entries sit near a kink";
  EXPECT_GT(counts.nonzero, counts.checked / 2)
      << "most derivatives must be far from zero for the test to mean anything";
  std::printf("[ info ] %d cases, %d entries checked (%d with |derivative| > 1e-3), %d skipped at a kink\n",
              counts.cases, counts.checked, counts.nonzero, counts.skipped);
}

TEST(GraphOdeVjp, EdgeTermsMatchCentralDifferences) {
  // Beyond STAGED: every combination of the per-edge weight and logit bias (per type, shared), both
  // attention variants, both parameter sharings and gene graphs, with signalling; tolerances as above.
  Counts counts;
  std::mt19937 pick(77);
  const EdgeTerms terms[] = {EdgeTerms::none, EdgeTerms::per_type, EdgeTerms::shared};
  for (AttentionVariant variant : {AttentionVariant::gat, AttentionVariant::gatv2})
    for (EdgeTerms weights : terms)
      for (EdgeTerms bias : terms)
        for (ParameterSharing share : {ParameterSharing::all, ParameterSharing::per_type}) {
          if (weights == EdgeTerms::none && bias == EdgeTerms::none) continue;
          Case setup;
          setup.architecture.hidden = 4;
          setup.architecture.mlp_width = 6;
          setup.architecture.variant = variant;
          setup.architecture.heads = 2;
          setup.architecture.mlp_layers = 2;
          setup.architecture.share = share;
          setup.architecture.prior = counts.cases % 3 == 2 ? PriorGraph::dense : PriorGraph::edges;
          setup.architecture.edge_weights = weights;
          setup.architecture.edge_bias = bias;
          setup.signaling = true;
          if (counts.cases % 2) {
            setup.options.tile_nodes = 10;
            setup.options.dense = GraphOdeOptions::DenseProducts::kokkos;
          }
          check_against_differences(setup, counts, pick);
        }
  EXPECT_EQ(counts.cases, 2 * 8 * 2);
  EXPECT_LT(counts.skipped, counts.checked / 20) << "too many entries sit near a kink";
  EXPECT_GT(counts.nonzero, counts.checked / 2)
      << "most derivatives must be far from zero for the test to mean anything";
  std::printf("[ info ] %d cases, %d entries checked (%d with |derivative| > 1e-3), %d skipped at a kink\n",
              counts.cases, counts.checked, counts.nonzero, counts.skipped);
}

TEST(GraphOdeVjp, EmbeddingMatchesCentralDifferences) {
  // Gene embeddings (D = 3) into layer 1 and the attention: both variants, every layer count (L = 1: the
  // embedding term is in the output itself), both sharings and gene graphs, with and without the per-edge
  // terms, with signalling (the ligand edges' source term); tolerances as above.
  Counts counts;
  std::mt19937 pick(91);
  for (AttentionVariant variant : {AttentionVariant::gat, AttentionVariant::gatv2})
    for (int layers : {1, 2, 3})
      for (ParameterSharing share : {ParameterSharing::all, ParameterSharing::per_type})
        for (bool edge_terms : {false, true}) {
          Case setup;
          setup.architecture.hidden = 4;
          setup.architecture.mlp_width = 6;
          setup.architecture.variant = variant;
          setup.architecture.heads = 2;
          setup.architecture.mlp_layers = layers;
          setup.architecture.share = share;
          setup.architecture.prior = counts.cases % 3 == 1 ? PriorGraph::dense : PriorGraph::edges;
          setup.architecture.embedding = 3;
          if (edge_terms) {
            setup.architecture.edge_weights = EdgeTerms::per_type;
            setup.architecture.edge_bias = EdgeTerms::shared;
          }
          setup.signaling = true;
          if (counts.cases % 2) {
            setup.options.tile_nodes = 10;
            setup.options.dense = GraphOdeOptions::DenseProducts::kokkos;
          }
          check_against_differences(setup, counts, pick);
        }
  EXPECT_EQ(counts.cases, 2 * 3 * 2 * 2);
  EXPECT_LT(counts.skipped, counts.checked / 20) << "too many entries sit near a kink";
  EXPECT_GT(counts.nonzero, counts.checked / 2)
      << "most derivatives must be far from zero for the test to mean anything";
  std::printf("[ info ] %d cases, %d entries checked (%d with |derivative| > 1e-3), %d skipped at a kink\n",
              counts.cases, counts.checked, counts.nonzero, counts.skipped);
}

TEST(GraphOdeVjp, ThetaBarAccumulatesAndXBarIsOverwritten) {
  GraphOdeArchitecture a;
  a.hidden = 4;
  a.mlp_width = 6;
  a.heads = 2;
  a.share = ParameterSharing::per_type;
  GraphOdeParameters parameters(a, gene_names, type_names);
  randomize(parameters, 3);
  GraphOdeModel model(parameters, small_network(), small_pairs());
  const SignalingGraph graph = device_graph(HostGraph{});
  LigandExchange exchange(small_ligand_genes());
  exchange.set_halo(nullptr, n_cells, 0);
  model.set_cell_types(device_copy("types", cell_types));
  model.set_signaling(&graph, &exchange);
  const GeneState x = to_device(random_state(1)), lambda = to_device(random_state(2));
  GeneState x_bar("x_bar", n_cells, n_genes), once("once", n_cells, n_genes);
  ParameterGradient theta_bar("theta_bar", parameters.values().extent(0), parameters.values().extent(1));
  ParameterGradient single("single", parameters.values().extent(0), parameters.values().extent(1));
  model.vjp(0.0, x, lambda, once, single);
  model.vjp(0.0, x, lambda, x_bar, theta_bar);
  model.vjp_state(0.0, x, lambda, x_bar); // overwrites
  model.vjp_params(0.0, x, lambda, theta_bar);
  const auto xb = to_host(x_bar), xo = to_host(once);
  EXPECT_EQ(xb, xo);
  const auto tb = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), theta_bar);
  const auto ts = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), single);
  for (std::size_t s = 0; s < tb.extent(0); ++s)
    for (std::size_t e = 0; e < tb.extent(1); ++e)
      EXPECT_NEAR(tb(s, e), 2.0 * ts(s, e), 1e-14 * std::fabs(ts(s, e))) << s << " " << e;
}

namespace {

// Relative difference of two flat vectors in the 2-norm, |got - want| / |want|.
double relative_difference(const std::vector<double>& got, const std::vector<double>& want) {
  double d2 = 0.0, n2 = 0.0;
  for (std::size_t e = 0; e < want.size(); ++e) {
    d2 += (got[e] - want[e]) * (got[e] - want[e]);
    n2 += want[e] * want[e];
  }
  return std::sqrt(d2 / n2);
}

std::vector<double> flat(const std::vector<std::vector<double>>& rows) {
  std::vector<double> out;
  for (const auto& row : rows)
    out.insert(out.end(), row.begin(), row.end());
  return out;
}

// The RHS on the small tissue (with its signalling graph).
std::vector<double> model_rhs(GraphOdeModel& model, const std::vector<std::vector<double>>& x) {
  const SignalingGraph graph = device_graph(HostGraph{});
  LigandExchange exchange(small_ligand_genes());
  exchange.set_halo(nullptr, n_cells, 0);
  model.set_cell_types(device_copy("types", cell_types));
  model.set_signaling(&graph, &exchange);
  GeneState f("f", n_cells, n_genes);
  model.evaluate(0.0, to_device(x), f);
  model.set_signaling(nullptr, nullptr);
  return flat(to_host(f));
}

} // namespace

// The mixed precision (GraphOdeOptions::precision) against the double one on the same parameters and state:
// central differences of the mixed RHS say nothing at 1e-6 (its float rounding, ~6e-8 relative, divided by
// the step), so the double path, itself checked against differences above, is the reference. Each hidden
// value is rounded to float once (unit roundoff u = 2^-24 = 6.0e-8) and each float product sums M terms in
// float (error at most ~M u relative to the sum of |terms|, ~sqrt(M) u typically); in the 2-norm over all
// entries the rounding errors average out: measured 0.6e-10 to 4.3e-8 over these cases (the printout).
// Tolerance 1e-6 (about 16 u, 23x the largest measured) on |mixed - double| / |double| for the RHS, x_bar
// and theta_bar; a wrong product, operand or mask gives O(1) errors in some entries, far above it. L <= 2
// has no hidden product: mixed is double there, bit for bit.
TEST(GraphOdeVjp, MixedPrecisionIsTheDoubleOneToFloatAccuracy) {
  struct MixedCase {
    AttentionVariant variant;
    int heads, layers, width;
    ParameterSharing share;
    EdgeTerms edge_terms;
    int embedding;
    int tile_nodes;
    GraphOdeOptions::DenseProducts dense;
  };
  const auto blas = GraphOdeOptions::DenseProducts::automatic;
  const auto kokkos = GraphOdeOptions::DenseProducts::kokkos;
  const std::vector<MixedCase> cases{
      {AttentionVariant::gat, 1, 3, 64, ParameterSharing::all, EdgeTerms::none, 0, 240, blas},
      {AttentionVariant::gat, 2, 4, 32, ParameterSharing::per_type, EdgeTerms::none, 0, 10, blas},
      {AttentionVariant::gatv2, 2, 3, 16, ParameterSharing::per_type, EdgeTerms::per_type, 3, 240, blas},
      {AttentionVariant::gat, 1, 5, 16, ParameterSharing::all, EdgeTerms::shared, 0, 10, kokkos},
      {AttentionVariant::gatv2, 1, 2, 16, ParameterSharing::all, EdgeTerms::none, 0, 240, blas},
      {AttentionVariant::gat, 2, 1, 16, ParameterSharing::per_type, EdgeTerms::none, 0, 240, blas}};
  const GeneNetwork net = small_network();
  double worst = 0.0;
  for (std::size_t index = 0; index < cases.size(); ++index) {
    const MixedCase& c = cases[index];
    GraphOdeArchitecture a;
    a.variant = c.variant;
    a.heads = c.heads;
    a.hidden = 8;
    a.mlp_width = c.width;
    a.mlp_layers = c.layers;
    a.share = c.share;
    a.edge_weights = a.edge_bias = c.edge_terms;
    a.embedding = c.embedding;
    resolve_edge_terms(a, net, static_cast<int>(type_names.size()));
    GraphOdeParameters parameters(a, gene_names, type_names);
    parameters.glorot_init(31u + static_cast<unsigned>(index), 0.2);
    randomize(parameters, 41u + static_cast<unsigned>(index), 0.3); // nonzero biases, edge terms, embeddings
    GraphOdeOptions options;
    options.tile_nodes = c.tile_nodes;
    options.dense = c.dense;
    GraphOdeModel full(parameters, net, small_pairs(), options);
    options.precision = GraphOdePrecision::mixed;
    GraphOdeModel mixed(parameters, net, small_pairs(), options);
    const std::string what = to_string(c.variant) + " K=" + std::to_string(c.heads) +
                             " L=" + std::to_string(c.layers) + " M=" + std::to_string(c.width) +
                             (c.dense == kokkos ? " portable products" : "");
    const auto x = random_state(5u + static_cast<unsigned>(index));
    const auto lambda = random_state(50u + static_cast<unsigned>(index));
    const std::vector<double> f_full = model_rhs(full, x), f_mixed = model_rhs(mixed, x);
    const Gradients g_full = model_vjp(full, x, lambda, true), g_mixed = model_vjp(mixed, x, lambda, true);
    if (c.layers <= 2) {
      EXPECT_EQ(f_mixed, f_full) << what;
      EXPECT_EQ(flat(g_mixed.x_bar), flat(g_full.x_bar)) << what;
      EXPECT_EQ(g_mixed.theta_bar, g_full.theta_bar) << what;
      continue;
    }
    const double rhs = relative_difference(f_mixed, f_full);
    const double x_bar = relative_difference(flat(g_mixed.x_bar), flat(g_full.x_bar));
    const double theta_bar = relative_difference(g_mixed.theta_bar, g_full.theta_bar);
    std::printf("[ info ] %s: mixed against double, relative difference RHS %.2e, x_bar %.2e, theta_bar "
                "%.2e\n",
                what.c_str(), rhs, x_bar, theta_bar);
    EXPECT_GT(rhs, 0.0) << what << ": the mixed path is not taken";
    EXPECT_LT(rhs, 1e-6) << what;
    EXPECT_LT(x_bar, 1e-6) << what;
    EXPECT_LT(theta_bar, 1e-6) << what;
    worst = std::max({worst, rhs, x_bar, theta_bar});
  }
  std::printf("[ info ] mixed against double: largest relative difference %.2e\n", worst);
}

TEST(GraphOdeVjp, CostRelativeToTheForward) {
  // Not a timed test: prints the VJP's wall time relative to one evaluation for the STAGED reference sizes
  // (K = 1, GAT, H = M = 64, L = 3) on 20000 nodes with a dense prior graph.
  GraphOdeArchitecture a;
  a.prior = PriorGraph::dense;
  GraphOdeParameters parameters(a, gene_names, type_names);
  parameters.glorot_init(5, 0.1);
  GraphOdeModel model(parameters, small_network(), {});
  const int cells = 4000;
  std::vector<int> types(cells);
  for (int i = 0; i < cells; ++i)
    types[i] = i % 2;
  model.set_cell_types(device_copy("types", types));
  std::mt19937 rng(1);
  std::uniform_real_distribution<double> u(0.0, 2.0);
  GeneState x("x", cells, n_genes), lambda("lambda", cells, n_genes), f("f", cells, n_genes),
      x_bar("x_bar", cells, n_genes);
  auto hx = Kokkos::create_mirror_view(x);
  for (int i = 0; i < cells; ++i)
    for (int k = 0; k < n_genes; ++k)
      hx(i, k) = u(rng);
  Kokkos::deep_copy(x, hx);
  Kokkos::deep_copy(lambda, 1.0);
  ParameterGradient theta_bar("theta_bar", parameters.values().extent(0), parameters.values().extent(1));
  auto seconds = [&](const auto& body) {
    body(); // warm-up (buffers)
    const auto start = std::chrono::steady_clock::now();
    const int repeats = 5;
    for (int r = 0; r < repeats; ++r)
      body();
    Kokkos::fence();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / repeats;
  };
  const double forward = seconds([&] { model.evaluate(0.0, x, f); });
  const double vjp = seconds([&] { model.vjp(0.0, x, lambda, x_bar, theta_bar); });
  const double state_only = seconds([&] { model.vjp_state(0.0, x, lambda, x_bar); });
  std::printf("[ info ] graph_ode reference architecture, %d nodes: forward %.3g s, vjp (state + params) "
              "%.3g s (%.2fx), vjp_state %.3g s (%.2fx); flop model %.0f / %.0f per node, ratio %.2f\n",
              cells * n_genes, forward, vjp, vjp / forward, state_only, state_only / forward,
              model.vjp_flops_per_node(5.0), model.flops_per_node(5.0),
              model.vjp_flops_per_node(5.0) / model.flops_per_node(5.0));
  EXPECT_GT(vjp, 0.0);
}
