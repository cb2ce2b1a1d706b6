// The learnable `hill` model (issue 9 item 2): with the parameters of a `hill` deck it is tessera's own
// simulator (HillModel), also with decoy candidates at K = 0; its VJPs against central differences of
// <lambda, f> for learned and fixed n, with signalling; model.h5 round trip and bad files; deck init errors.
#include "tessera/core/error.hpp"
#include "tessera/grn/hill.hpp"
#include "tessera/grn/learnable_hill.hpp"
#include "tessera/io/hdf5.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <string>

#include "graph_ode_fixture.hpp"

using namespace tessera;

namespace {

// A `hill` network on the fixture's 5 genes and 2 types: activations and repressions, edges for every type
// ("*") and for one type, integer and non-integer n, per-gene production, basal and decay.
GeneNetwork hill_network(bool integer_n) {
  GeneNetwork net;
  net.model = "hill";
  net.genes = gene_names;
  const double n1 = integer_n ? 2.0 : 1.7, n2 = integer_n ? 2.0 : 2.6;
  net.edges = {{-1, 0, 1, +1, 1.3, 0.6, n1}, {-1, 1, 2, -1, 0.9, 0.4, n2}, {0, 3, 0, +1, 0.7, 0.8, n2},
               {1, 4, 0, -1, 1.1, 0.5, n1},  {1, 2, 3, +1, 0.5, 0.3, n1},  {0, 0, 4, -1, 1.6, 0.7, n2},
               {0, 2, 4, +1, 0.8, 0.9, n1}};
  net.production = {1.0, 0.8, 1.2, 0.9, 1.1};
  net.basal = {0.05, 0.0, 0.1, 0.02, 0.0};
  net.decay = {0.1, 0.2, 0.15, 0.12, 0.3};
  return net;
}

SignalingParams hill_signaling(bool integer_n) {
  SignalingParams s;
  s.pairs = small_pairs();
  s.pairs[0].K = 0.6;
  s.pairs[0].h = 0.7;
  s.pairs[1].K = 1.2;
  s.pairs[1].h = 0.4;
  s.pairs[2].K = 0.9;
  s.pairs[2].h = 1.1;
  if (!integer_n) s.pairs[1].n = 1.4;
  return s;
}

LearnableHillConfig config_of(PriorGraph prior, bool learn_n) {
  LearnableHillConfig c;
  c.prior = prior;
  c.learn_n = learn_n;
  c.n = 2.0;
  return c;
}

// A tissue for one model: the fixture's types, signalling graph and exchange, kept alive with the model.
struct Tissue {
  SignalingGraph graph = device_graph(HostGraph{});
  LigandExchange exchange{small_ligand_genes()};
  Kokkos::View<int*> types = device_copy("types", cell_types);
  Tissue() { exchange.set_halo(nullptr, n_cells, 0); }
  void attach(CellGeneModel& model, bool signaling) {
    model.set_cell_types(types);
    model.set_signaling(signaling ? &graph : nullptr, signaling ? &exchange : nullptr);
  }
};

// Every value of every tensor drawn so that no term is trivially zero: K in [-1.5, 1.5], rho in [-1, 1].
void randomize(ModelParameters& p, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  for (const TensorSpec& t : p.layout().tensors()) {
    std::vector<double> v(t.size());
    for (double& e : v)
      e = t.sparse ? 1.5 * u(rng) : u(rng);
    p.set_tensor(0, t.name, v);
  }
}

std::vector<std::vector<double>> evaluate(const CellGeneModel& model,
                                          const std::vector<std::vector<double>>& x) {
  GeneState f("f", n_cells, n_genes);
  model.evaluate(0.0, to_device(x), f);
  return to_host(f);
}

} // namespace

