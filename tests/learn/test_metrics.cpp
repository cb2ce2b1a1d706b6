// Tests of GRN recovery metrics (SPEC §3.5): hand-computed rankings, ties, the statistics of random scores,
// agreement with an independent brute-force implementation, input errors, and metrics.json.
#include "tessera/core/error.hpp"
#include "tessera/learn/metrics.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <utility>

namespace tessera {
namespace {

constexpr double minus_inf = -std::numeric_limits<double>::infinity();
using Truth = std::vector<std::array<int, 3>>;

void expect_throws_input_error(const std::vector<EdgeScore>& scores, const Truth& truth, int n_genes,
                               const std::string& message_part,
                               const std::vector<std::array<int, 2>>* candidates = nullptr) {
  try {
    grn_recovery(scores, truth, candidates ? *candidates : dense_candidates(std::max(n_genes, 0)), n_genes);
    ADD_FAILURE() << "no error; expected one containing '" << message_part << "'";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ExitCode::input);
    EXPECT_NE(std::string(error.what()).find(message_part), std::string::npos) << error.what();
  }
}

// The 3-gene network used by the hand-computed cases: 6 candidates (no self edges), 3 of them true.
const Truth three_gene_truth = {{0, 1, 1}, {1, 2, -1}, {2, 0, 1}};

TEST(GrnRecovery, HandComputedRanking) {
  // Ranked: 0->1 (P) 0.9, 1->0 (N) 0.8, 1->2 (P) 0.7, 0->2 (N) 0.6, 2->1 (N) 0.5, 2->0 (P) 0.4, i.e. P N P N
  // N P. AUPRC = mean precision at the positives = (1/1 + 2/3 + 3/6) / 3 = 13/18. AUROC: the positives
  // outrank 3, 2 and 0 of the 3 negatives: (3 + 2 + 0) / 9 = 5/9. Early precision: top k = 3 is P N P: 2/3.
  // Density 3/6, so AUPRC ratio = 13/9.
  const std::vector<EdgeScore> scores = {{0, 1, 0.9}, {1, 0, 0.8}, {1, 2, 0.7},
                                         {0, 2, 0.6}, {2, 1, 0.5}, {2, 0, 0.4}};
  const RecoveryMetrics m = grn_recovery(scores, three_gene_truth, dense_candidates(3), 3);
  EXPECT_EQ(m.candidates, 6u);
  EXPECT_EQ(m.positives, 3u);
  EXPECT_DOUBLE_EQ(m.random_precision, 0.5);
  EXPECT_DOUBLE_EQ(m.auprc, 13.0 / 18.0);
  EXPECT_DOUBLE_EQ(m.auprc_ratio, 13.0 / 9.0);
  EXPECT_DOUBLE_EQ(m.auroc, 5.0 / 9.0);
  EXPECT_DOUBLE_EQ(m.early_precision, 2.0 / 3.0);
}

TEST(GrnRecovery, HandComputedTiesAndMissingPairs) {
  // 0->1 (P) 0.9 | 1->0 (N) 0.8 | 1->2 (P), 0->2 (N), 2->1 (N) tied at 0.3 | 2->0 (P) not scored: -inf.
  // AUPRC (precision at the end of each tied block, sklearn): blocks end at ranks 1, 2, 5, 6 holding
  //   1, 1, 2, 3 positives; recall steps 1/3 at ranks 1, 5, 6: (1/1 + 2/5 + 3/6) / 3 = 19/30.
  // AUROC: 0.9 beats all 3 negatives (3); the tied 0.3 positive beats none and ties 2 (2 * 1/2 = 1);
  //   -inf beats none: (3 + 1 + 0) / 9 = 4/9.
  // Early precision, k = 3: ranks 1-2 hold 1 positive, the third place goes to one of the 3 tied edges, 1 of
  //   which is positive: expected (1 + 1/3) / 3 = 4/9. (BEELINE's ">= k-th score" rule would give 2/5.)
  const std::vector<EdgeScore> scores = {{1, 2, 0.3}, {0, 1, 0.9}, {2, 1, 0.3}, {1, 0, 0.8}, {0, 2, 0.3}};
  const RecoveryMetrics m = grn_recovery(scores, three_gene_truth, dense_candidates(3), 3);
  EXPECT_DOUBLE_EQ(m.auprc, 19.0 / 30.0);
  EXPECT_DOUBLE_EQ(m.auroc, 4.0 / 9.0);
  EXPECT_DOUBLE_EQ(m.early_precision, 4.0 / 9.0);
  EXPECT_EQ(m.candidates, 6u);
}

TEST(GrnRecovery, TiedPositiveAndNegativeGetBlockEndPrecision) {
  // Untied, P P N ... would give precision 2/2 at the second positive and P N P ... 2/3; tied at 0.5 the
  // block {1->2 P, 1->0 N} is scored at its end (rank 3, 2 positives): 2/3, as sklearn does.
  // AUPRC = (1/1 + 2/3 + 3/6) / 3 = 13/18; AUROC = (3 + (2 + 1/2) + (2 * 1/2)) / 9 = 13/18;
  // early precision: the top 3 are 0->1 and the whole tied block: 2/3.
  const std::vector<EdgeScore> scores = {{0, 1, 0.9}, {1, 2, 0.5}, {1, 0, 0.5},
                                         {0, 2, 0.2}, {2, 1, 0.2}, {2, 0, 0.2}};
  const RecoveryMetrics m = grn_recovery(scores, three_gene_truth, dense_candidates(3), 3);
  EXPECT_DOUBLE_EQ(m.auprc, 13.0 / 18.0);
  EXPECT_DOUBLE_EQ(m.auroc, 13.0 / 18.0);
  EXPECT_DOUBLE_EQ(m.early_precision, 2.0 / 3.0);
}

// Every ordered pair j != k of n genes, scored positive-first (perfect) or positive-last (reversed).
std::vector<EdgeScore> ordered_scores(int n, const Truth& truth, bool perfect) {
  std::set<std::pair<int, int>> true_pairs;
  for (const auto& edge : truth)
    true_pairs.insert({edge[0], edge[1]});
  std::vector<EdgeScore> scores;
  int counter = 0;
  for (int j = 0; j < n; ++j)
    for (int k = 0; k < n; ++k) {
      if (j == k) continue;
      const bool is_true = true_pairs.count({j, k}) != 0;
      const double value = (is_true == perfect ? 1000.0 : 0.0) + counter++; // distinct scores
      scores.push_back({j, k, value});
    }
  return scores;
}

TEST(GrnRecovery, PerfectRanking) {
  const Truth truth = {{0, 1, 1}, {1, 2, 1}, {2, 3, -1}, {3, 0, 1}, {0, 2, -1}};
  const RecoveryMetrics m = grn_recovery(ordered_scores(4, truth, true), truth, dense_candidates(4), 4);
  EXPECT_EQ(m.candidates, 12u);
  EXPECT_EQ(m.positives, 5u);
  EXPECT_DOUBLE_EQ(m.auprc, 1.0);
  EXPECT_DOUBLE_EQ(m.auroc, 1.0);
  EXPECT_DOUBLE_EQ(m.early_precision, 1.0);
  EXPECT_DOUBLE_EQ(m.auprc_ratio, 12.0 / 5.0);
}

TEST(GrnRecovery, PerfectRankingWithPositivesTied) {
  // One tied block of all positives above one of all negatives is still a perfect ranking.
  std::vector<EdgeScore> scores;
  for (int j = 0; j < 3; ++j)
    for (int k = 0; k < 3; ++k)
      if (j != k) scores.push_back({j, k, (k == (j + 1) % 3) ? 2.0 : 1.0});
  const RecoveryMetrics m = grn_recovery(scores, {{0, 1, 1}, {1, 2, 1}, {2, 0, 1}}, dense_candidates(3), 3);
  EXPECT_DOUBLE_EQ(m.auprc, 1.0);
  EXPECT_DOUBLE_EQ(m.auroc, 1.0);
  EXPECT_DOUBLE_EQ(m.early_precision, 1.0);
}

TEST(GrnRecovery, ReversedRanking) {
  // The P = 5 positives take the last ranks n-P+1..n of n = 12: AUPRC = (1/P) sum_i i / (n - P + i).
  const Truth truth = {{0, 1, 1}, {1, 2, 1}, {2, 3, -1}, {3, 0, 1}, {0, 2, -1}};
  const RecoveryMetrics m = grn_recovery(ordered_scores(4, truth, false), truth, dense_candidates(4), 4);
  double expected_auprc = 0.0;
  for (int i = 1; i <= 5; ++i)
    expected_auprc += i / (7.0 + i) / 5.0;
  EXPECT_DOUBLE_EQ(m.auroc, 0.0);
  EXPECT_DOUBLE_EQ(m.early_precision, 0.0);
  EXPECT_NEAR(m.auprc, expected_auprc, 1e-15);
}

TEST(GrnRecovery, AllTiedIsChance) {
  // One block: precision at its end is the density, every pair is a tie, the top k hold P/n positives each.
  const Truth truth = {{0, 1, 1}, {1, 2, 1}, {2, 3, -1}};
  for (const bool with_scores : {true, false}) {
    std::vector<EdgeScore> scores;
    if (with_scores)
      for (int j = 0; j < 4; ++j)
        for (int k = 0; k < 4; ++k)
          scores.push_back({j, k, 0.25}); // self edges ignored
    const RecoveryMetrics m = grn_recovery(scores, truth, dense_candidates(4), 4);
    EXPECT_DOUBLE_EQ(m.random_precision, 3.0 / 12.0);
    EXPECT_DOUBLE_EQ(m.auprc, 3.0 / 12.0);
    EXPECT_DOUBLE_EQ(m.auprc_ratio, 1.0);
    EXPECT_DOUBLE_EQ(m.auroc, 0.5);
    EXPECT_DOUBLE_EQ(m.early_precision, 3.0 / 12.0);
  }
}

TEST(GrnRecovery, SelfLoopsAreNeverRanked) {
  // A self loop is no candidate, its score and truth are ignored, even when listed as a candidate: the
  // ranking is 0 -> 1 (P) above 1 -> 0 (N) whatever the self loops score.
  const Truth truth = {{0, 0, 1}, {0, 1, 1}};
  const std::vector<EdgeScore> scores = {{0, 0, 5.0}, {0, 1, 4.0}, {1, 0, 3.0}, {1, 1, 2.0}};
  const std::vector<std::array<int, 2>> with_loops = {{0, 0}, {0, 1}, {1, 0}, {1, 1}};
  for (const auto& candidates : {dense_candidates(2), with_loops}) {
    const RecoveryMetrics m = grn_recovery(scores, truth, candidates, 2);
    EXPECT_EQ(m.candidates, 2u);
    EXPECT_EQ(m.positives, 1u);
    EXPECT_EQ(m.missed, 0u);
    EXPECT_DOUBLE_EQ(m.auprc, 1.0);
    EXPECT_DOUBLE_EQ(m.auroc, 1.0);
    EXPECT_DOUBLE_EQ(m.random_precision, 0.5);
  }
  EXPECT_EQ(dense_candidates(3).size(), 6u);
  for (const auto& c : dense_candidates(3))
    EXPECT_NE(c[0], c[1]);
  expect_throws_input_error(scores, {{1, 1, 1}}, 2, "no true edge");
}

TEST(GrnRecovery, RatioAgainstARandomOrderOfTheCandidates) {
  // 4 genes; the truth 0->1, 1->2, 2->3; a prior graph of 5 candidates holding all three and the decoys
  // 3->0, 0->2. Ranked 0->1 (P) 0.9, 3->0 (N) 0.8, 1->2 (P) 0.7, 2->3 (P) 0.6, 0->2 (N) 0.5 (and 1->3,
  // outside the graph, scored 1.0 but ignored): AUPRC = (1/1 + 2/3 + 3/4) / 3 = 29/36. The precision of a
  // random order of the candidates is 3/5 (the density over all 12 pairs, 1/4, would give a ratio of 3.22 and
  // let any order of this prior look good): ratio = (29/36) / (3/5) = 145/108. AUROC: (2 + 1 + 1) / 6 = 2/3;
  // early precision, top 3 = P N P: 2/3. Random order: (H_5/5 + 2 (5 - H_5)/20), H_5 = 137/60.
  const Truth truth = {{0, 1, 1}, {1, 2, -1}, {2, 3, 1}};
  const std::vector<std::array<int, 2>> prior = {{0, 1}, {1, 2}, {2, 3}, {3, 0}, {0, 2}};
  const std::vector<EdgeScore> scores = {{0, 1, 0.9}, {3, 0, 0.8}, {1, 2, 0.7},
                                         {2, 3, 0.6}, {0, 2, 0.5}, {1, 3, 1.0}};
  const RecoveryMetrics m = grn_recovery(scores, truth, prior, 4);
  EXPECT_EQ(m.candidates, 5u);
  EXPECT_EQ(m.positives, 3u);
  EXPECT_EQ(m.missed, 0u);
  EXPECT_DOUBLE_EQ(m.random_precision, 3.0 / 5.0);
  EXPECT_DOUBLE_EQ(m.auprc, 29.0 / 36.0);
  EXPECT_DOUBLE_EQ(m.auprc_ratio, 145.0 / 108.0);
  EXPECT_DOUBLE_EQ(m.auroc, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(m.early_precision, 2.0 / 3.0);
  const double h5 = 137.0 / 60.0;
  EXPECT_DOUBLE_EQ(m.random_auprc, h5 / 5.0 + 2.0 * (5.0 - h5) / 20.0);
  EXPECT_TRUE(std::isnan(m.sign_accuracy)); // unsigned scores
}

TEST(GrnRecovery, TrueEdgesOutsideTheCandidatesAreNeverRecalled) {
  // The prior misses the true 2->3: recall counts all 3 true edges, so the perfect order of the 3
  // candidates 0->1 (P), 1->2 (P), 0->2 (N) scores (1/1 + 2/2) / 3 = 2/3, not 1; random precision 2/3.
  const Truth truth = {{0, 1, 1}, {1, 2, 1}, {2, 3, 1}};
  const std::vector<std::array<int, 2>> prior = {{0, 1}, {1, 2}, {0, 2}};
  const RecoveryMetrics m = grn_recovery({{0, 1, 3.0}, {1, 2, 2.0}, {0, 2, 1.0}}, truth, prior, 4);
  EXPECT_EQ(m.positives, 2u);
  EXPECT_EQ(m.missed, 1u);
  EXPECT_DOUBLE_EQ(m.auprc, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(m.auprc_ratio, 1.0);
  EXPECT_DOUBLE_EQ(m.auroc, 1.0);
  // A random order: 2/3 of (H_3/3 + (3 - H_3)/6), H_3 = 11/6.
  EXPECT_DOUBLE_EQ(m.random_auprc, 2.0 / 3.0 * (11.0 / 18.0 + (3.0 - 11.0 / 6.0) / 6.0));
}

TEST(GrnRecovery, SignAccuracyOverTheTrueCandidates) {
  // True: 0->1 (+), 1->2 (-), 2->0 (+). Model signs: 0->1 +0.3 (right), 1->2 +2 (wrong), 2->0 unscored
  // (wrong); the decoy 1->0's sign does not count: 1/3.
  const std::vector<EdgeScore> scores = {{0, 1, 0.9, 0.3}, {1, 2, 0.8, 2.0}, {1, 0, 0.7, -1.0}};
  const RecoveryMetrics m = grn_recovery(scores, three_gene_truth, dense_candidates(3), 3, true);
  EXPECT_DOUBLE_EQ(m.sign_accuracy, 1.0 / 3.0);
  const std::vector<EdgeScore> right = {{0, 1, 0.1, 1.0}, {1, 2, 0.2, -1e-9}, {2, 0, 0.3, 5.0}};
  EXPECT_DOUBLE_EQ(grn_recovery(right, three_gene_truth, dense_candidates(3), 3, true).sign_accuracy, 1.0);
  const std::vector<EdgeScore> zero = {{0, 1, 0.1, 0.0}, {1, 2, 0.2, -1.0}, {2, 0, 0.3, 1.0}};
  EXPECT_DOUBLE_EQ(grn_recovery(zero, three_gene_truth, dense_candidates(3), 3, true).sign_accuracy,
                   2.0 / 3.0);
}

TEST(GrnRecovery, RepeatedTrueEdgeCountsOnce) {
  const Truth doubled = {{0, 1, 1}, {0, 1, -1}, {1, 2, -1}, {2, 0, 1}, {1, 2, -1}};
  const std::vector<EdgeScore> scores = {{0, 1, 0.9}, {1, 0, 0.8}, {1, 2, 0.7},
                                         {0, 2, 0.6}, {2, 1, 0.5}, {2, 0, 0.4}};
  const RecoveryMetrics m = grn_recovery(scores, doubled, dense_candidates(3), 3);
  EXPECT_EQ(m.positives, 3u);
  EXPECT_DOUBLE_EQ(m.auprc, 13.0 / 18.0);
}

TEST(GrnRecovery, MissingPairsEqualMinusInfinity) {
  const Truth truth = {{0, 1, 1}, {2, 3, 1}, {3, 1, -1}, {1, 0, 1}};
  std::vector<EdgeScore> partial = {{0, 1, 0.3}, {1, 2, 0.7}, {3, 1, 0.1}, {2, 0, 0.3}};
  std::vector<EdgeScore> full = partial;
  std::set<std::pair<int, int>> present;
  for (const auto& s : partial)
    present.insert({s.source, s.target});
  for (int j = 0; j < 4; ++j)
    for (int k = 0; k < 4; ++k)
      if (j != k && !present.count({j, k})) full.push_back({j, k, minus_inf});
  const RecoveryMetrics a = grn_recovery(partial, truth, dense_candidates(4), 4),
                        b = grn_recovery(full, truth, dense_candidates(4), 4);
  EXPECT_EQ(a.auprc, b.auprc);
  EXPECT_EQ(a.auroc, b.auroc);
  EXPECT_EQ(a.early_precision, b.early_precision);
  EXPECT_EQ(a.candidates, 12u);
}

TEST(GrnRecovery, InputErrors) {
  const std::vector<EdgeScore> scores = {{0, 1, 1.0}};
  expect_throws_input_error(scores, {{0, 3, 1}}, 3, "true edge 0 -> 3 names a gene outside [0, 3)");
  expect_throws_input_error(scores, {{-1, 2, 1}}, 3, "true edge -1 -> 2");
  expect_throws_input_error({{0, 5, 1.0}}, {{0, 1, 1}}, 3, "scored edge 0 -> 5");
  expect_throws_input_error({{0, 1, std::nan("")}}, {{0, 1, 1}}, 3, "has score NaN");
  expect_throws_input_error({{0, 1, 1.0}, {0, 1, 2.0}}, {{0, 1, 1}}, 3, "edge 0 -> 1 is scored twice");
  expect_throws_input_error(scores, {}, 3, "no true edge among the 6 candidate edges");
  expect_throws_input_error(scores, {{0, 1, 1}, {1, 0, -1}}, 2, "every one of the 2 candidate edges");
  expect_throws_input_error(scores, {{0, 1, 1}}, 0, "0 genes");
  expect_throws_input_error({}, {{0, 0, 1}}, 1, "no true edge among the 0 candidate edges");
}

// A random truth of exactly `positives` distinct edges j != k.
Truth random_truth(int n, std::size_t positives, std::mt19937_64& rng) {
  std::vector<std::array<int, 3>> all;
  for (int j = 0; j < n; ++j)
    for (int k = 0; k < n; ++k)
      if (j != k) all.push_back({j, k, (j + k) % 2 ? 1 : -1});
  std::shuffle(all.begin(), all.end(), rng);
  all.resize(positives);
  return all;
}

TEST(GrnRecovery, RandomScoresAreChance) {
  // 20 genes: n = 380 candidates, P = 40 true edges, scores uniform in [0, 1) (no ties), 200 draws.
  // Exact expectations under a uniformly random ranking (r_p the rank of positive p, E[1/r_p] = H_n/n,
  // E[[r_q < r_p]/r_p] = (n - H_n)/(n(n-1)) for q != p):
  //   AUROC 1/2;  early precision P/n;  AUPRC H_n/n + (P-1)(n - H_n)/(n(n-1)) = 0.1183 against a density of
  //   0.1053, i.e. an AUPRC ratio of 1.124: with few positives even chance sits a little above 1.
  // Tolerance: 4 standard errors of the 200-draw mean (from the sample variance; for AUROC the exact
  // variance (P+N+1)/(12PN) gives SE 0.0034), so a correct implementation fails about once in 16000 seeds;
  // the seeds are fixed, so the test is deterministic.
  const int n_genes = 20, draws = 200;
  const std::size_t positives = 40;
  const double n = 380.0, P = static_cast<double>(positives), N = n - P;
  double harmonic = 0.0;
  for (int i = 1; i <= 380; ++i)
    harmonic += 1.0 / i;
  const double expected_auprc = harmonic / n + (P - 1.0) * (n - harmonic) / (n * (n - 1.0));
  const double expected_ratio = expected_auprc / (P / n);

  std::vector<double> auroc, ratio, early;
  for (int seed = 0; seed < draws; ++seed) {
    std::mt19937_64 rng(1000 + seed);
    const Truth truth = random_truth(n_genes, positives, rng);
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    std::vector<EdgeScore> scores;
    for (int j = 0; j < n_genes; ++j)
      for (int k = 0; k < n_genes; ++k)
        if (j != k) scores.push_back({j, k, uniform(rng)});
    const RecoveryMetrics m = grn_recovery(scores, truth, dense_candidates(n_genes), n_genes);
    ASSERT_EQ(m.candidates, 380u);
    auroc.push_back(m.auroc);
    ratio.push_back(m.auprc_ratio);
    early.push_back(m.early_precision);
  }
  const auto mean_and_se = [](const std::vector<double>& values) {
    double mean = 0.0;
    for (double v : values)
      mean += v;
    mean /= static_cast<double>(values.size());
    double variance = 0.0;
    for (double v : values)
      variance += (v - mean) * (v - mean);
    variance /= static_cast<double>(values.size() - 1);
    return std::pair<double, double>{mean, std::sqrt(variance / static_cast<double>(values.size()))};
  };
  const auto [auroc_mean, auroc_se_sample] = mean_and_se(auroc);
  const double auroc_se = std::sqrt((P + N + 1.0) / (12.0 * P * N) / draws);
  EXPECT_NEAR(auroc_se_sample, auroc_se, 0.3 * auroc_se); // the spread itself is the Mann–Whitney one
  EXPECT_NEAR(auroc_mean, 0.5, 4.0 * auroc_se);
  const auto [ratio_mean, ratio_se] = mean_and_se(ratio);
  EXPECT_NEAR(ratio_mean, expected_ratio, 4.0 * ratio_se);
  EXPECT_NEAR(ratio_mean, 1.0, 0.2); // "about 1", the bias above included
  const auto [early_mean, early_se] = mean_and_se(early);
  EXPECT_NEAR(early_mean, P / n, 4.0 * early_se);
}

// --- An independent implementation, written from the definitions with no code in common. ---
struct BruteForce {
  double auprc, auroc, early_precision;
};

// `in_graph`: which ordered pairs j != k are candidates; true edges outside them count in AUPRC's recall.
BruteForce brute_force(const std::vector<EdgeScore>& scores, const Truth& truth, int n,
                       const std::set<std::pair<int, int>>& in_graph) {
  std::map<std::pair<int, int>, double> score_of;
  for (const auto& s : scores)
    score_of[{s.source, s.target}] = s.score;
  std::set<std::pair<int, int>> true_pairs;
  for (const auto& t : truth)
    if (t[0] != t[1]) true_pairs.insert({t[0], t[1]});
  const std::size_t all_true = true_pairs.size();
  std::vector<std::pair<double, bool>> all; // (score, is true edge)
  for (int j = 0; j < n; ++j)
    for (int k = 0; k < n; ++k) {
      if (j == k || !in_graph.count({j, k})) continue;
      const auto found = score_of.find({j, k});
      all.push_back({found == score_of.end() ? minus_inf : found->second, true_pairs.count({j, k}) != 0});
    }
  std::size_t P = 0;
  for (const auto& c : all)
    P += c.second ? 1 : 0;
  const std::size_t N = all.size() - P;

  // AUPRC: sort by decreasing score; each positive gets the precision at the last rank of its tied run.
  std::vector<std::pair<double, bool>> sorted = all;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  double auprc = 0.0;
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    if (!sorted[i].second) continue;
    std::size_t last = i;
    while (last + 1 < sorted.size() && sorted[last + 1].first == sorted[i].first)
      ++last;
    std::size_t hits = 0;
    for (std::size_t r = 0; r <= last; ++r)
      hits += sorted[r].second ? 1 : 0;
    auprc += static_cast<double>(hits) / static_cast<double>(last + 1) / static_cast<double>(all_true);
  }
  // AUROC: every positive/negative pair.
  double wins = 0.0;
  for (const auto& p : all)
    for (const auto& q : all)
      if (p.second && !q.second) wins += p.first > q.first ? 1.0 : p.first == q.first ? 0.5 : 0.0;
  // Early precision: each candidate's chance of being among the top k = P when ties are broken at random.
  double expected_hits = 0.0;
  for (const auto& c : all) {
    if (!c.second) continue;
    double greater = 0.0, equal = 0.0;
    for (const auto& d : all) {
      greater += d.first > c.first ? 1.0 : 0.0;
      equal += d.first == c.first ? 1.0 : 0.0;
    }
    expected_hits += std::clamp((static_cast<double>(P) - greater) / equal, 0.0, 1.0);
  }
  return {auprc, wins / (static_cast<double>(P) * static_cast<double>(N)),
          expected_hits / static_cast<double>(P)};
}

TEST(GrnRecovery, AgreesWithBruteForceOnRandomTiedInputs) {
  int checked = 0;
  for (int seed = 0; seed < 400; ++seed) {
    std::mt19937_64 rng(seed);
    const int n = 2 + static_cast<int>(rng() % 8);
    const bool dense = rng() % 2 == 0; // else a random candidate graph (self loops listed too: ignored)
    const int levels = 1 + static_cast<int>(rng() % 5); // few distinct scores: many ties
    Truth truth;
    std::vector<EdgeScore> scores;
    std::vector<std::array<int, 2>> candidates;
    std::set<std::pair<int, int>> in_graph;
    for (int j = 0; j < n; ++j)
      for (int k = 0; k < n; ++k) {
        if (rng() % 3 == 0) truth.push_back({j, k, rng() % 2 ? 1 : -1});
        if (rng() % 4 != 0)
          scores.push_back({j, k, static_cast<double>(rng() % levels) - 1.5}); // else missing
        if (dense ? j != k : rng() % 3 != 0) {
          candidates.push_back({j, k});
          if (j != k) in_graph.insert({j, k});
        }
      }
    std::shuffle(scores.begin(), scores.end(), rng);
    std::set<std::array<int, 2>> true_candidates;
    for (const auto& e : truth)
      if (in_graph.count({e[0], e[1]})) true_candidates.insert({e[0], e[1]});
    const std::size_t P = true_candidates.size();
    if (P == 0 || P == in_graph.size()) continue; // grn_recovery rejects these (tested above)
    const RecoveryMetrics m = grn_recovery(scores, truth, candidates, n);
    const BruteForce b = brute_force(scores, truth, n, in_graph);
    EXPECT_NEAR(m.auprc, b.auprc, 1e-12) << "seed " << seed;
    EXPECT_NEAR(m.auroc, b.auroc, 1e-12) << "seed " << seed;
    EXPECT_NEAR(m.early_precision, b.early_precision, 1e-12) << "seed " << seed;
    EXPECT_EQ(m.positives, P);
    EXPECT_EQ(m.candidates, in_graph.size());
    // The order of the scores and of the candidates never matters, not even in the last bit.
    std::vector<EdgeScore> reversed(scores.rbegin(), scores.rend());
    std::vector<std::array<int, 2>> reversed_candidates(candidates.rbegin(), candidates.rend());
    const RecoveryMetrics r = grn_recovery(reversed, truth, reversed_candidates, n);
    EXPECT_EQ(r.auprc, m.auprc);
    EXPECT_EQ(r.auroc, m.auroc);
    EXPECT_EQ(r.early_precision, m.early_precision);
    ++checked;
  }
  EXPECT_GT(checked, 300);
}

// --- metrics.json ---

// The number that follows "key": after position `from` in `json`.
double number_after(const std::string& json, std::size_t from, const std::string& key) {
  const std::string quoted = "\"" + key + "\": ";
  const std::size_t at = json.find(quoted, from);
  if (at == std::string::npos) {
    ADD_FAILURE() << "no " << quoted << " after position " << from << " in\n" << json;
    return std::nan("");
  }
  return std::stod(json.substr(at + quoted.size()));
}

TrainMetrics sample_metrics() {
  TrainMetrics metrics;
  const RecoveryMetrics ranked = grn_recovery({{0, 1, 0.9, 1.0}, {1, 0, 0.8}, {1, 2, 0.7, -1.0}, {0, 2, 0.6}},
                                              three_gene_truth, dense_candidates(3), 3, true);
  RecoveryMetrics odd = ranked;
  odd.auprc = 1.0 / 3.0;
  odd.sign_accuracy = std::nan(""); // unsigned: null
  metrics.types["epithelial"] = {ranked, odd, ranked};
  metrics.types["odd \"name\" \\ with\nnewline\x01"] = {odd, ranked, odd};
  metrics.lr = {{"Wnt", "Fzd", 0.25, 0.5, true}, {"Dll1", "Notch1", 0.125, 1e-300, false}};
  metrics.lr_scored = true;
  metrics.lr_model = ranked;
  metrics.lr_ridge = odd;
  metrics.mse = {0.064, 0.1, 0.013, 1.0 / 7.0, 4};
  metrics.ridge_lambda = 1e-3;
  metrics.ridge_selection = "validation";
  return metrics;
}

TEST(MetricsJson, KeysAndNumbersRoundTrip) {
  const TrainMetrics metrics = sample_metrics();
  const std::string json = metrics_json(metrics);
  EXPECT_EQ(json.front(), '{');
  EXPECT_EQ(json.substr(json.size() - 2), "}\n");
  for (const auto& [type, m] : metrics.types) {
    std::string escaped =
        type == "epithelial" ? "\"epithelial\": {" : "\"odd \\\"name\\\" \\\\ with\\nnewline\\u0001\": {";
    const std::size_t at = json.find(escaped);
    ASSERT_NE(at, std::string::npos) << escaped << " not in\n" << json;
    const std::size_t attention = json.find("\"attention\": ", at), ridge = json.find("\"ridge\": ", at),
                      random = json.find("\"random_order\": ", at);
    EXPECT_EQ(number_after(json, attention, "auprc"), m.model.auprc); // 17 digits: exact
    EXPECT_EQ(number_after(json, attention, "auprc_ratio"), m.model.auprc_ratio);
    EXPECT_EQ(number_after(json, attention, "auroc"), m.model.auroc);
    EXPECT_EQ(number_after(json, attention, "early_precision"), m.model.early_precision);
    EXPECT_EQ(number_after(json, attention, "positives"), static_cast<double>(m.model.positives));
    EXPECT_EQ(number_after(json, attention, "candidates"), static_cast<double>(m.model.candidates));
    EXPECT_EQ(number_after(json, ridge, "auprc"), m.ridge.auprc);
    EXPECT_EQ(number_after(json, random, "auprc"), m.model.random_auprc);
    EXPECT_EQ(number_after(json, random, "precision"), m.model.random_precision);
  }
  EXPECT_NE(json.find("\"sign_accuracy\": null"), std::string::npos);
  EXPECT_EQ(number_after(json, json.find("\"validation_mse\""), "relaxation"), 0.013);
  EXPECT_EQ(number_after(json, json.find("\"validation_mse\""), "ridge"), 1.0 / 7.0);
  EXPECT_EQ(number_after(json, json.find("\"Dll1\""), "ridge"), 1e-300);
  EXPECT_EQ(number_after(json, json.find("\"ridge\": {\"lambda\""), "lambda"), 1e-3);
}

TEST(MetricsJson, PythonParsesIt) {
  if (!std::filesystem::exists("/usr/bin/python3")) GTEST_SKIP() << "no /usr/bin/python3";
  const std::filesystem::path dir = std::filesystem::path(TESSERA_BINARY_DIR) / "tests" / "learn" / "tmp";
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "metrics.json").string();
  std::ofstream(path) << metrics_json(sample_metrics());
  TrainMetrics empty;
  empty.mse = {std::nan(""), std::nan(""), std::nan(""), std::nan(""), 0};
  std::ofstream(dir / "metrics_empty.json") << metrics_json(empty);
  // json.tool rejects anything that is not JSON; the script then checks the decoded names and fields.
  EXPECT_EQ(std::system(("/usr/bin/python3 -m json.tool " + path + " > /dev/null").c_str()), 0);
  const std::string check =
      "import json, sys; d = json.load(open(sys.argv[1])); "
      "assert sorted(d) == ['grn', 'lr_pairs', 'model_score', 'ridge', 'validation_mse'], sorted(d); "
      "assert d['model_score'] == 'attention'; "
      "g = d['grn']; assert sorted(g) == ['epithelial', 'odd \"name\" \\\\ with\\nnewline\\x01'], sorted(g); "
      "assert all(sorted(v) == ['attention', 'jacobian', 'random_order', 'ridge'] for v in g.values()); "
      "e = g['epithelial']['attention']; "
      "assert sorted(e) == sorted(['auprc', 'auprc_ratio', 'auroc', 'early_precision', 'sign_accuracy', "
      "'positives', 'candidates', 'missed']), sorted(e); "
      "assert e['positives'] == 3 and e['candidates'] == 6 and e['sign_accuracy'] == 2 / 3; "
      "assert d['lr_pairs']['scored'] and d['lr_pairs']['pairs'][0]['ligand'] == 'Wnt'; "
      "assert d['lr_pairs']['pairs'][0]['true'] and not d['lr_pairs']['pairs'][1]['true']; "
      "assert sorted(d['validation_mse']) == ['model', 'no_change', 'pairs', 'relaxation', 'ridge']; "
      "assert d['validation_mse']['pairs'] == 4 and d['ridge']['selection'] == 'validation'; "
      "z = json.load(open(sys.argv[2])); assert z['grn'] == {} and z['validation_mse']['model'] is None; "
      "assert z['lr_pairs'] == {'scored': False, 'pairs': []}, z";
  std::ofstream(dir / "check_metrics.py") << check << "\n";
  EXPECT_EQ(std::system(("/usr/bin/python3 " + (dir / "check_metrics.py").string() + " " + path + " " +
                         (dir / "metrics_empty.json").string())
                            .c_str()),
            0);
}

TEST(MetricsTable, ShowsTheModelBesideTheBaselines) {
  const TrainMetrics metrics = sample_metrics();
  const std::vector<std::string> lines = metrics_table(metrics);
  ASSERT_EQ(lines.size(), 6u); // heading, columns, 2 types, LR pairs, MSE
  EXPECT_NE(lines[1].find("attention"), std::string::npos);
  EXPECT_NE(lines[1].find("ridge"), std::string::npos);
  EXPECT_NE(lines[1].find("random order"), std::string::npos);
  // epithelial: 6 candidates, 3 true; attention AUPRC / ratio / sign accuracy, then the others.
  const RecoveryMetrics& m = metrics.types.at("epithelial").model;
  std::ostringstream expected;
  expected << std::fixed << std::setprecision(3) << m.auprc << " / " << std::setprecision(2) << m.auprc_ratio
           << " / 0.67";
  EXPECT_EQ(lines[2].rfind("  epithelial", 0), 0u) << lines[2];
  EXPECT_NE(lines[2].find(expected.str()), std::string::npos) << lines[2] << " lacks " << expected.str();
  EXPECT_NE(lines[4].find("LR pairs"), std::string::npos);
  EXPECT_EQ(lines[5], "one-step validation MSE over 4 pair(s): model 0.064, no change 0.1, relaxation 0.013, "
                      "ridge 0.143 (ridge lambda 0.001)");
  TrainMetrics none;
  EXPECT_EQ(metrics_table(none),
            std::vector<std::string>{"no validation MSE: train.val_fraction holds out no time point"});
}

} // namespace
} // namespace tessera
