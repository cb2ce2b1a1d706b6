// Parameter recovery of the learnable `hill` model (issue 9 item 2): after `tessera train` fitted it to the
// tissue that tests/learn/data/train_hill_recovery.yaml simulates (ctest learn_train_hill_recovery, whose run
// directory TESSERA_HILL_RECOVERY_DIR names), its model.h5 is compared with the deck's own hill network,
// mapped into the learnable model's parameters exactly as grn.hill.init: deck does (a repression K as -K with
// K added to the basal term; LearnableHill.EqualsHillModel... checks that mapping against HillModel).
//
// What the data can identify: f = beta (b + sum K H) - lambda x is unchanged by beta -> c beta, b -> b / c,
// K -> K / c, so only the products beta K, beta b are identifiable, never beta alone (compared: beta K per
// edge and LR pair, beta b, lambda, and h, n of every edge and pair). h and n are identifiable because the
// regulators start uniform in [0, 3) and so sweep through each half-saturation. The candidates are the true
// edges: with decoy candidates (tried: truth + 8 decoys) a decoy can take h -> 0, where H+ = 1 for every
// x > 0 and its K is one more basal term, so only beta (b + K_decoy) is identifiable there (measured: two
// decoys at beta K 0.89 and 1.22 with beta b lower by as much; every true edge's beta K, h, n still within
// 1e-4).
#include "tessera/grn/gene_network.hpp"
#include "tessera/grn/learnable_hill.hpp"
#include "tessera/grn/signaling.hpp"
#include "tessera/io/deck.hpp"
#include "tessera/io/deck_schema.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

using namespace tessera;

namespace {

std::string deck_path() {
  return std::string(TESSERA_SOURCE_DIR) + "/tests/learn/data/train_hill_recovery.yaml";
}

struct Named {
  std::vector<double> values;
  std::vector<std::string> names;
};

// The identifiable combinations of a model's parameters, named for messages.
Named identifiable(const LearnableHillModel& model) {
  const ModelParameters& p = model.parameters();
  const int G = model.n_genes(), T = model.n_types(), P = static_cast<int>(model.pairs().size());
  const std::vector<std::string>& genes = p.genes();
  const std::vector<std::string>& types = p.cell_types();
  auto positive = [&](const std::string& name) {
    std::vector<double> v = p.tensor(0, name);
    for (double& e : v)
      e = softplus(e);
    return v;
  };
  const std::vector<double> K = p.tensor(0, "K"), lr_K = p.tensor(0, "lr_K");
  const std::vector<double> h = positive("h_rho"), n = positive("n_rho"), lr_h = positive("lr_h_rho"),
                            lr_n = positive("lr_n_rho"), beta = positive("beta_rho"), b = positive("b_rho"),
                            lambda = positive("lambda_rho");
  Named out;
  auto add = [&](double v, const std::string& name) {
    out.values.push_back(v);
    out.names.push_back(name);
  };
  const CandidateEdges& c = model.candidates();
  for (int e = 0; e < c.n_edges(); ++e) {
    const std::string edge = types[c.type(e)] + " " + genes[c.source(e)] + " -> " + genes[c.target(e)];
    add(beta[c.type(e) * G + c.target(e)] * K[e], "beta K of " + edge);
    add(h[e], "h of " + edge);
    add(n[e], "n of " + edge);
  }
  for (int t = 0; t < T; ++t)
    for (int q = 0; q < P; ++q) {
      const std::string pair =
          types[t] + " LR " + genes[model.pairs()[q].ligand] + " -> " + genes[model.pairs()[q].receptor];
      add(beta[t * G + model.pairs()[q].receptor] * lr_K[t * P + q], "beta K of " + pair);
      add(lr_h[t * P + q], "h of " + pair);
      add(lr_n[t * P + q], "n of " + pair);
    }
  for (int t = 0; t < T; ++t)
    for (int k = 0; k < G; ++k) {
      add(beta[t * G + k] * b[t * G + k], "beta b of " + types[t] + " " + genes[k]);
      add(lambda[t * G + k], "lambda of " + types[t] + " " + genes[k]);
    }
  return out;
}

} // namespace

TEST(HillRecovery, TrainedParametersAreTheSimulatedNetworks) {
  const char* run_dir = std::getenv("TESSERA_HILL_RECOVERY_DIR");
  ASSERT_NE(run_dir, nullptr)
      << "run through ctest (learn_hill_recovery_check), after learn_train_hill_recovery";
  std::ifstream in(deck_path());
  std::stringstream text;
  text << in.rdbuf();
  const Deck deck = Deck::parse(text.str(), deck_path(), {}, all_key_tables());
  const std::vector<std::string> types = deck.section("cells").texts("types");
  const GeneNetwork network = read_gene_network(deck, types);
  const SignalingParams signaling = read_signaling(deck, network);
  LearnableHillConfig config = read_learnable_hill_config(deck);
  config.init = LearnableHillConfig::Init::deck;
  LearnableHillModel truth(config, network, types, signaling.pairs);
  truth.initialise(network, signaling.pairs);
  LearnableHillModel fitted(config, network, types, signaling.pairs);
  read_learnable_hill_model((std::filesystem::path(run_dir) / "model.h5").string(), fitted);

  const Named want = identifiable(truth), got = identifiable(fitted);
  ASSERT_EQ(want.values.size(), got.values.size());
  double worst = 0.0;
  std::string worst_name;
  for (std::size_t i = 0; i < want.values.size(); ++i) {
    // 10 % of the true value (issue 9's target).
    const double error = std::fabs(got.values[i] - want.values[i]) / std::fabs(want.values[i]);
    EXPECT_LE(error, 0.1) << want.names[i] << ": fitted " << got.values[i] << ", true " << want.values[i];
    if (error > worst) {
      worst = error;
      worst_name = want.names[i];
    }
    std::printf("[ info ] %-28s true %9.5f fitted %9.5f (%.2e)\n", want.names[i].c_str(), want.values[i],
                got.values[i], error);
  }
  std::printf("[ info ] %zu identifiable values, worst relative error %.2e (%s)\n", want.values.size(), worst,
              worst_name.c_str());
  // beta alone is not identifiable (only beta K and beta b are): shown, not checked.
  const std::vector<double> beta = fitted.parameters().tensor(0, "beta_rho"),
                            beta_true = truth.parameters().tensor(0, "beta_rho");
  for (std::size_t r = 0; r < beta.size(); ++r)
    std::printf("[ info ] beta of row %zu: true %.4f fitted %.4f (not identifiable)\n", r,
                softplus(beta_true[r]), softplus(beta[r]));
}