TEST(LearnableHill, EqualsHillModelWithTheDeckParametersAlsoWithDecoyCandidates) {
  // Both sum the same terms; the learnable model writes a repression K H- as -K H+ plus K in the bracket and
  // holds h, beta, b, lambda (and a learned n) as softplus(inverse_softplus(v)), a round trip of a few ulps.
  // So f agrees to 1e-14 of the size of its terms, beta (b + sum |K|) + lambda |x| (where K H- = K - K H+
  // cancels, the difference is relative to K, not to the small result).
  int compared = 0;
  double worst = 0.0;
  for (bool integer_n : {true, false})
    for (bool learn_n : {true, false}) {
      if (!integer_n && !learn_n) continue; // a fixed n is one value for every edge
      for (PriorGraph prior : {PriorGraph::edges, PriorGraph::dense})
        for (bool signaling : {false, true}) {
          const GeneNetwork net = hill_network(integer_n);
          const SignalingParams sig = hill_signaling(integer_n);
          HillModel reference(net, 2, sig);
          LearnableHillModel model(config_of(prior, learn_n), net, type_names, sig.pairs);
          model.initialise(net, sig.pairs);
          EXPECT_EQ(model.candidates().n_edges(),
                    prior == PriorGraph::dense ? 2 * 5 * 4 : 9); // "*" edges twice
          Tissue tissue;
          tissue.attach(reference, signaling);
          tissue.attach(model, signaling);
          for (unsigned seed : {1u, 2u, 3u}) {
            const auto x = random_state(seed);
            const auto want = evaluate(reference, x), got = evaluate(model, x);
            for (int i = 0; i < n_cells; ++i)
              for (int k = 0; k < n_genes; ++k) {
                double size = net.decay[k] * std::fabs(x[i][k]);
                double bracket = net.basal[k] + 3.0;
                for (const RegulatoryEdge& e : net.edges)
                  bracket += e.K;
                size += net.production[k] * bracket;
                EXPECT_NEAR(got[i][k], want[i][k], 1e-14 * size)
                    << "n " << (integer_n ? "integer" : "real") << (learn_n ? " learned" : " fixed")
                    << " prior " << to_string(prior) << (signaling ? " signaling" : "") << " cell " << i
                    << " gene " << k;
                worst = std::max(worst, std::fabs(got[i][k] - want[i][k]) / size);
                ++compared;
              }
          }
        }
    }
  EXPECT_EQ(compared, 12 * 3 * n_cells * n_genes);
  std::printf("[ info ] %d values compared, worst difference %.2e of the terms' size\n", compared, worst);
}

namespace {

struct Objective {
  double value = 0.0, scale = 0.0; // <lambda, f> and sum |lambda f|
};

Objective objective(const LearnableHillModel& model, const std::vector<std::vector<double>>& x,
                    const std::vector<std::vector<double>>& lambda) {
  const auto f = evaluate(model, x);
  Objective o;
  for (int i = 0; i < n_cells; ++i)
    for (int k = 0; k < n_genes; ++k) {
      o.value += lambda[i][k] * f[i][k];
      o.scale += std::fabs(lambda[i][k] * f[i][k]);
    }
  return o;
}

} // namespace

