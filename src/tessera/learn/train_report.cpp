#include "tessera/learn/train_report.hpp"

#include "tessera/core/error.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>

namespace tessera {

namespace {

// The ranking of one type's candidates, or nothing when it has no true or no false edge.
bool has_both_classes(const std::vector<std::array<int, 2>>& candidates,
                      const std::vector<std::array<int, 3>>& truth) {
  std::vector<std::array<int, 2>> true_pairs;
  for (const auto& t : truth)
    true_pairs.push_back({t[0], t[1]});
  std::sort(true_pairs.begin(), true_pairs.end());
  std::size_t positives = 0, total = 0;
  std::vector<std::array<int, 2>> seen = candidates;
  std::sort(seen.begin(), seen.end());
  seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
  for (const auto& c : seen) {
    if (c[0] == c[1]) continue;
    ++total;
    positives += std::binary_search(true_pairs.begin(), true_pairs.end(), c) ? 1 : 0;
  }
  return positives > 0 && positives < total;
}

// The ranking of a baseline that was not fitted: the candidates' counts, every figure NaN (null, "-").
RecoveryMetrics not_fitted(RecoveryMetrics like) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  like.auprc = like.auprc_ratio = like.auroc = like.early_precision = like.sign_accuracy = nan;
  return like;
}

} // namespace

TrainMetrics train_metrics(const LearnedGrn& grn, const DerivativeBaselines& baselines,
                           const TrajectoryDataset& dataset,
                           const std::vector<std::vector<std::vector<int>>>& candidates,
                           const std::vector<LigandReceptorPair>& pairs, double model_validation_mse) {
  TrainMetrics out;
  out.model_score = grn.has_attention ? "attention" : "effect";
  const int G = static_cast<int>(dataset.n_genes());
  for (std::size_t c = 0; c < dataset.cell_types.size(); ++c) {
    const std::string& name = dataset.cell_types[c];
    auto truth = dataset.truth_grn.find(name);
    if (truth == dataset.truth_grn.end()) truth = dataset.truth_grn.find("*");
    if (truth == dataset.truth_grn.end() || c >= candidates.size()) continue;
    std::vector<std::array<int, 2>> candidate_edges;
    for (int k = 0; k < G && static_cast<std::size_t>(k) < candidates[c].size(); ++k)
      for (const int j : candidates[c][static_cast<std::size_t>(k)])
        candidate_edges.push_back({j, k});
    if (!has_both_classes(candidate_edges, truth->second)) continue;

    std::vector<EdgeScore> model, jacobian, weight, ridge;
    if (c < grn.edges.size())
      for (const LearnedEdge& e : grn.edges[c]) {
        if (e.source == e.target) continue;
        // A family without attention ranks by the standardised effect, the mean |Jacobian| times sd(x_j) /
        // sd(dx_k/dt), in the coordinate the model reads x_j in (LearnedEdge::effect): a raw parameter is not
        // comparable across targets (sigmoid's W of a saturated target, hill's K of a slow one, have little
        // effect), its product with the target's gain is, and the ridge baseline's coefficients are
        // standardised the same way. The sign is the parameter's. Attention has no sign: the mean signed
        // Jacobian's. A NaN effect (a constant gene) ranks last.
        if (grn.has_attention)
          model.push_back({e.source, e.target, e.attention, e.jacobian_signed});
        else
          model.push_back({e.source, e.target,
                           std::isnan(e.effect) ? -std::numeric_limits<double>::infinity() : e.effect,
                           grn.has_weight ? e.weight : e.jacobian_signed});
        if (grn.has_weight) weight.push_back({e.source, e.target, std::fabs(e.weight), e.weight});
        jacobian.push_back({e.source, e.target, e.jacobian, e.jacobian_signed});
      }
    if (c < baselines.ridge.size())
      for (std::size_t k = 0; k < baselines.ridge[c].size(); ++k) {
        const DerivativeFit& fit = baselines.ridge[c][k];
        for (std::size_t a = 0; a < fit.regressors.size(); ++a)
          if (fit.regressors[a].kind == Regressor::regulator)
            ridge.push_back({fit.regressors[a].index, static_cast<int>(k), std::fabs(fit.standardised[a]),
                             fit.standardised[a]});
      }
    TypeRecovery& r = out.types[name];
    r.model = grn_recovery(model, truth->second, candidate_edges, G, true);
    r.has_weight = grn.has_weight;
    if (r.has_weight) r.weight = grn_recovery(weight, truth->second, candidate_edges, G, true);
    r.jacobian = grn_recovery(jacobian, truth->second, candidate_edges, G, true);
    r.ridge = baselines.ridge.empty() ? not_fitted(r.model)
                                      : grn_recovery(ridge, truth->second, candidate_edges, G, true);
  }

  // LR pairs: the model's mean attention over every (sender, receiver) combination, weighted by its edges,
  // or its largest |weight| over the receiver types; the ridge's largest |standardised coefficient| of the
  // pair's signal over the receiver types.
  std::map<std::array<int, 2>, std::array<double, 2>> model_sums; // (ligand, receptor) -> (sum, edges)
  for (const LearnedLrScore& s : grn.lr) {
    auto& sum = model_sums[{s.ligand, s.receptor}];
    if (!grn.has_attention) {
      sum[0] = std::max(sum[0], std::fabs(s.weight));
      sum[1] = 1.0;
    } else {
      sum[0] += s.attention * static_cast<double>(s.edges);
      sum[1] += static_cast<double>(s.edges);
    }
  }
  std::vector<EdgeScore> lr_model, lr_ridge;
  std::vector<std::array<int, 2>> lr_candidates;
  std::vector<std::array<int, 3>> lr_truth;
  const bool has_truth = !dataset.truth_grn.empty();
  if (has_truth)
    for (const auto& p : dataset.ligand_receptor)
      lr_truth.push_back({p[0], p[1], 1});
  for (std::size_t q = 0; q < pairs.size(); ++q) {
    LrPairScores scores;
    scores.ligand = dataset.genes[static_cast<std::size_t>(pairs[q].ligand)];
    scores.receptor = dataset.genes[static_cast<std::size_t>(pairs[q].receptor)];
    const auto sum = model_sums.find({pairs[q].ligand, pairs[q].receptor});
    scores.model = sum == model_sums.end() || sum->second[1] == 0.0 ? std::numeric_limits<double>::quiet_NaN()
                                                                    : sum->second[0] / sum->second[1];
    if (baselines.ridge.empty()) scores.ridge = std::numeric_limits<double>::quiet_NaN();
    for (const auto& per_type : baselines.ridge) {
      const DerivativeFit& fit = per_type[static_cast<std::size_t>(pairs[q].receptor)];
      for (std::size_t a = 0; a < fit.regressors.size(); ++a)
        if (fit.regressors[a].kind == Regressor::ligand && fit.regressors[a].index == static_cast<int>(q))
          scores.ridge = std::max(scores.ridge, std::fabs(fit.standardised[a]));
    }
    for (const auto& t : lr_truth)
      scores.is_true = scores.is_true || (t[0] == pairs[q].ligand && t[1] == pairs[q].receptor);
    out.lr.push_back(scores);
    lr_candidates.push_back({pairs[q].ligand, pairs[q].receptor});
    if (std::isfinite(scores.model)) lr_model.push_back({pairs[q].ligand, pairs[q].receptor, scores.model});
    if (std::isfinite(scores.ridge)) lr_ridge.push_back({pairs[q].ligand, pairs[q].receptor, scores.ridge});
  }
  if (has_truth && has_both_classes(lr_candidates, lr_truth)) {
    out.lr_scored = true;
    out.lr_model = grn_recovery(lr_model, lr_truth, lr_candidates, G);
    out.lr_ridge = baselines.ridge.empty() ? not_fitted(out.lr_model)
                                           : grn_recovery(lr_ridge, lr_truth, lr_candidates, G);
  }

  out.mse.model = model_validation_mse;
  out.mse.no_change = baselines.no_change_mse;
  out.mse.relaxation = baselines.relaxation_mse;
  out.mse.ridge = baselines.ridge_mse;
  out.mse.pairs = baselines.validation_pairs;
  out.ridge_lambda = baselines.lambda;
  out.ridge_selection = baselines.selection;
  return out;
}

double no_change_loss(const TrajectoryDataset& dataset, const std::vector<ObservationWindow>& windows) {
  const std::size_t N = dataset.n_cells(), G = dataset.n_genes();
  double sum = 0.0, values = 0.0;
  for (const ObservationWindow& w : windows)
    for (int j = w.start + 1; j <= w.end; ++j) {
      for (std::size_t i = 0; i < N; ++i)
        for (std::size_t g = 0; g < G; ++g) {
          const double d = dataset.x(static_cast<std::size_t>(j), i, g) -
                           dataset.x(static_cast<std::size_t>(w.start), i, g);
          sum += d * d;
        }
      values += static_cast<double>(N * G);
    }
  return values > 0.0 ? sum / values : std::numeric_limits<double>::quiet_NaN();
}

std::string write_train_metrics(const std::string& directory, const TrainMetrics& metrics) {
  const std::string path = (std::filesystem::path(directory) / "metrics.json").string();
  std::ofstream file(path);
  if (!file) throw runtime_error(path + ": cannot write");
  file << metrics_json(metrics);
  if (!file) throw runtime_error(path + ": write failed");
  return path;
}

} // namespace tessera