TEST(LearnableHill, VjpMatchesCentralDifferences) {
  // Step 1e-6 max(1, |v|): truncation ~1e-12 |f'''|, rounding 1e-16 |objective| / h; the VJP is exact up to
  // rounding, so it must agree to 1e-6 relative plus that floor. x has entries below 0 (H reads 0 there, the
  // subgradient is 0) but none within the step of 0, so no difference straddles the kink.
  int checked = 0, nonzero = 0;
  for (bool learn_n : {true, false})
    for (PriorGraph prior : {PriorGraph::edges, PriorGraph::dense})
      for (bool signaling : {false, true}) {
        const std::string what = std::string(learn_n ? "learned n" : "fixed n") + " prior " +
                                 to_string(prior) + (signaling ? " signaling" : "");
        const GeneNetwork net = hill_network(true);
        const SignalingParams sig = hill_signaling(true);
        LearnableHillModel model(config_of(prior, learn_n), net, type_names, sig.pairs);
        randomize(model.parameters(), 5u + checked);
        Tissue tissue;
        tissue.attach(model, signaling);
        auto x = random_state(11u + checked);
        const auto lambda = random_state(12u + checked);

        GeneState x_bar("x_bar", n_cells, n_genes);
        const auto& values = model.parameters().values();
        ParameterGradient theta_bar("theta_bar", values.extent(0), values.extent(1));
        Kokkos::deep_copy(theta_bar, 0.25); // accumulated into: the VJP adds to what is there
        model.vjp(0.0, to_device(x), to_device(lambda), x_bar, theta_bar);
        const auto xb = to_host(x_bar);
        const auto tb = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), theta_bar);

        auto check = [&](double expected, double* value, const auto& restore, const std::string& entry) {
          const double v0 = *value, h = 1e-6 * std::max(1.0, std::fabs(v0));
          *value = v0 + h;
          restore();
          const Objective plus = objective(model, x, lambda);
          *value = v0 - h;
          restore();
          const Objective minus = objective(model, x, lambda);
          *value = v0;
          restore();
          const double fd = (plus.value - minus.value) / (2 * h);
          EXPECT_NEAR(expected, fd, 1e-6 * std::fabs(fd) + 1e-16 * plus.scale / h + 1e-12)
              << what << " " << entry;
          ++checked;
          nonzero += std::fabs(fd) > 1e-3;
        };
        for (int i = 0; i < n_cells; ++i)
          for (int k = 0; k < n_genes; ++k)
            check(
                xb[i][k], &x[i][k], [] {}, "x(" + std::to_string(i) + ", " + std::to_string(k) + ")");
        auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), values);
        for (const TensorSpec& t : model.parameters().layout().tensors())
          for (std::size_t e = 0; e < t.size(); ++e) {
            const std::size_t flat = t.offset + e;
            check(
                tb(0, flat) - 0.25, &host(0, flat), [&] { Kokkos::deep_copy(values, host); },
                t.name + "[" + std::to_string(e) + "]");
          }
        // Without signalling the LR parameters do nothing: their gradient is exactly 0.
        if (!signaling)
          for (const char* name : {"lr_K", "lr_h_rho"})
            for (std::size_t e = 0; e < model.parameters().layout().tensor(name).size(); ++e)
              EXPECT_EQ(tb(0, model.parameters().layout().tensor(name).offset + e), 0.25)
                  << what << " " << name;
      }
  EXPECT_GT(nonzero, checked / 3) << "many derivatives must be far from zero for the test to mean anything";
  std::printf("[ info ] %d entries checked, %d with |derivative| > 1e-3\n", checked, nonzero);
}

TEST(LearnableHill, StateOnlyAndParameterOnlyVjpsAreTheFullOnesParts) {
  const GeneNetwork net = hill_network(false);
  const SignalingParams sig = hill_signaling(false);
  LearnableHillModel model(config_of(PriorGraph::edges, true), net, type_names, sig.pairs);
  randomize(model.parameters(), 3);
  Tissue tissue;
  tissue.attach(model, true);
  const GeneState x = to_device(random_state(4)), lambda = to_device(random_state(5));
  const auto& values = model.parameters().values();
  GeneState full_x("full_x", n_cells, n_genes), only_x("only_x", n_cells, n_genes);
  ParameterGradient full_t("full_t", values.extent(0), values.extent(1)),
      only_t("only_t", values.extent(0), values.extent(1));
  model.vjp(0.0, x, lambda, full_x, full_t);
  model.vjp_state(0.0, x, lambda, only_x);
  model.vjp_params(0.0, x, lambda, only_t);
  EXPECT_EQ(to_host(full_x), to_host(only_x));
  const auto a = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), full_t);
  const auto b = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), only_t);
  for (std::size_t e = 0; e < a.size(); ++e)
    EXPECT_EQ(a.data()[e], b.data()[e]) << e;
}

TEST(LearnableHill, LayoutSignedWeightsAndFixedN) {
  const GeneNetwork net = hill_network(true);
  const SignalingParams sig = hill_signaling(true);
  LearnableHillModel learned(config_of(PriorGraph::edges, true), net, type_names, sig.pairs);
  LearnableHillModel fixed(config_of(PriorGraph::edges, false), net, type_names, sig.pairs);
  EXPECT_TRUE(learned.parameters().layout().has("n_rho"));
  EXPECT_TRUE(learned.parameters().layout().has("lr_n_rho"));
  EXPECT_FALSE(fixed.parameters().layout().has("n_rho"));
  EXPECT_FALSE(fixed.parameters().layout().has("lr_n_rho"));
  EXPECT_EQ(learned.parameters().family(), "hill");
  EXPECT_EQ(learned.parameters().n_sets(), 1);
  EXPECT_TRUE(learned.parameters().layout().tensor("K").sparse);
  EXPECT_TRUE(learned.parameters().layout().tensor("lr_K").sparse);
  EXPECT_FALSE(learned.parameters().layout().tensor("h_rho").sparse);

  fixed.initialise(net, sig.pairs);
  const std::vector<SignedEdgeWeight> w = fixed.signed_edge_weights();
  ASSERT_EQ(w.size(), 9u + 2u * 3u);
  // Type epi (0): gene A <- D (+0.7), B <- A (+1.3), C <- B (-0.9), E <- A (-1.6), E <- C (+0.8).
  const std::vector<std::tuple<int, int, int, double>> epi{
      {0, 3, 0, 0.7}, {0, 0, 1, 1.3}, {0, 1, 2, -0.9}, {0, 0, 4, -1.6}, {0, 2, 4, 0.8}};
  for (std::size_t e = 0; e < epi.size(); ++e) {
    EXPECT_EQ(w[e].type, std::get<0>(epi[e]));
    EXPECT_EQ(w[e].source, std::get<1>(epi[e]));
    EXPECT_EQ(w[e].target, std::get<2>(epi[e]));
    EXPECT_EQ(w[e].pair, -1);
    EXPECT_EQ(w[e].weight, std::get<3>(epi[e]));
  }
  EXPECT_EQ(w[9].pair, 0);
  EXPECT_EQ(w[9].type, 0);
  EXPECT_EQ(w[9].source, 0);
  EXPECT_EQ(w[9].target, 3);
  EXPECT_EQ(w[9].weight, 0.6);
  EXPECT_EQ(w[14].type, 1);
  EXPECT_EQ(w[14].pair, 2);
  EXPECT_EQ(w[14].weight, 0.9);
}

// train.group_lasso's groups: per cell type and regulator gene its K (indices into the flat parameters,
// checked against signed_edge_weights(), which lists K in storage order), every K once, then each LR K alone.
TEST(LearnableHill, RegulatorGroupsAreEachRegulatorsKPerTypeThenEachLrK) {
  const GeneNetwork net = hill_network(true);
  const SignalingParams sig = hill_signaling(true);
  LearnableHillModel model(config_of(PriorGraph::edges, false), net, type_names, sig.pairs);
  const std::size_t k0 = model.parameters().layout().tensor("K").offset,
                    lr0 = model.parameters().layout().tensor("lr_K").offset;
  const std::vector<SignedEdgeWeight> w = model.signed_edge_weights();
  const ParameterGroups groups = model.regulator_groups();
  std::vector<int> seen(w.size(), 0);
  std::set<std::pair<int, int>> regulators;
  for (const auto& group : groups) {
    ASSERT_FALSE(group.empty());
    const bool lr = group.front() >= lr0;
    const std::size_t first = lr ? 9 + (group.front() - lr0) : group.front() - k0;
    if (lr)
      EXPECT_EQ(group.size(), 1u);
    else
      EXPECT_TRUE(regulators.insert({w[first].type, w[first].source}).second) << "one group per regulator";
    for (const std::size_t index : group) {
      const std::size_t e = index >= lr0 ? 9 + (index - lr0) : index - k0;
      ASSERT_LT(e, w.size());
      ++seen[e];
      EXPECT_EQ(w[e].type, w[first].type);
      EXPECT_EQ(w[e].source, w[first].source);
    }
  }
  for (std::size_t e = 0; e < w.size(); ++e)
    EXPECT_EQ(seen[e], 1) << "edge parameter " << e;
  // Type epi: A regulates B (edge 1) and E (edge 3).
  EXPECT_NE(std::find(groups.begin(), groups.end(), std::vector<std::size_t>{k0 + 1, k0 + 3}), groups.end());
}

// A prior graph (train.prior) replaces the deck's edges as the candidates, with no strengths of its own: the
// deck initialisation must still start each candidate from the deck's edge (sign, K, h, n) and every decoy at
// K = 0 (it started every prior edge at the defaults K = +1, h = 0.5: repressions as activations, decoys
// as strong as true edges).
TEST(LearnableHill, DeckInitialisationUnderAPriorGraphStartsFromTheDecksEdges) {
  GeneNetwork net = hill_network(true);
  const SignalingParams sig = hill_signaling(true);
  net.use_prior_graph();
  // What parse_prior_table adds: (type, source, target) with RegulatoryEdge's defaults. The truth's
  // A -> B (*) and B -| C (*), epi's D -> A; decoys D -> B (*) and C -> A (mes).
  for (const auto& [type, source, target] :
       std::vector<std::tuple<int, int, int>>{{-1, 0, 1}, {-1, 1, 2}, {0, 3, 0}, {-1, 3, 1}, {1, 2, 0}}) {
    RegulatoryEdge e;
    e.type = type;
    e.source = source;
    e.target = target;
    net.edges.push_back(e);
  }
  LearnableHillModel model(config_of(PriorGraph::edges, true), net, type_names, sig.pairs);
  model.initialise(net, sig.pairs);
  // (type, source, target) -> the deck's signed K and h; absent: a decoy.
  const std::map<std::tuple<int, int, int>, std::pair<double, double>> expected{{{0, 0, 1}, {1.3, 0.6}},
                                                                                {{1, 0, 1}, {1.3, 0.6}},
                                                                                {{0, 1, 2}, {-0.9, 0.4}},
                                                                                {{1, 1, 2}, {-0.9, 0.4}},
                                                                                {{0, 3, 0}, {0.7, 0.8}}};
  const std::vector<double> h_rho = model.parameters().tensor(0, "h_rho");
  int truths = 0, decoys = 0;
  for (const SignedEdgeWeight& w : model.signed_edge_weights()) {
    if (w.pair >= 0) continue;
    const int e = model.candidates().find(w.type, w.source, w.target);
    const auto it = expected.find({w.type, w.source, w.target});
    if (it == expected.end()) {
      EXPECT_EQ(w.weight, 0.0) << "decoy " << w.source << " -> " << w.target << " of type " << w.type;
      EXPECT_NEAR(softplus(h_rho[static_cast<std::size_t>(e)]), 0.5, 1e-14);
      ++decoys;
    } else {
      EXPECT_EQ(w.weight, it->second.first) << w.source << " -> " << w.target << " of type " << w.type;
      EXPECT_NEAR(softplus(h_rho[static_cast<std::size_t>(e)]), it->second.second, 1e-14);
      ++truths;
    }
  }
  EXPECT_EQ(truths, 5);
  EXPECT_EQ(decoys, 3); // D -> B in both types, C -> A in mes
  // The repression B -| C moves its K into C's basal term: b = 0.1 + 0.9 in both types.
  const std::vector<double> b_rho = model.parameters().tensor(0, "b_rho");
  for (int c = 0; c < 2; ++c)
    EXPECT_NEAR(softplus(b_rho[static_cast<std::size_t>(c * 5 + 2)]), 1.0, 1e-14);
}

TEST(LearnableHill, DeckInitialisationRefusesWhatItCannotRepresent) {
  const SignalingParams sig = hill_signaling(true);
  auto message_of = [&](const GeneNetwork& net, bool learn_n) {
    LearnableHillModel model(config_of(PriorGraph::dense, learn_n), net, type_names, sig.pairs);
    try {
      model.initialise(net, sig.pairs);
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ExitCode::input) << e.what();
      return std::string(e.what());
    }
    return std::string();
  };
  GeneNetwork self = hill_network(true);
  self.edges.push_back({-1, 2, 2, +1, 1.0, 0.5, 2.0});
  EXPECT_NE(message_of(self, true).find("grn edge C -> C (type *): a self loop"), std::string::npos)
      << message_of(self, true);
  GeneNetwork twice = hill_network(true);
  twice.edges.push_back({0, 0, 1, -1, 1.0, 0.5, 2.0}); // A -> B is also given for every type
  EXPECT_NE(message_of(twice, true)
                .find("grn edge A -> B (type epi) and grn edge A -> B (type *) both act in type epi"),
            std::string::npos)
      << message_of(twice, true);
  const GeneNetwork real_n = hill_network(false);
  EXPECT_NE(message_of(real_n, false).find("n = 1.7"), std::string::npos) << message_of(real_n, false);
  EXPECT_NE(message_of(real_n, false).find("grn.hill.learn_n is false"), std::string::npos);
  EXPECT_EQ(message_of(real_n, true), "");
}

namespace {

std::string temporary(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("tessera_learnable_hill_" + name + ".h5")).string();
}

std::string read_error(const std::string& path, LearnableHillModel& model) {
  try {
    read_learnable_hill_model(path, model);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::input) << e.what();
    return e.what();
  }
  return "";
}

} // namespace

TEST(LearnableHill, ModelFileRoundTripAndBadFiles) {
  const GeneNetwork net = hill_network(false);
  const SignalingParams sig = hill_signaling(false);
  LearnableHillModel model(config_of(PriorGraph::edges, true), net, type_names, sig.pairs);
  randomize(model.parameters(), 21);
  const std::string path = temporary("round_trip");
  std::filesystem::remove(path);
  {
    h5::File file = h5::File::create(path);
    model.write(file);
    file.close();
  }
  {
    h5::File file = h5::File::open_read(path);
    EXPECT_EQ(h5::read_text_attribute(file.get(), "family"), "hill");
    EXPECT_EQ(h5::read_strings(file.get(), "genes"), gene_names);
  }
  LearnableHillModel back(config_of(PriorGraph::edges, true), net, type_names, sig.pairs);
  read_learnable_hill_model(path, back);
  EXPECT_EQ(back.parameters().flat(), model.parameters().flat()); // bit for bit
  Tissue tissue;
  tissue.attach(model, true);
  Tissue tissue_back;
  tissue_back.attach(back, true);
  const auto x = random_state(8);
  EXPECT_EQ(evaluate(back, x), evaluate(model, x));

  // A deck whose model differs from the file's: every mismatch names the file and the field.
  LearnableHillModel dense(config_of(PriorGraph::dense, true), net, type_names, sig.pairs);
  EXPECT_NE(read_error(path, dense).find(path + ": /hill prior = edges but grn.hill.prior = dense"),
            std::string::npos)
      << read_error(path, dense);
  LearnableHillModel fixed(config_of(PriorGraph::edges, false), net, type_names, sig.pairs);
  EXPECT_NE(read_error(path, fixed).find("/hill learn_n = true but grn.hill.learn_n = false"),
            std::string::npos);
  GeneNetwork other = net;
  other.edges.pop_back(); // E <- C of epi: another prior graph
  LearnableHillModel other_prior(config_of(PriorGraph::edges, true), other, type_names, sig.pairs);
  EXPECT_NE(read_error(path, other_prior).find("/edges/type has shape [9] but the deck's model has 8"),
            std::string::npos)
      << read_error(path, other_prior);
  GeneNetwork swapped = net;
  swapped.edges.back().source = 1; // E <- B instead of E <- C: as many edges, another graph
  LearnableHillModel swapped_prior(config_of(PriorGraph::edges, true), swapped, type_names, sig.pairs);
  EXPECT_NE(read_error(path, swapped_prior)
                .find("/edges row 4 is not the deck's candidate edge 4 (type epi: B -> E)"),
            std::string::npos)
      << read_error(path, swapped_prior);
  std::vector<LigandReceptorPair> pairs = sig.pairs;
  std::swap(pairs[0], pairs[1]);
  LearnableHillModel other_pairs(config_of(PriorGraph::edges, true), net, type_names, pairs);
  EXPECT_NE(read_error(path, other_pairs).find("/pairs row 0 is not the deck's signalling pair C -> D"),
            std::string::npos)
      << read_error(path, other_pairs);
  LearnableHillModel other_types(config_of(PriorGraph::edges, true), net, {"mes", "epi"}, sig.pairs);
  EXPECT_NE(read_error(path, other_types).find("/cell_types differ"), std::string::npos);

  // From the deck alone (before the candidate graph is known): settings, genes and cell types.
  check_learnable_hill_model_file(path, config_of(PriorGraph::edges, true), gene_names, type_names);
  std::string message;
  try {
    check_learnable_hill_model_file(path, config_of(PriorGraph::edges, true), {"A", "B", "C", "E", "D"},
                                    type_names);
  } catch (const Error& e) {
    message = e.what();
  }
  EXPECT_NE(message.find(path + ": /genes differ from the deck's grn.genes"), std::string::npos) << message;

  // A graph_ode file, a damaged tensor, a missing one.
  const std::string graph_ode = temporary("graph_ode");
  std::filesystem::remove(graph_ode);
  {
    GraphOdeArchitecture a;
    a.hidden = 2;
    a.mlp_width = 2;
    GraphOdeParameters p(a, gene_names, type_names);
    write_graph_ode_model(graph_ode, p);
  }
  EXPECT_NE(read_error(graph_ode, back).find("family = graph_ode but the deck's model is hill"),
            std::string::npos);
  const std::string damaged = temporary("damaged");
  for (const bool drop : {false, true}) {
    std::filesystem::remove(damaged);
    h5::File file = h5::File::create(damaged);
    model.write(file);
    h5::Handle group = h5::open_group(file.get(), "params/all");
    if (drop) {
      h5::check(H5Ldelete(group.get(), "b_rho", H5P_DEFAULT), "H5Ldelete");
    } else {
      h5::check(H5Ldelete(group.get(), "h_rho", H5P_DEFAULT), "H5Ldelete");
      std::vector<double> bad(9, 0.0);
      bad[3] = NAN;
      h5::write_rows(group.get(), "h_rho", bad.data(), h5::Rows{0, 9, 9});
    }
    group = h5::Handle();
    file.close();
    const std::string message = read_error(damaged, back);
    EXPECT_NE(
        message.find(drop ? "/params/all/b_rho is missing" : "/params/all/h_rho holds a non-finite value"),
        std::string::npos)
        << message;
  }
  for (const std::string& p : {path, graph_ode, damaged})
    std::filesystem::remove(p);
}

TEST(LearnableHill, RidgeWarmStartIsTheLinearFitAtTheHalfSaturation) {
  // After warm_start, at the state where every regulator sits at its h (0.5, `constant`), each node's f and
  // its derivatives are the linear fit's: f = intercept + sum_j c_j h + c_self x_k, df/dx_j = c_j, df/dx_k =
  // c_self (H+(h) = 1/2 and H+'(h) = n / 4h exactly). Learned and fixed (n = 3) coefficients; dense
  // candidates.
  for (bool learn_n : {true, false}) {
    const GeneNetwork net = hill_network(true);
    LearnableHillConfig config = config_of(PriorGraph::dense, learn_n);
    config.n = learn_n ? 2.0 : 3.0;
    config.init = LearnableHillConfig::Init::ridge;
    LearnableHillModel model(config, net, type_names, {});
    model.initialise(net, {});
    std::mt19937 rng(learn_n ? 31 : 32);
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    LinearDerivativeFits fits;
    fits.fit.assign(2, std::vector<LinearDerivativeFit>(n_genes));
    for (int c = 0; c < 2; ++c)
      for (int k = 0; k < n_genes; ++k) {
        LinearDerivativeFit& f = fits.fit[c][k];
        f.fitted = true;
        f.intercept = 1.0 + 0.5 * u(rng); // keeps b above its floor
        f.self_coefficient = -0.3 + 0.2 * u(rng);
        for (int j = 0; j < n_genes; ++j)
          if (j != k) {
            f.regulators.push_back(j);
            f.regulator_coefficient.push_back(0.2 * u(rng));
          }
      }
    ASSERT_TRUE(model.warm_start(fits));
    Tissue tissue;
    tissue.attach(model, false);
    const std::vector<std::vector<double>> x(n_cells, std::vector<double>(n_genes, 0.5));
    const auto f = evaluate(model, x);
    for (int i : {0, 1}) { // an epi and a mes cell
      const int c = cell_types[i];
      for (int k = 0; k < n_genes; ++k) {
        const LinearDerivativeFit& fit = fits.fit[c][k];
        double want = fit.intercept + fit.self_coefficient * 0.5;
        for (double a : fit.regulator_coefficient)
          want += a * 0.5;
        EXPECT_NEAR(f[i][k], want, 1e-12) << "cell " << i << " gene " << k;
        std::vector<std::vector<double>> lambda(n_cells, std::vector<double>(n_genes, 0.0));
        lambda[i][k] = 1.0;
        GeneState x_bar("x_bar", n_cells, n_genes);
        model.vjp_state(0.0, to_device(x), to_device(lambda), x_bar);
        const auto xb = to_host(x_bar);
        EXPECT_NEAR(xb[i][k], fit.self_coefficient, 1e-12);
        for (std::size_t a = 0; a < fit.regulators.size(); ++a)
          EXPECT_NEAR(xb[i][fit.regulators[a]], fit.regulator_coefficient[a], 1e-12)
              << "cell " << i << " gene " << k << " regulator " << fit.regulators[a];
      }
    }
  }
}
